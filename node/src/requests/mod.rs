//! Requests of the IC HTTP interface: principals, and the authentication
//! of a request envelope (sender, signatures, delegations).

pub mod client;
pub mod envelope;
pub mod principal;
