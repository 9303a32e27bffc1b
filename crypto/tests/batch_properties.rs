//! The batch engine's verdicts equal one-by-one verification on random
//! batches mixing every claim kind with every kind of fault.

mod common;

use std::sync::OnceLock;

use chainkey_crypto::batch::{
    BatchVerifier, EcdsaClaim, Ed25519Claim, Job, Malleability, Secp256k1, VerifierConfig, P256,
};
use chainkey_crypto::threshold::{deal, PublicCommitment, SecretKeyShare};
use chainkey_crypto::{Ciphersuite, MinPk, MinSig, PublicKey, Scheme, SecretKey, Signature};
use ed25519_dalek::Signer as _;
use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

const SIGNERS: usize = 5;
const MESSAGES: [&[u8]; 4] = [b"block a", b"block b", b"block c", b"block d"];

/// Keys shared by every case, made once.
struct Keys<S: Scheme> {
    suite: Ciphersuite<S>,
    secrets: Vec<SecretKey>,
    public: Vec<PublicKey<S>>,
    commitment: PublicCommitment<S>,
    shares: Vec<SecretKeyShare>,
}

impl<S: Scheme> Keys<S> {
    fn new(seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let secrets: Vec<SecretKey> = (0..SIGNERS)
            .map(|_| SecretKey::generate(&mut rng))
            .collect();
        let public = secrets.iter().map(SecretKey::public_key).collect();
        let (commitment, shares) = deal::<S, _>(3, SIGNERS as u32, &mut rng).unwrap();
        Keys {
            suite: Ciphersuite::basic(),
            secrets,
            public,
            commitment,
            shares,
        }
    }
}

struct Fixture {
    min_sig: Keys<MinSig>,
    min_pk: Keys<MinPk>,
    ed25519: Vec<ed25519_dalek::SigningKey>,
    secp256k1: Vec<k256::ecdsa::SigningKey>,
    p256: Vec<p256::ecdsa::SigningKey>,
    verifier: BatchVerifier,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut rng = StdRng::seed_from_u64(42);
        Fixture {
            min_sig: Keys::new(1),
            min_pk: Keys::new(2),
            ed25519: (0..SIGNERS)
                .map(|_| ed25519_dalek::SigningKey::generate(&mut rng))
                .collect(),
            secp256k1: (0..SIGNERS)
                .map(|_| k256::ecdsa::SigningKey::random(&mut rng))
                .collect(),
            p256: (0..SIGNERS)
                .map(|_| p256::ecdsa::SigningKey::random(&mut rng))
                .collect(),
            verifier: BatchVerifier::new(VerifierConfig {
                threads: 2,
                ..VerifierConfig::default()
            }),
        }
    })
}

/// How a generated job is made wrong (or not).
#[derive(Clone, Copy, Debug)]
enum Fault {
    None,
    WrongKey,
    WrongMessage,
    SwappedSignature,
    IdentitySignature,
    NonSubgroupEncoding,
}

fn fault() -> impl Strategy<Value = Fault> {
    prop_oneof![
        6 => Just(Fault::None),
        1 => Just(Fault::WrongKey),
        1 => Just(Fault::WrongMessage),
        1 => Just(Fault::SwappedSignature),
        1 => Just(Fault::IdentitySignature),
        1 => Just(Fault::NonSubgroupEncoding),
    ]
}

/// One generated job: kind, fault, signer, message, source.
type Spec = (u8, Fault, usize, usize, u64);

fn spec() -> impl Strategy<Value = Spec> {
    (0u8..8, fault(), 0..SIGNERS, 0..MESSAGES.len(), 0u64..3)
}

/// A point encoding on the curve but outside the prime-order subgroup.
fn non_subgroup_signature<S: Scheme>() -> Vec<u8> {
    let size = Signature::<S>::SIZE;
    (1u8..)
        .map(|x| {
            let mut bytes = vec![0u8; size];
            bytes[0] = 0x80;
            bytes[size - 1] = x;
            bytes
        })
        .find(|bytes| {
            Signature::<S>::from_bytes(bytes) == Err(chainkey_crypto::Error::NotInSubgroup)
        })
        .unwrap()
}

