//! Certified state as the Internet Computer's HTTP interface presents it:
//! hash trees, certificates, request ids, and the state tree's layout.

pub mod certificate;
pub mod certifier;
pub mod hash_tree;
pub mod request_id;
pub mod state_tree;
pub mod status_tree;
