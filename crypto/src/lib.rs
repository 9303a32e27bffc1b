//! # chainkey-crypto
//!
//! BLS12-381 signatures for an Internet-Computer-style blockchain, built on
//! [blst](https://github.com/supranational/blst) through `blstrs` and the
//! `ff`/`group`/`pairing` traits.
//!
//! - Two [`Scheme`]s sharing one generic implementation: [`MinSig`]
//!   (signatures in G1, keys in G2 — the Internet Computer's choice) and
//!   [`MinPk`] (signatures in G2, keys in G1 — Ethereum's).
//! - [`Ciphersuite`]s with the IETF domain separation tags (basic,
//!   proof-of-possession) or caller-supplied ones: sign, verify, aggregate
//!   verification, proofs of possession and batch verification.
//! - [`threshold`] signatures with public polynomial commitments, and
//!   [`multisig`] signatures over a committee.
//! - Strict decoding of the compressed ZCash format; every failure is a typed [`Error`].
//! - Secret keys are wiped on drop and never printed.
//!
//! ## Sign and verify
//! ```
//! use chainkey_crypto::{Ciphersuite, MinSig, PublicKey, SecretKey, Signature};
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! let secret_key = SecretKey::generate(&mut rand::thread_rng());
//! let public_key: PublicKey<MinSig> = secret_key.public_key();
//!
//! let signature = suite.sign(&secret_key, b"block 42");
//! assert_eq!(signature.to_bytes().len(), 48); // min-sig: signatures in G1
//!
//! // Bytes from the wire are decoded strictly, then verified.
//! let received = Signature::<MinSig>::from_bytes(&signature.to_bytes())?;
//! suite.verify(&public_key, b"block 42", &received)?;
//! assert!(suite.verify(&public_key, b"block 43", &received).is_err());
//! # Ok::<(), chainkey_crypto::Error>(())
//! ```
//!
//! ## Threshold: deal, sign shares, combine
//! ```
//! use chainkey_crypto::threshold::deal;
//! use chainkey_crypto::{Ciphersuite, Error, MinSig};
//!
//! let suite = Ciphersuite::<MinSig>::basic();
//! // A trusted dealer shares a 3-of-5 key (the NIDKG produces the same types).
//! let (commitment, key_shares) = deal::<MinSig, _>(3, 5, &mut rand::thread_rng())?;
//!
//! let message = b"random beacon, height 7";
//! let shares: Vec<_> = key_shares[1..4].iter().map(|share| suite.sign_share(share, message)).collect();
//! let signature = suite.combine(&commitment, message, &shares)?;
//! suite.verify(&commitment.public_key(), message, &signature)?;
//!
//! // Two shares are not enough.
//! assert!(matches!(suite.combine(&commitment, message, &shares[..2]), Err(Error::NotEnoughShares { .. })));
//! # Ok::<(), chainkey_crypto::Error>(())
//! ```
//!
//! ## Multi-signature over a committee
//! ```
//! use chainkey_crypto::multisig::{MultiSignature, MultiSignatureShare};
//! use chainkey_crypto::{Ciphersuite, MinSig, PublicKey, SecretKey};
//!
//! let suite = Ciphersuite::<MinSig>::proof_of_possession();
//! let keys: Vec<SecretKey> = (0..4).map(|_| SecretKey::generate(&mut rand::thread_rng())).collect();
//! let committee: Vec<PublicKey<MinSig>> = keys.iter().map(SecretKey::public_key).collect();
//! // Members register with a proof of possession (defeats rogue-key attacks).
//! for (key, public_key) in keys.iter().zip(&committee) {
//!     suite.verify_possession(public_key, &suite.prove_possession(key))?;
//! }
//!
//! let message = b"notarize block 0xabc at height 9";
//! let shares: Vec<_> = [0u32, 1, 3]
//!     .iter()
//!     .map(|&signer| MultiSignatureShare { signer, signature: suite.sign(&keys[signer as usize], message) })
//!     .collect();
//! let notarization = MultiSignature::aggregate(&shares)?;
//! suite.verify_multi_signature(&committee, message, &notarization)?;
//! assert_eq!(notarization.signers().collect::<Vec<_>>(), [0, 1, 3]);
//! # Ok::<(), chainkey_crypto::Error>(())
//! ```
//!
//! ## Batch verification
//! A node checks thousands of signatures per block: [`batch::BatchVerifier`]
//! takes them all at once — BLS signatures, shares and aggregates in both
//! schemes, Ed25519 and ECDSA — and answers one verdict per job, exactly as
//! one-by-one verification would. BLS claims are combined under secret
//! random weights ([`linear_check`]) into one pairing product whose Miller
//! loops are shared; a failed batch names every invalid job and isolates
//! its sender (see [`batch`] for an example).
//!
//! ## Non-interactive DKG
//! [`nidkg`] makes threshold BLS keys without a trusted dealer (Groth,
//! eprint 2021/339): every dealer publishes one dealing that anyone can
//! check; enough valid dealings make a transcript from which each receiver
//! decrypts its share, and resharing moves a key to a new committee
//! keeping its public key.
//! ```
//! use chainkey_crypto::nidkg::{verify_dealings, Dealing, DkgConfig, EncryptionSecretKey, Transcript};
//! use chainkey_crypto::{Ciphersuite, MinSig};
//!
//! let rng = &mut rand::thread_rng();
//! let keys: Vec<EncryptionSecretKey> = (0..4).map(|_| EncryptionSecretKey::generate(rng)).collect();
//! let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
//! let config = DkgConfig::new(b"subnet 1, beacon key", receivers, 2, 3)?;
//! let dealings = (0..3u32)
//!     .map(|dealer| Ok((dealer, Dealing::create(&config, dealer, rng)?)))
//!     .collect::<Result<Vec<_>, chainkey_crypto::nidkg::DkgError>>()?;
//! // One batch verifies every dealing's proofs (and names the bad ones).
//! let verified = verify_dealings(&config, dealings).into_iter().collect::<Result<Vec<_>, _>>()?;
//! let transcript = Transcript::create(&config, verified)?;
//! let share = transcript.decrypt_share(0, &keys[0])?;
//! let suite = Ciphersuite::<MinSig>::basic();
//! let signature_share = suite.sign_share(&share, b"beacon 1");
//! suite.verify_share(transcript.commitment(), b"beacon 1", &signature_share)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Threshold ECDSA
//! [`tecdsa`] is chain-key ECDSA over secp256k1 (Groth–Shoup, eprint
//! 2022/506): interactive DKG transcripts agreed in blocks, presignatures,
//! per-caller key derivation and signing. Its module documentation walks
//! through the protocol; every dealing check is a [`linear_check`] too.
//!
//! ## Backends
//! The bulk operations of every batch check — hashing to the curve,
//! multi-scalar multiplications, Miller loops — sit below the types, in
//! [`backend`]: [`backend::CpuBackend`] (blst's assembly on a rayon pool)
//! and, with the `gpu` feature, `backend::gpu::GpuBackend` (WGSL kernels
//! through wgpu, with measured crossover sizes below which it uses the
//! CPU). A [`batch::BatchVerifier`] runs on either, and so do NIDKG's
//! random-weight checks ([`nidkg::verify_dealings_on`]): one faster MSM
//! kernel speeds both up. (tECDSA's checks are over secp256k1, whose MSM
//! [`linear_check`] runs on the CPU.)
//!
//! ## Cargo features
//! - `gpu` (default): the GPU backend.
//! - `service` (default): [`batch::VerifyService`], an async façade that
//!   batches concurrent verification requests (tokio).
//! - `workloads`: benchmark workloads and baselines (`workloads`), for
//!   `chainkey bench` and the criterion benches.
#![doc = include_str!("../docs/design.md")]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod backend;
pub mod batch;
mod ciphersuite;
mod curve;
mod error;
pub mod hash;
mod keys;
pub mod linear_check;
pub mod multisig;
pub mod nidkg;
pub mod polynomial;
mod scheme;
pub mod tecdsa;
pub mod threshold;
#[cfg(feature = "workloads")]
pub mod workloads;

pub use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
pub use ciphersuite::Ciphersuite;
pub use curve::{Affine, BlsGroup};
pub use error::Error;
pub use keys::{PublicKey, SecretKey, Signature};
pub use scheme::{MinPk, MinSig, Scheme};
