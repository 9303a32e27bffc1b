//! The network between the nodes of a subnet: mutually authenticated TLS
//! connections with bounded per-peer queues and rate limits
//! ([`transport`], over token buckets) whose certificates are pinned,
//! the frames they carry ([`wire`]), and which artifacts are pushed,
//! advertised or fetched ([`dissemination`]).

pub mod dissemination;
pub(crate) mod rate;
mod tls;
pub mod transport;
pub mod wire;
