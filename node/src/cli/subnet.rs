//! `chainkey subnet`: a local subnet of node processes on loopback.
//!
//! The first run writes a genesis (keys, the NIDKG beacon key, one
//! configuration per node on free loopback ports) into the directory;
//! later runs on the same directory resume from the nodes' stores. Each
//! node is a separate `chainkey node` process logging to its directory.
//! A status line shows height, finalized blocks/s, finalization latency,
//! ingress/s, verification batch sizes and the backend; Ctrl-C stops every
//! node cleanly (SIGTERM, then SIGKILL after 5 s).
//!
//! With `--bench`, a load generator submits signed ingress for a while and
//! the run ends with the throughput figures and their targets.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_node::api::Status;
use chainkey_node::config::{NeuronConfig, NodeConfig};
use chainkey_node::genesis::config_path;
use chainkey_node::ingress::{unix_ms, SignedIngress};
use chainkey_node::local_subnet::{prepare, submit, summary, wait_for_height, LocalSubnet};

/// Options of `chainkey subnet`.
#[derive(clap::Args, Debug, Clone)]
pub struct SubnetArgs {
    /// Number of nodes (a new directory only).
    #[arg(long, default_value_t = 4)]
    pub nodes: usize,
    /// Directory of the subnet (default: `chainkey-subnet-<nodes>` in the
    /// temp directory; with `--bench`, a new `chainkey-bench-<nodes>`).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Run the throughput benchmark (load generator) and stop. Without
    /// `--dir` it starts from a new subnet every time, so that runs compare
    /// (a resumed subnet carries the chain and the request statuses of the
    /// runs before).
    #[arg(long)]
    pub bench: bool,
    /// Seconds of load in `--bench`.
    #[arg(long, default_value_t = 30)]
    pub seconds: u64,
    /// Requests per second offered in `--bench` (default: 8,000 signed
    /// messages; 3,000 calls with `--calls`; 150 signing requests with `--sign`).
    #[arg(long)]
    pub rate: Option<u64>,
    /// With `--bench`: offer IC update calls through the HTTP interface
    /// (to a counter canister) instead of signed ingress messages.
    #[arg(long, conflicts_with = "sign")]
    pub calls: bool,
    /// With `--bench`: offer chain-key ECDSA signing requests (through a
    /// proxy canister calling `sign_with_ecdsa`) and time their replies.
    #[arg(long)]
    pub sign: bool,
    /// A neuron governing the subnet's membership, `PRINCIPAL:STAKE`
    /// (repeatable; a new directory only).
    #[arg(long = "neuron")]
    pub neurons: Vec<NeuronConfig>,
}

/// Runs `chainkey subnet`.
///
/// # Errors
/// When the subnet cannot start or a node fails.
pub fn run(args: &SubnetArgs) -> Result<(), String> {
    let dir = match &args.dir {
        Some(dir) => dir.clone(),
        None if args.bench => {
            let dir = std::env::temp_dir().join(format!("chainkey-bench-{}", args.nodes));
            match std::fs::remove_dir_all(&dir) {
                Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                    return Err(format!("{}: {error}", dir.display()))
                }
                _ => dir,
            }
        }
        None => std::env::temp_dir().join(format!("chainkey-subnet-{}", args.nodes)),
    };
    let configs = prepare(&dir, args.nodes, &args.neurons, false)?;
    let program = std::env::current_exe().map_err(|error| error.to_string())?;
    eprintln!(
        "chainkey subnet: {} nodes in {} (logs in node-*/node.log); Ctrl-C stops",
        args.nodes,
        dir.display()
    );
    let mut subnet = LocalSubnet::start(&program, &dir, &configs)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        let _ = std::thread::Builder::new()
            .name("ctrl-c".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a signal runtime");
                runtime.block_on(async {
                    let _ = tokio::signal::ctrl_c().await;
                });
                stop.store(true, Ordering::Relaxed);
            });
    }
    if args.bench {
        let result = if args.calls {
            bench_calls(&mut subnet, args, &stop)
        } else if args.sign {
            bench_sign(&mut subnet, args, &stop)
        } else {
            bench(&mut subnet, args, &stop)
        };
        subnet.stop();
        return result;
    }
    wait_for_height(&subnet, 1, Duration::from_secs(120))?;
    let root_key_path = dir.join("root_key.der");
    let root_key = NodeConfig::load(&configs[0])
        .and_then(|config| config.certification_key())
        .map(|key| chainkey_node::ic::certificate::key_to_der(&key.public_key()))
        .map_err(|error| error.to_string())?;
    std::fs::write(&root_key_path, &root_key)
        .map_err(|error| format!("{}: {error}", root_key_path.display()))?;
    eprintln!(
        "{}",
        where_things_are(&subnet.http, &root_key_path, &root_key)
    );
    let bar = indicatif::ProgressBar::new_spinner();
    let interactive = std::io::stderr().is_terminal();
    let mut last_print = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Some((id, how)) = subnet.exited() {
            bar.finish_and_clear();
            return Err(format!(
                "node {id} exited ({how}); see {}",
                config_path(&dir, id).with_file_name("node.log").display()
            ));
        }
        let line = summary(&subnet.statuses());
        if interactive {
            bar.set_message(line);
            bar.tick();
        } else if last_print.elapsed() > Duration::from_secs(5) {
            eprintln!("{line}");
            last_print = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    bar.finish_and_clear();
    eprintln!("stopping {} nodes", args.nodes);
    subnet.stop();
    Ok(())
}