/// A BLS job for `spec` and its one-by-one verdict; `None` when the
/// signature fails to decode (such bytes never become a job).
fn bls_job<S: Scheme>(keys: &Keys<S>, spec: Spec) -> Option<(Job, bool)>
where
    chainkey_crypto::batch::Claim: From<chainkey_crypto::batch::BlsClaim<S>>,
{
    let (kind, fault, signer, message, source) = spec;
    let other = (signer + 1) % SIGNERS;
    let other_message = MESSAGES[(message + 1) % MESSAGES.len()];
    let message = MESSAGES[message];
    let suite = &keys.suite;
    let sign = |who: usize, what: &[u8]| match fault {
        Fault::WrongMessage => suite.sign(&keys.secrets[who], other_message),
        Fault::SwappedSignature => suite.sign(&keys.secrets[other], what),
        Fault::IdentitySignature => {
            Signature::from_point(group::prime::PrimeCurveAffine::identity()).unwrap()
        }
        _ => suite.sign(&keys.secrets[who], what),
    };
    let key = |who: usize| {
        if let Fault::WrongKey = fault {
            keys.public[other]
        } else {
            keys.public[who]
        }
    };
    if let Fault::NonSubgroupEncoding = fault {
        assert!(Signature::<S>::from_bytes(&non_subgroup_signature::<S>()).is_err());
        return None;
    }
    let (claim, expected) = match kind % 3 {
        // A plain signature.
        0 => {
            let signature = sign(signer, message);
            (
                suite.signature_claim(&key(signer), message, &signature),
                suite.verify(&key(signer), message, &signature).is_ok(),
            )
        }
        // A threshold share.
        1 => {
            let share = &keys.shares[signer];
            let mut signature_share = suite.sign_share(share, message);
            signature_share.signature = match fault {
                Fault::None | Fault::WrongKey => signature_share.signature,
                _ => sign(signer, message),
            };
            if let Fault::WrongKey = fault {
                signature_share.index = keys.shares[other].index();
            }
            let claim = suite
                .share_claim(&keys.commitment, message, &signature_share)
                .unwrap();
            (
                claim,
                suite
                    .verify_share(&keys.commitment, message, &signature_share)
                    .is_ok(),
            )
        }
        // An aggregate of two signers on distinct messages.
        _ => {
            let messages = [message, other_message];
            let aggregate = Signature::aggregate(&[
                sign(signer, messages[0]),
                suite.sign(&keys.secrets[other], messages[1]),
            ])
            .unwrap();
            let public_keys = [key(signer), keys.public[other]];
            let claim = suite
                .aggregate_claim(&public_keys, &messages, &aggregate)
                .unwrap();
            (
                claim,
                suite
                    .aggregate_verify(&public_keys, &messages, &aggregate)
                    .is_ok(),
            )
        }
    };
    Some((Job::new(claim).from_source(source), expected))
}

