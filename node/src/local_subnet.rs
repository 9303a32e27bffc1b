//! A subnet of `chainkey node` processes on this machine: its genesis,
//! starting and stopping the processes, and the HTTP calls a tool or a
//! test makes to them (`/status`, submitting ingress, test hooks).
//!
//! `chainkey subnet` runs one for a user; the integration tests run one
//! per test.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chainkey_consensus::{Hash, Height, NodeId};

use crate::api::Status;
use crate::api::SubmitResponse;
use crate::config::NeuronConfig;
use crate::genesis::{config_path, write_genesis, NodeAddresses};
use crate::ingress::SignedIngress;
use crate::registry::NodeRecord;
use crate::store::Store;

/// The node processes of a running subnet.
pub struct LocalSubnet {
    /// The subnet's directory.
    pub dir: PathBuf,
    /// Each node's HTTP address, by id.
    pub http: Vec<SocketAddr>,
    children: Vec<Option<Child>>,
    /// The command each node's process runs inside, if any (words, by
    /// node id): a test runs nodes in network namespaces with `ip netns
    /// exec <name>`.
    wrapper: Option<fn(NodeId) -> Vec<String>>,
}

/// Free loopback addresses, two per node (peers, HTTP).
fn free_addresses(nodes: usize) -> Result<Vec<NodeAddresses>, String> {
    let listeners: Vec<TcpListener> = (0..2 * nodes)
        .map(|_| TcpListener::bind("127.0.0.1:0").map_err(|error| error.to_string()))
        .collect::<Result<_, _>>()?;
    let addresses: Vec<SocketAddr> = listeners
        .iter()
        .map(|listener| listener.local_addr().map_err(|error| error.to_string()))
        .collect::<Result<_, _>>()?;
    Ok(addresses
        .chunks(2)
        .map(|pair| NodeAddresses {
            p2p: pair[0],
            http: pair[1],
        })
        .collect())
}

/// Creates a subnet's genesis in `dir` (governed by `neurons`) unless one
/// is there; returns the node configuration paths.
///
/// # Errors
/// When the directory holds a subnet of another size, or genesis fails.
pub fn prepare(
    dir: &Path,
    nodes: usize,
    neurons: &[NeuronConfig],
    test_hooks: bool,
) -> Result<Vec<PathBuf>, String> {
    if config_path(dir, 0).exists() {
        let existing = (0..)
            .take_while(|&id| config_path(dir, id).exists())
            .count();
        if existing != nodes {
            return Err(format!(
                "{} holds a subnet of {existing} nodes, not {nodes}",
                dir.display()
            ));
        }
        let paths: Vec<PathBuf> = (0..nodes as NodeId)
            .map(|id| config_path(dir, id))
            .collect();
        for path in &paths {
            crate::config::NodeConfig::load(path)
                .and_then(|config| {
                    config.load_secrets()?;
                    Ok(config.nodes.iter().try_for_each(NodeRecord::check)?)
                })
                .map_err(|error| {
                    format!(
                        "{} holds a subnet this chainkey cannot resume (made by an older \
                         version?): {error}; delete it or choose another --dir",
                        dir.display()
                    )
                })?;
        }
        return Ok(paths);
    }
    let addresses = free_addresses(nodes)?;
    let paths = write_genesis(
        dir,
        &addresses,
        neurons,
        test_hooks,
        &mut rand::thread_rng(),
    )
    .map_err(|e| e.to_string())?;
    // The nodes share this machine's cores: idle verification threads
    // spinning in every node would take them from the others.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    for path in &paths {
        let mut config = crate::config::NodeConfig::load(path).map_err(|e| e.to_string())?;
        config.verify_threads = (cores / nodes).max(1);
        // A local development subnet mints cycles for anyone, as dfx and
        // PocketIC do.
        config.cycles.provisional = true;
        // The nodes share the cores: each round gets the node's share of
        // the budget a node with a core of its own would have.
        let budget = crate::config::ExecutionConfig::default().round_instructions;
        config.execution.round_instructions =
            (budget * cores as u64 / nodes as u64).clamp(1_000_000, budget);
        config.data_dir = "data".into();
        config.secrets = "secrets.toml".into();
        config.save(path).map_err(|e| e.to_string())?;
    }
    Ok(paths)
}

