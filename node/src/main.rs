//! The `chainkey` command line.

mod cli;

use std::path::PathBuf;

use chainkey_node::config::NodeConfig;
use chainkey_node::genesis::{write_genesis, NodeAddresses};
use clap::{Parser, Subcommand};
use cli::bench;
use cli::subnet::SubnetArgs;
use tracing_subscriber::EnvFilter;

/// chainkey: a high-throughput chain-key cryptography engine and subnet node.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a local subnet: one `chainkey node` process per node on loopback, with a live status line.
    Subnet(SubnetArgs),
    /// Run one node of a subnet.
    Node {
        /// The node's configuration (`node.toml` from `chainkey genesis`).
        #[arg(long)]
        config: PathBuf,
    },
    /// Write the keys and configurations of a new multi-host subnet.
    Genesis {
        /// Every node's peer address (host:port), in node-id order; its
        /// HTTP endpoint listens on the next port.
        #[arg(long, value_delimiter = ',', required = true)]
        nodes: Vec<std::net::SocketAddr>,
        /// Output directory (one `node-<id>` directory per node).
        #[arg(long)]
        out: PathBuf,
        /// A neuron governing the subnet's membership, `PRINCIPAL:STAKE` (repeatable).
        #[arg(long = "neuron")]
        neurons: Vec<chainkey_node::config::NeuronConfig>,
    },
    /// Measure signature verification throughput against blst's batch API and one-by-one verification.
    Bench(bench::BenchArgs),
}

fn init_logs(filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .init();
}

fn run_node(path: &std::path::Path) -> Result<(), String> {
    let config = NodeConfig::load(path).map_err(|error| error.to_string())?;
    init_logs(&config.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let shutdown = async {
            let mut terminate =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM can be handled");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
        };
        chainkey_node::replica::run(config, shutdown)
            .await
            .map_err(|error| error.to_string())
    })
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Node { config } => run_node(&config),
        Command::Subnet(args) => {
            init_logs("warn");
            cli::subnet::run(&args)
        }
        Command::Genesis {
            nodes,
            out,
            neurons,
        } => {
            init_logs("info");
            let addresses: Vec<NodeAddresses> = nodes
                .iter()
                .map(|&p2p| NodeAddresses {
                    p2p,
                    http: std::net::SocketAddr::new(p2p.ip(), p2p.port() + 1),
                })
                .collect();
            write_genesis(&out, &addresses, &neurons, false, &mut rand::thread_rng())
                .map(|paths| {
                    for path in paths {
                        println!("{}", path.display());
                    }
                })
                .map_err(|error| error.to_string())
        }
        Command::Bench(args) => {
            init_logs("info");
            bench::run(&args)
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
