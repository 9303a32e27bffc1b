//! The Internet Computer's HTTP interface as data: hash trees,
//! certificates, request ids, the certified state tree's layout,
//! principals, request envelopes and their authentication, and a small
//! client. Pure types and functions, no I/O: the API and execution build
//! on them.

pub mod certificate;
pub mod client;
pub mod envelope;
pub mod hash_tree;
pub mod principal;
pub mod request_id;
pub mod state_tree;
pub mod status_tree;
