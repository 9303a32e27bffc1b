//! Benchmark workloads (feature `workloads`): batches of signatures in
//! the shapes a subnet sees, with the baselines they are measured against
//! (blst's own batch API and one-by-one verification), and NIDKG dealings.
//! `chainkey bench` and the criterion benches (`cargo bench -p
//! chainkey-crypto --features workloads`) measure the same data.

pub mod dkg;
pub mod signatures;

pub use dkg::DkgWorkload;
pub use signatures::{Shape, Workload, SUBNET_SIZE};