/// Offers `rate` signed messages per second, spread over the nodes, from
/// two client threads until `until`; returns how many the nodes accepted.
pub fn load(http: &[SocketAddr], rate: u64, until: Instant) -> u64 {
    let accepted = Arc::new(AtomicU64::new(0));
    let threads = 2u64;
    let batch = 250u64;
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let accepted = Arc::clone(&accepted);
            let http = http.to_vec();
            std::thread::spawn(move || {
                let key = ed25519_dalek::SigningKey::from_bytes(&rand::random());
                let interval = Duration::from_secs_f64(batch as f64 * threads as f64 / rate as f64);
                let mut next = Instant::now();
                let mut nonce = 0u64;
                let mut target = thread as usize;
                while Instant::now() < until {
                    let expiry = unix_ms() + 120_000;
                    let messages: Vec<SignedIngress> = (0..batch)
                        .map(|_| {
                            nonce += 1;
                            SignedIngress::sign_ed25519(
                                &key,
                                nonce,
                                expiry,
                                nonce.to_be_bytes().to_vec(),
                            )
                        })
                        .collect();
                    target = (target + 1) % http.len();
                    if let Ok(response) = submit(http[target], &messages) {
                        accepted.fetch_add(response.accepted as u64, Ordering::Relaxed);
                    }
                    next += interval;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    accepted.load(Ordering::Relaxed)
}

fn bench_calls(
    subnet: &mut LocalSubnet,
    args: &SubnetArgs,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    if args.seconds > super::bench::calls::MAX_WINDOW_SECONDS {
        return Err(format!(
            "--calls runs at most {} s: its calls are signed before the window and expire",
            super::bench::calls::MAX_WINDOW_SECONDS
        ));
    }
    wait_until_warm(subnet, stop)?;
    let owner = chainkey_node::ic::client::Identity::new(ed25519_dalek::SigningKey::from_bytes(
        &rand::random(),
    ));
    let canister = super::bench::calls::install_counter(subnet.http[0], &owner)?;
    let rate = args.rate.unwrap_or(3000);
    let executed = |subnet: &LocalSubnet| -> Vec<(u64, u64)> {
        subnet
            .statuses()
            .iter()
            .map(|s| {
                s.as_ref()
                    .map_or((0, 0), |s| (s.ingress_finalized, s.calls_executed))
            })
            .collect()
    };
    eprintln!(
        "signing {} calls, then offering {rate} update calls/s through the HTTP interface for {} s",
        rate * args.seconds,
        args.seconds
    );
    let calls = super::bench::calls::sign_calls(&canister, rate, args.seconds);
    let before = executed(subnet);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    let accepted = super::bench::calls::load(&subnet.http, calls, rate, until, stop);
    let elapsed = started.elapsed().as_secs_f64();
    let after = executed(subnet);
    if stop.load(Ordering::Relaxed) {
        return Err("interrupted".into());
    }
    // Every node executes every call: the slowest node's count is the subnet's.
    let slowest = |pick: fn(&(u64, u64)) -> u64| {
        before
            .iter()
            .zip(&after)
            .map(|(b, a)| pick(a).saturating_sub(pick(b)))
            .min()
            .unwrap_or(0) as f64
            / elapsed
    };
    let finalized = slowest(|(finalized, _)| *finalized);
    let rate = slowest(|(_, executed)| *executed);
    let statuses: Vec<Status> = subnet.statuses().into_iter().flatten().collect();
    let lag = statuses
        .iter()
        .map(|s| s.executed_height.saturating_sub(s.certified_height))
        .max()
        .unwrap_or(0);
    println!(
        "\n{} nodes on loopback, {elapsed:.0} s of load ({accepted} calls accepted, 202); \
         calls finalized/s: {finalized:.0}",
        statuses.len()
    );
    println!(
        "Target: [{}] update calls executed/s (slowest node): {rate:.0} (≥ 2000); certification lag at the end: {lag} heights",
        if rate >= 2000.0 { "PASS" } else { "FAIL" }
    );
    Ok(())
}

/// What a user of a running subnet needs: each node's URLs, where the
/// root key is, how to point an agent at the subnet, and the network of
/// an `icp.yaml` for icp-cli (the root key `root_key_der` given, so that
/// icp trusts this subnet without fetching its key every time).
fn where_things_are(http: &[SocketAddr], root_key: &Path, root_key_der: &[u8]) -> String {
    let mut text = String::from("nodes up:\n");
    for (id, address) in http.iter().enumerate() {
        text += &format!(
            "  node {id}: http://{address}  (IC API /api/v2 and /api/v3, status \
             http://{address}/status, metrics http://{address}/metrics)\n"
        );
    }
    text += &format!(
        "  root key (DER): {} — also served at /api/v2/status\n  \
         agent: HttpAgent.create({{ host: \"http://{}\", shouldFetchRootKey: true }}) \
         (@dfinity/agent); ic-agent: Agent::builder().with_url(…) then fetch_root_key()\n",
        root_key.display(),
        http.first().map_or_else(String::new, ToString::to_string),
    );
    let key = match root_key_der.is_empty() {
        true => "fetch".to_string(),
        false => hex::encode(root_key_der),
    };
    text += &format!(
        "  icp-cli: paste into your project's icp.yaml, then `icp deploy` (every identity \
         starts with 1,000 T cycles and 1,000,000 ICP here)\n\
         \x20   networks:\n\
         \x20     - name: local\n\
         \x20       mode: connected\n\
         \x20       url: http://{}\n\
         \x20       root-key: {key}",
        http.first().map_or_else(String::new, ToString::to_string),
    );
    text
}

/// Waits until every node holds the ECDSA key and its first presignature
/// pool: the steady state of a subnet, after the start's key generation
/// and the pool's first fill (a signing load grows the pool from there).
fn wait_until_warm(
    subnet: &LocalSubnet,
    stop: &Arc<AtomicBool>,
) -> Result<chainkey_node::config::ChainKeyConfig, String> {
    let chain_key = chainkey_node::config::ChainKeyConfig::default();
    let first_pool = chain_key
        .first_presignature_pool
        .min(chain_key.presignature_pool);
    eprintln!("waiting for the ECDSA key and {first_pool} presignatures on every node");
    wait_for_presignatures(subnet, stop, first_pool)?;
    Ok(chain_key)
}

/// Waits until every node holds `count` presignatures ready.
fn wait_for_presignatures(
    subnet: &LocalSubnet,
    stop: &Arc<AtomicBool>,
    count: usize,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !subnet
        .statuses()
        .iter()
        .all(|s| s.as_ref().is_some_and(|s| s.presignatures_ready >= count))
    {
        if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
            return Err("the presignature pool did not fill".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

/// `--bench --sign`: signatures per second and latency from request to reply.
fn bench_sign(
    subnet: &mut LocalSubnet,
    args: &SubnetArgs,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    let chain_key = wait_until_warm(subnet, stop)?;
    let owner = chainkey_node::ic::client::Identity::new(ed25519_dalek::SigningKey::from_bytes(
        &rand::random(),
    ));
    let (canister, key) =
        super::bench::sign::install_proxy(subnet.http[0], &owner, &chain_key.key_name)?;
    let rate = args.rate.unwrap_or(150);
    // A signing subnet's steady state: the pool grown to its most by use
    // (it starts small, and each signature grows it by one).
    let grow = chain_key
        .presignature_pool
        .saturating_sub(chain_key.first_presignature_pool);
    eprintln!("growing the presignature pool: {grow} signatures, then a full pool on every node");
    let growing = Instant::now() + Duration::from_secs_f64(grow as f64 / rate as f64 + 1.0);
    super::bench::sign::load(
        &subnet.http,
        &canister,
        &key,
        &chain_key.key_name,
        rate,
        growing,
        growing,
        stop,
    );
    wait_for_presignatures(subnet, stop, chain_key.presignature_pool)?;
    eprintln!("offering {rate} signing requests/s for {} s", args.seconds);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    // The first seconds fill the pipeline: no reply yet, then a burst.
    let warm_up = (args.seconds / 6).min(5);
    let warm = started + Duration::from_secs(warm_up);
    let stats = super::bench::sign::load(
        &subnet.http,
        &canister,
        &key,
        &chain_key.key_name,
        rate,
        warm,
        until,
        stop,
    );
    if stop.load(Ordering::Relaxed) {
        return Err("interrupted".into());
    }
    let latencies = &stats.latencies;
    let percentile = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p).round() as usize)
            .copied()
            .unwrap_or(f64::INFINITY)
    };
    let steady_seconds = (args.seconds - warm_up).max(1);
    let per_second = stats.steady as f64 / steady_seconds as f64;
    let (p50, p99) = (percentile(0.5), percentile(0.99));
    println!(
        "\n{} nodes on loopback, {} s of load: {} signatures returned and verified ({} in the {steady_seconds} s after a {warm_up} s warm-up), {} failed{}",
        subnet.http.len(),
        args.seconds,
        stats.returned,
        stats.steady,
        stats.failed,
        stats
            .failure
            .as_ref()
            .map(|why| format!(" (e.g. {why})"))
            .unwrap_or_default()
    );
    println!(
        "latency from request to reply (requests sent after the warm-up): p50 {:.0} ms, p99 {:.0} ms",
        p50 * 1e3,
        p99 * 1e3
    );
    let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "Target: [{}] signatures/s: {per_second:.0} (≥ 100)",
        pass(per_second >= 100.0)
    );
    println!(
        "Target: [{}] p50 latency: {:.0} ms (≤ 1000 ms)",
        pass(p50 <= 1.0),
        p50 * 1e3
    );
    Ok(())
}

fn bench(subnet: &mut LocalSubnet, args: &SubnetArgs, stop: &AtomicBool) -> Result<(), String> {
    wait_for_height(subnet, 5, Duration::from_secs(60))?;
    let before: Vec<Status> = subnet.statuses().into_iter().flatten().collect();
    let started = Instant::now();
    let rate = args.rate.unwrap_or(8000);
    eprintln!(
        "offering {rate} signed ingress messages/s for {} s",
        args.seconds
    );
    let accepted = load(
        &subnet.http,
        rate,
        started + Duration::from_secs(args.seconds),
    );
    if stop.load(Ordering::Relaxed) {
        return Err("interrupted".into());
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after: Vec<Status> = subnet.statuses().into_iter().flatten().collect();
    let (Some(first), Some(last)) = (before.first(), after.first()) else {
        return Err("no node answers".into());
    };
    let blocks = (last.finalized_height - first.finalized_height) as f64 / elapsed;
    let ingress = (last.ingress_finalized - first.ingress_finalized) as f64 / elapsed;
    let p50 = after.iter().map(|s| s.latency_p50_ms).sum::<f64>() / after.len() as f64;
    let p99 = after.iter().map(|s| s.latency_p99_ms).sum::<f64>() / after.len() as f64;
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "\n{} nodes on loopback, {elapsed:.0} s of load ({accepted} messages accepted)",
        after.len()
    );
    println!(
        "Target: [{}] finalized blocks/s: {blocks:.1} (≥ 10)",
        verdict(blocks >= 10.0)
    );
    println!(
        "Target: [{}] finalization latency p50: {p50:.0} ms (≤ 150 ms); p99: {p99:.0} ms",
        verdict(p50 <= 150.0)
    );
    println!(
        "Target: [{}] signed ingress messages finalized/s: {ingress:.0} (≥ 5000)",
        verdict(ingress >= 5000.0)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_is_told_each_nodes_urls_and_where_the_root_key_is() {
        let http: Vec<SocketAddr> = vec![
            "127.0.0.1:4100".parse().unwrap(),
            "127.0.0.1:4200".parse().unwrap(),
        ];
        let text = where_things_are(&http, Path::new("/tmp/s/root_key.der"), &[0x30, 0x81]);
        for url in [
            "node 0: http://127.0.0.1:4100",
            "node 1: http://127.0.0.1:4200",
            "http://127.0.0.1:4200/status",
            "http://127.0.0.1:4100/metrics",
            "root key (DER): /tmp/s/root_key.der",
            "host: \"http://127.0.0.1:4100\"",
            "      mode: connected\n        url: http://127.0.0.1:4100\n        root-key: 3081",
        ] {
            assert!(text.contains(url), "{url} missing from:\n{text}");
        }
    }
}
