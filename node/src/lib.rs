//! # chainkey-node
//!
//! A node of a chainkey subnet, and the `chainkey` command line.
//!
//! - [`config`] and [`genesis`]: per-node configuration and secrets, and a
//!   new subnet's keys (the beacon key from the non-interactive DKG).
//! - [`transport`] and [`wire`]: mutually authenticated TLS 1.3 between
//!   the nodes, CBOR frames, bounded per-peer queues and rate limits;
//!   [`dissemination`]: push small artifacts, advertise and fetch large
//!   ones, drop duplicates.
//! - [`node`]: the event loop around [`chainkey_consensus::Consensus`],
//!   with [`store`] (redb) making every decision durable first.
//! - [`ingress`] and [`http`]: signed user messages, batch-verified and
//!   deduplicated, into block payloads; `/status` and `/metrics` ([`metrics`]).
//! - [`executor`]: where finalized blocks go.
//! - [`subnet`]: `chainkey subnet`, a local subnet of node processes.
//! - [`certification`] and [`requests`]: the IC's hash trees,
//!   certificates, request ids, principals and request authentication
//!   (the first parts of the IC HTTP interface).

pub mod bench_calls;
pub mod bench_sign;
pub mod canister_runs;
pub mod cbor;
pub mod certification;
pub mod chain_key;
pub mod config;
pub mod dissemination;
pub mod execution;
pub mod genesis;
pub mod governance;
pub mod http;
pub mod ic_http;
pub mod ingress;
pub mod metrics;
pub mod node;
pub mod requests;
pub mod store;
pub mod subnet;
pub mod transport;
pub mod wire;
