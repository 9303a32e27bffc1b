//! The network between the nodes of a subnet: mutually authenticated TLS
//! connections with bounded per-peer queues and rate limits
//! ([`transport`]), the frames they carry ([`wire`]), and which artifacts
//! are pushed, advertised or fetched ([`dissemination`]).

pub mod dissemination;
pub mod transport;
pub mod wire;
