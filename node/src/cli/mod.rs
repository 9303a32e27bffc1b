//! The `chainkey` command's own work, outside the node library: running a
//! local subnet for a user (`subnet`) and measuring throughput (`bench`
//! and its workloads).

pub mod bench;
pub mod subnet;
