//! # chainkey
//!
//! The chainkey workspace in one dependency: a high-throughput engine for
//! the chain-key cryptography of an Internet-Computer-style blockchain,
//! and the consensus and node built around it.
//!
//! - [`crypto`] (`chainkey-crypto`): BLS12-381 signatures — min-sig and
//!   min-pk, multi-signatures, threshold signatures — the batch
//!   verification engine and its CPU and GPU backends, the
//!   non-interactive DKG and threshold ECDSA. Start here to use the
//!   cryptography as a library.
//! - [`consensus`] (`chainkey-consensus`): the Internet Computer's
//!   consensus protocol as a sans-IO state machine.
//! - [`node`] (`chainkey-node`): a subnet node — network, ingress,
//!   execution, certification, chain-key services — and the `chainkey`
//!   command line.
//!
//! ```
//! use chainkey::crypto::{Ciphersuite, MinSig, SecretKey};
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! let key = SecretKey::generate(&mut rand::thread_rng());
//! let signature = suite.sign(&key, b"hello");
//! assert!(suite.verify(&key.public_key(), b"hello", &signature).is_ok());
//! ```

#![warn(missing_docs)]

pub use chainkey_consensus as consensus;
pub use chainkey_crypto as crypto;
pub use chainkey_node as node;