/// A non-BLS job for `spec` and its one-by-one verdict.
fn other_job(fixture: &Fixture, spec: Spec) -> (Job, bool) {
    let (kind, fault, signer, message, source) = spec;
    let other = (signer + 1) % SIGNERS;
    let corrupt = !matches!(fault, Fault::None);
    let message = MESSAGES[message];
    let hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(message).into();
    let other_hash: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"another").into();
    let signed_hash = if corrupt { other_hash } else { hash };
    match kind {
        6 => {
            let key = &fixture.ed25519[signer];
            let signature = if corrupt {
                fixture.ed25519[other].sign(message)
            } else {
                key.sign(message)
            };
            let claim = Ed25519Claim {
                key: key.verifying_key().to_bytes(),
                message: message.to_vec(),
                signature,
            };
            // One-by-one ZIP-215 verification, cross-checked with dalek's strict check
            // (they agree on signatures without small-order components).
            let expected = claim.is_valid();
            let strict = key
                .verifying_key()
                .verify_strict(message, &signature)
                .is_ok();
            assert_eq!(expected, strict);
            (Job::new(claim).from_source(source), expected)
        }
        7 if signer % 2 == 0 => {
            let key = &fixture.secp256k1[signer];
            let signature: k256::ecdsa::Signature = key.sign_prehash(&signed_hash).unwrap();
            let expected = key
                .verifying_key()
                .verify_prehash(&hash, &signature)
                .is_ok();
            let claim = EcdsaClaim::<Secp256k1> {
                key: *key.verifying_key(),
                message_hash: hash,
                signature,
                malleability: Malleability::LowSOnly,
            };
            (Job::new(claim).from_source(source), expected)
        }
        _ => {
            let key = &fixture.p256[signer];
            let signature: p256::ecdsa::Signature = key.sign_prehash(&signed_hash).unwrap();
            let expected = key
                .verifying_key()
                .verify_prehash(&hash, &signature)
                .is_ok();
            let claim = EcdsaClaim::<P256> {
                key: *key.verifying_key(),
                message_hash: hash,
                signature,
                malleability: Malleability::EitherS,
            };
            (Job::new(claim).from_source(source), expected)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn verdicts_equal_one_by_one_verification(specs in proptest::collection::vec(spec(), 1..12)) {
        let (jobs, expected) = jobs(&specs);
        prop_assert_eq!(fixture().verifier.verify(&jobs), expected);
    }
}

/// The jobs `specs` describe, with each one's one-by-one verdict.
fn jobs(specs: &[Spec]) -> (Vec<Job>, Vec<bool>) {
    let fixture = fixture();
    specs
        .iter()
        .filter_map(|&spec| match spec.0 {
            0..=2 => bls_job(&fixture.min_sig, spec),
            3..=5 => bls_job(&fixture.min_pk, spec),
            _ => Some(other_job(fixture, spec)),
        })
        .unzip()
}

/// The consensus shape (every signer signs every message) with one forgery
/// hidden among many valid shares: exactly that job is named.
#[test]
fn one_bad_share_among_many_is_named() {
    let fixture = fixture();
    let keys = &fixture.min_sig;
    let mut jobs = Vec::new();
    for message in MESSAGES {
        for (signer, secret) in keys.secrets.iter().enumerate() {
            let signature = keys.suite.sign(secret, message);
            jobs.push(
                Job::new(
                    keys.suite
                        .signature_claim(&keys.public[signer], message, &signature),
                )
                .from_source(signer as u64),
            );
        }
    }
    let forged = keys.suite.sign(&keys.secrets[0], b"forged");
    jobs[13] = Job::new(
        keys.suite
            .signature_claim(&keys.public[3], MESSAGES[2], &forged),
    )
    .from_source(3);
    let verdicts = fixture.verifier.verify(&jobs);
    let invalid: Vec<usize> = (0..jobs.len()).filter(|&i| !verdicts[i]).collect();
    assert_eq!(invalid, [13]);
}

/// The same batches with every MSM and hash on the GPU backend (crossover 0):
/// identical verdicts. Fewer cases: lavapipe runs the kernels on the CPU.
#[cfg(feature = "gpu")]
mod on_the_gpu {
    use std::sync::Arc;

    use chainkey_crypto::backend::gpu::{Crossover, GpuBackend};
    use chainkey_crypto::backend::CpuBackend;

    use super::*;

    fn gpu_verifier() -> Option<&'static BatchVerifier> {
        static VERIFIER: OnceLock<Option<BatchVerifier>> = OnceLock::new();
        VERIFIER
            .get_or_init(|| {
                let context = common::discover_gpu()?;
                let everything = Crossover {
                    msm_points: 0,
                    hash_messages: 0,
                };
                let backend =
                    GpuBackend::new(Arc::new(context), Arc::new(CpuBackend::new(2)), everything);
                Some(
                    BatchVerifier::new(VerifierConfig {
                        threads: 2,
                        ..VerifierConfig::default()
                    })
                    .with_backend(Arc::new(backend)),
                )
            })
            .as_ref()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn gpu_backend_verdicts_equal_one_by_one_verification(specs in proptest::collection::vec(spec(), 1..12)) {
            let Some(verifier) = gpu_verifier() else { return Ok(()) };
            let (jobs, expected) = jobs(&specs);
            prop_assert_eq!(verifier.verify(&jobs), expected);
        }
    }
}
