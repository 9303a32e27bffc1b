//! # chainkey-consensus
//!
//! The Internet Computer consensus protocol (*Internet Computer Consensus*,
//! Camenisch, Drijvers, Hanke, Pignolet, Shoup, Williams; PODC 2022, eprint
//! 2021/632) as a sans-IO state machine: [`Consensus::on_event`] takes
//! artifacts, ticks and the time, and returns artifacts to send, wake-up
//! times and finalized blocks. A node (`chainkey-node`) owns sockets, disks
//! and clocks; the deterministic simulator in [`sim`] drives many nodes
//! through network faults and Byzantine behaviour.
//!
//! See [`protocol`] for the rules and where the paper states them.

#![doc = include_str!("../docs/design.md")]
#![warn(missing_docs)]

pub mod crypto;
pub mod payload;
mod pool;
pub mod protocol;
pub mod sim;
pub mod types;

pub use crypto::{BlsCrypto, ConsensusCrypto, SimCrypto, SubnetKeys};
pub use payload::{IngressQueue, PayloadBuilder, PayloadLimits};
pub use protocol::{Action, Config, Consensus, Event};
pub use types::{
    Artifact, Block, FinalityProof, FinalizedBlock, Hash, Height, IngressMessage, NodeId, Payload,
    Time,
};
