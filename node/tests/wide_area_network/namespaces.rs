//! One network namespace per node, each joined to this one by a veth
//! pair: the node's address inside is 10.77.<id>.2, the relay's outside
//! 10.77.<id>.1 (`relay::private_address`, `relay::public_address`), and
//! every packet a node sends leaves through the relay's side.

use std::process::Command;

/// The namespaces; dropping them deletes them (and their veth pairs).
pub struct Namespaces {
    count: usize,
}

fn namespace(id: usize) -> String {
    format!("chainkey-wan-{id}")
}

/// The veth end in this namespace (at most 15 characters).
fn outside(id: usize) -> String {
    format!("ckwan{id}")
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|error| format!("ip {}: {error} (install iproute2)", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Namespaces {
    /// Creates `count` namespaces, first removing any a killed run left.
    ///
    /// # Errors
    /// When `ip` fails (it needs root).
    pub fn create(count: usize) -> Result<Namespaces, String> {
        for id in 0..count {
            let _ = ip(&["netns", "delete", &namespace(id)]);
            let _ = ip(&["link", "delete", &outside(id)]);
        }
        let namespaces = Namespaces { count };
        for id in 0..count {
            let (name, outside) = (namespace(id), outside(id));
            let inside = format!("{outside}n");
            ip(&["netns", "add", &name])?;
            ip(&[
                "link", "add", &outside, "type", "veth", "peer", "name", &inside, "netns", &name,
            ])?;
            ip(&[
                "address",
                "add",
                &format!("10.77.{id}.1/24"),
                "dev",
                &outside,
            ])?;
            ip(&["link", "set", &outside, "up"])?;
            ip(&[
                "-n",
                &name,
                "address",
                "add",
                &format!("10.77.{id}.2/24"),
                "dev",
                &inside,
            ])?;
            ip(&["-n", &name, "link", "set", &inside, "up"])?;
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
            ip(&[
                "-n",
                &name,
                "route",
                "add",
                "default",
                "via",
                &format!("10.77.{id}.1"),
            ])?;
        }
        Ok(namespaces)
    }
}

/// The command that runs a node's process inside node `id`'s namespace
/// (for [`LocalSubnet::start_wrapped`](chainkey_node::local_subnet::LocalSubnet::start_wrapped)).
pub fn wrapper(id: u32) -> Vec<String> {
    ["ip", "netns", "exec", &namespace(id as usize)]
        .map(String::from)
        .to_vec()
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for id in 0..self.count {
            let _ = ip(&["netns", "delete", &namespace(id)]);
        }
    }
}
