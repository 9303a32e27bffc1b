//! # chainkey-node
//!
//! A node of a chainkey subnet.

pub mod api;
pub mod cbor;
pub mod certification;
pub mod chain_key;
pub mod config;
pub mod execution;
pub mod genesis;
pub mod ic;
pub mod ingress;
pub mod local_subnet;
pub mod metrics;
pub mod net;
pub mod registry;
pub mod replica;
pub mod store;
