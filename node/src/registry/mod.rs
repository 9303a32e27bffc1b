//! Who the subnet is: its membership records and the governance that
//! changes them (neurons, proposals, votes).
//!
#![doc = include_str!("../../docs/membership.md")]

pub mod governance;
pub mod membership;
pub mod node_record;

pub use membership::{Member, Membership};
pub use node_record::{NodeRecord, RecordError};