impl LocalSubnet {
    /// Starts `chainkey node` for every configuration in `dir`.
    ///
    /// # Errors
    /// When a configuration cannot be read or a process cannot start.
    pub fn start(program: &Path, dir: &Path, configs: &[PathBuf]) -> Result<Self, String> {
        Self::start_wrapped(program, dir, configs, None)
    }

    /// [`LocalSubnet::start`], each node's process run inside the command
    /// `wrapper(id)` when given.
    ///
    /// # Errors
    /// When a configuration cannot be read or a process cannot start.
    pub fn start_wrapped(
        program: &Path,
        dir: &Path,
        configs: &[PathBuf],
        wrapper: Option<fn(NodeId) -> Vec<String>>,
    ) -> Result<Self, String> {
        let mut subnet = LocalSubnet {
            dir: dir.to_path_buf(),
            http: Vec::new(),
            children: Vec::new(),
            wrapper,
        };
        for path in configs {
            let config = crate::config::NodeConfig::load(path).map_err(|e| e.to_string())?;
            subnet.http.push(config.http);
            subnet.children.push(None);
        }
        for id in 0..configs.len() {
            subnet.start_node(program, id as NodeId)?;
        }
        Ok(subnet)
    }

    /// Starts a node joining the subnet, from its configuration at `path`
    /// (made by [`crate::genesis::write_joining_node`]).
    ///
    /// # Errors
    /// When its configuration cannot be read or the process cannot start.
    pub fn add_node(&mut self, program: &Path, path: &Path) -> Result<NodeId, String> {
        let config = crate::config::NodeConfig::load(path).map_err(|e| e.to_string())?;
        if config.id as usize != self.children.len() {
            return Err(format!("node {} is not the next node", config.id));
        }
        self.http.push(config.http);
        self.children.push(None);
        self.start_node(program, config.id)?;
        Ok(config.id)
    }

    /// (Re)starts node `id`'s process.
    ///
    /// # Errors
    /// When the process cannot start.
    pub fn start_node(&mut self, program: &Path, id: NodeId) -> Result<(), String> {
        let path = config_path(&self.dir, id);
        let log_path = path.with_file_name("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|error| format!("{}: {error}", log_path.display()))?;
        let mut command = match self.wrapper.map(|wrapper| wrapper(id)) {
            Some(words) if !words.is_empty() => {
                let mut command = Command::new(&words[0]);
                command.args(&words[1..]).arg(program);
                command
            }
            _ => Command::new(program),
        };
        let child = command
            .arg("node")
            .arg("--config")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|error| error.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|error| format!("starting node {id}: {error}"))?;
        self.children[id as usize] = Some(child);
        Ok(())
    }

