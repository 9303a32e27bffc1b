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
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_consensus::NodeId;

use crate::config::{NeuronConfig, NodeConfig, PeerConfig};
use crate::genesis::{config_path, write_genesis, NodeAddresses};
use crate::http::SubmitResponse;
use crate::ingress::{unix_ms, SignedIngress};
use crate::node::Status;

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

/// The node processes of a running subnet.
pub struct LocalSubnet {
    /// The subnet's directory.
    pub dir: PathBuf,
    /// Each node's HTTP address, by id.
    pub http: Vec<SocketAddr>,
    children: Vec<Option<Child>>,
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
                    config.nodes.iter().try_for_each(PeerConfig::check)
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
        let mut subnet = LocalSubnet {
            dir: dir.to_path_buf(),
            http: Vec::new(),
            children: Vec::new(),
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
        let child = Command::new(program)
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

/// Turns a node's test hook on or off (`isolate` or `flood`).
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
fn summary(statuses: &[Option<Status>]) -> String {
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
        .map(|key| crate::certification::certificate::key_to_der(&key.public_key()))
        .map_err(|error| error.to_string())?;
    std::fs::write(&root_key_path, root_key)
        .map_err(|error| format!("{}: {error}", root_key_path.display()))?;
    eprintln!("{}", where_things_are(&subnet.http, &root_key_path));
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
    wait_until_warm(subnet, stop)?;
    let owner = crate::requests::client::Identity::new(ed25519_dalek::SigningKey::from_bytes(
        &rand::random(),
    ));
    let canister = crate::bench_calls::install_counter(subnet.http[0], &owner)?;
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
    let before = executed(subnet);
    let started = Instant::now();
    eprintln!(
        "offering {} update calls/s through the HTTP interface for {} s",
        rate, args.seconds
    );
    let until = started + Duration::from_secs(args.seconds);
    let accepted = crate::bench_calls::load(&subnet.http, &canister, rate, until, stop);
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
/// root key is, and how to point an agent at the subnet.
fn where_things_are(http: &[SocketAddr], root_key: &Path) -> String {
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
         (@dfinity/agent); ic-agent: Agent::builder().with_url(…) then fetch_root_key()",
        root_key.display(),
        http.first().map_or_else(String::new, ToString::to_string),
    );
    text
}

/// Waits until every node holds the ECDSA key and a full presignature
/// pool: the steady state of a subnet, after the start's key generation
/// and the pool's first fill.
fn wait_until_warm(
    subnet: &LocalSubnet,
    stop: &Arc<AtomicBool>,
) -> Result<crate::config::ChainKeyConfig, String> {
    let chain_key = crate::config::ChainKeyConfig::default();
    let deadline = Instant::now() + Duration::from_secs(180);
    eprintln!(
        "waiting for the ECDSA key and {} presignatures on every node",
        chain_key.presignature_pool
    );
    while !subnet.statuses().iter().all(|s| {
        s.as_ref()
            .is_some_and(|s| s.presignatures_ready >= chain_key.presignature_pool)
    }) {
        if Instant::now() > deadline || stop.load(Ordering::Relaxed) {
            return Err("the presignature pool did not fill".into());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(chain_key)
}

/// `--bench --sign`: signatures per second and latency from request to reply.
fn bench_sign(
    subnet: &mut LocalSubnet,
    args: &SubnetArgs,
    stop: &Arc<AtomicBool>,
) -> Result<(), String> {
    let chain_key = wait_until_warm(subnet, stop)?;
    let owner = crate::requests::client::Identity::new(ed25519_dalek::SigningKey::from_bytes(
        &rand::random(),
    ));
    let (canister, key) =
        crate::bench_sign::install_proxy(subnet.http[0], &owner, &chain_key.key_name)?;
    let rate = args.rate.unwrap_or(150);
    eprintln!("offering {rate} signing requests/s for {} s", args.seconds);
    let started = Instant::now();
    let until = started + Duration::from_secs(args.seconds);
    // The first seconds fill the pipeline: no reply yet, then a burst.
    let warm_up = (args.seconds / 6).min(5);
    let warm = started + Duration::from_secs(warm_up);
    let stats = crate::bench_sign::load(
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
        let text = where_things_are(&http, Path::new("/tmp/s/root_key.der"));
        for url in [
            "node 0: http://127.0.0.1:4100",
            "node 1: http://127.0.0.1:4200",
            "http://127.0.0.1:4200/status",
            "http://127.0.0.1:4100/metrics",
            "root key (DER): /tmp/s/root_key.der",
            "host: \"http://127.0.0.1:4100\"",
        ] {
            assert!(text.contains(url), "{url} missing from:\n{text}");
        }
    }
}
