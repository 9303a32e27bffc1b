//! # chainkey
//!
//! Facade crate of the chainkey workspace: a high-throughput engine for the
//! chain-key cryptography of an Internet-Computer-style blockchain.
//!
//! - [`crypto`] (`chainkey-crypto`): BLS12-381 signatures — min-sig and
//!   min-pk, multi-signatures and threshold signatures — and the batch
//!   verification engine ([`crypto::batch`]), and the non-interactive DKG
//!   ([`crypto::nidkg`]).
//! - [`workloads`]: benchmark batches and their baselines, used by
//!   `chainkey bench` and the criterion benches; [`dkg_workload`]: the
//!   same for the NIDKG (`chainkey bench dkg`).
//!
//! ```
//! use chainkey::crypto::{Ciphersuite, MinSig, SecretKey};
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! let key = SecretKey::generate(&mut rand::thread_rng());
//! let signature = suite.sign(&key, b"hello");
//! assert!(suite.verify(&key.public_key(), b"hello", &signature).is_ok());
//! ```

pub use chainkey_crypto as crypto;

pub mod dkg_workload;
pub mod workloads;