    /// Kills node `id` with SIGKILL (a crash).
    pub fn kill_node(&mut self, id: NodeId) {
        if let Some(mut child) = self.children[id as usize].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Each running node's process id.
    pub fn pids(&self) -> Vec<u32> {
        self.children
            .iter()
            .flatten()
            .map(|child| child.id())
            .collect()
    }

    /// Each node's status, `None` where it does not answer.
    pub fn statuses(&self) -> Vec<Option<Status>> {
        self.http.iter().map(|address| status(*address)).collect()
    }

    /// A node that exited by itself, with how.
    pub fn exited(&mut self) -> Option<(NodeId, String)> {
        self.children
            .iter_mut()
            .enumerate()
            .find_map(|(id, child)| {
                let status = child.as_mut()?.try_wait().ok()??;
                Some((id as NodeId, status.to_string()))
            })
    }

    /// Stops every node: SIGTERM, then SIGKILL for any still running after 5 s.
    pub fn stop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        for child in self.children.iter().flatten() {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in self.children.iter_mut() {
            if let Some(mut running) = child.take() {
                while Instant::now() < deadline && matches!(running.try_wait(), Ok(None)) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                let _ = running.kill();
                let _ = running.wait();
            }
        }
    }
}

impl Drop for LocalSubnet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Every node's stored chain (the subnet in `dir` must be stopped: a
/// store is open in one process at a time), checked gap-free from height
/// 1 and the same as every other node's wherever they overlap.
///
/// # Errors
/// A store that cannot be read, a gap, or two nodes that finalized
/// different blocks at one height.
pub fn stored_chains_agree(
    dir: &Path,
    nodes: usize,
) -> Result<Vec<BTreeMap<Height, Hash>>, String> {
    let chains = (0..nodes as NodeId)
        .map(|id| {
            let data = config_path(dir, id).with_file_name("data");
            Store::open(&data)
                .and_then(|store| store.chain())
                .map_err(|error| format!("node {id}'s store: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for (id, chain) in chains.iter().enumerate() {
        let top = chain.keys().next_back().copied().unwrap_or(0);
        if chain.len() as u64 != top {
            return Err(format!("node {id}'s chain has gaps below {top}"));
        }
    }
    let common = chains.iter().map(BTreeMap::len).min().unwrap_or(0) as Height;
    for height in 1..=common {
        if chains
            .iter()
            .any(|chain| chain[&height] != chains[0][&height])
        {
            return Err(format!(
                "the nodes finalized different blocks at height {height}"
            ));
        }
    }
    Ok(chains)
}

/// A node's `/status`, or `None` if it does not answer.
pub fn status(address: SocketAddr) -> Option<Status> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_millis(500)))
        .build()
        .into();
    agent
        .get(format!("http://{address}/status"))
        .call()
        .ok()?
        .body_mut()
        .read_json()
        .ok()
}

/// Submits signed messages to a node.
///
/// # Errors
/// When the node does not answer or refuses the request.
pub fn submit(address: SocketAddr, messages: &[SignedIngress]) -> Result<SubmitResponse, String> {
    let mut body = Vec::new();
    ciborium::into_writer(messages, &mut body).map_err(|error| error.to_string())?;
    ureq::post(format!("http://{address}/api/v1/ingress"))
        .header("content-type", "application/cbor")
        .send(&body[..])
        .map_err(|error| error.to_string())?
        .body_mut()
        .read_json()
        .map_err(|error| error.to_string())
}

/// Turns a node's test hook on or off (`isolate`, `byzantine` or
/// `corrupt_chain_key`).
///
/// # Errors
/// When the node does not answer or has no test hooks.
pub fn test_hook(address: SocketAddr, hook: &str, on: bool) -> Result<(), String> {
    let state = if on { "on" } else { "off" };
    ureq::post(format!("http://{address}/debug/{hook}/{state}"))
        .send_empty()
        .map(|_| ())
        .map_err(|error| error.to_string())
}

/// One line summarizing the subnet.
pub fn summary(statuses: &[Option<Status>]) -> String {
    let up: Vec<&Status> = statuses.iter().flatten().collect();
    let Some(first) = up.first() else {
        return format!("0/{} nodes up", statuses.len());
    };
    let height = up.iter().map(|s| s.finalized_height).min().unwrap_or(0);
    let mean = |f: fn(&Status) -> f64| up.iter().map(|s| f(s)).sum::<f64>() / up.len() as f64;
    format!(
        "height {height} | {:.1} blocks/s | latency p50 {:.0} ms, p99 {:.0} ms | ingress {:.0}/s | batch {:.1} | {} | {}/{} nodes up",
        mean(|s| s.blocks_per_second),
        mean(|s| s.latency_p50_ms),
        mean(|s| s.latency_p99_ms),
        mean(|s| s.ingress_per_second),
        mean(|s| s.mean_batch),
        first.backend,
        up.len(),
        statuses.len()
    )
}

/// Waits until every node has finalized `height`, or fails after `timeout`.
///
/// # Errors
/// On timeout, with the nodes' statuses.
pub fn wait_for_height(subnet: &LocalSubnet, height: u64, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let statuses = subnet.statuses();
        if statuses
            .iter()
            .all(|s| s.as_ref().is_some_and(|s| s.finalized_height >= height))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "height {height} not reached: {}",
                summary(&statuses)
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}
