//! Certified state as the Internet Computer's HTTP interface presents it:
//! hash trees, certificates, and request ids.

pub mod certificate;
pub mod hash_tree;
pub mod request_id;
