//! Ed25519 verdicts do not depend on the batch: a signature whose nonce has
//! a small-order component is valid under ZIP-215 (cofactored) — alone, and
//! in any batch — although cofactorless verification rejects it.

use chainkey_crypto::batch::{BatchVerifier, Ed25519Claim, Job};
use curve25519_dalek::constants::{ED25519_BASEPOINT_POINT, EIGHT_TORSION};
use curve25519_dalek::scalar::Scalar;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use rand::rngs::StdRng;
use rand::SeedableRng;
use sha2::{Digest, Sha512};

/// A signature by secret scalar `a` whose nonce point is rB + T for a small-order T.
fn tainted_signature(a: Scalar, message: &[u8], rng: &mut StdRng) -> (VerifyingKey, Signature) {
    let public = (ED25519_BASEPOINT_POINT * a).compress();
    let r = Scalar::random(rng);
    let nonce = (ED25519_BASEPOINT_POINT * r + EIGHT_TORSION[1]).compress();
    let k = Scalar::from_hash(
        Sha512::new()
            .chain_update(nonce.as_bytes())
            .chain_update(public.as_bytes())
            .chain_update(message),
    );
    let s = r + k * a;
    let mut bytes = [0u8; 64];
    bytes[..32].copy_from_slice(nonce.as_bytes());
    bytes[32..].copy_from_slice(s.as_bytes());
    (
        VerifyingKey::from_bytes(public.as_bytes()).unwrap(),
        Signature::from_bytes(&bytes),
    )
}

#[test]
fn small_order_components_get_the_same_verdict_in_every_batch() {
    let mut rng = StdRng::seed_from_u64(215);
    let message = b"ingress";
    let (key, signature) = tainted_signature(Scalar::random(&mut rng), message, &mut rng);
    assert!(
        key.verify_strict(message, &signature).is_err(),
        "cofactorless verification rejects it"
    );
    let tainted = Ed25519Claim {
        key: key.to_bytes(),
        message: message.to_vec(),
        signature,
    };
    assert!(tainted.is_valid(), "ZIP-215 accepts it");

    let verifier = BatchVerifier::default();
    for companions in [0usize, 1, 5, 20] {
        let mut jobs = vec![Job::new(tainted.clone()).from_source(9)];
        for i in 0..companions {
            let signer = SigningKey::generate(&mut rng);
            let message = format!("other {i}").into_bytes();
            let signature = signer.sign(&message);
            jobs.push(
                Job::new(Ed25519Claim {
                    key: signer.verifying_key().to_bytes(),
                    message,
                    signature,
                })
                .from_source(i as u64),
            );
        }
        for _ in 0..5 {
            assert!(
                verifier.verify(&jobs).iter().all(|valid| *valid),
                "{companions} companions"
            );
        }
    }
}

/// A claim carries its key as bytes, decoded when it is checked: a key
/// that is no curve point (by curve25519-dalek's own decoding) makes its
/// claim invalid — alone and in a batch, where the others stay valid.
#[test]
fn a_key_that_is_no_point_makes_only_its_claim_invalid() {
    let mut rng = StdRng::seed_from_u64(2);
    let off_curve = (2u8..)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            bytes
        })
        .find(|bytes| {
            curve25519_dalek::edwards::CompressedEdwardsY(*bytes)
                .decompress()
                .is_none()
        })
        .unwrap();
    let signer = SigningKey::generate(&mut rng);
    let claim = |key: [u8; 32], message: &[u8]| Ed25519Claim {
        key,
        message: message.to_vec(),
        signature: signer.sign(message),
    };
    let broken = claim(off_curve, b"a");
    assert!(!broken.is_valid());
    let jobs: Vec<Job> = [
        claim(signer.verifying_key().to_bytes(), b"b"),
        broken,
        claim(signer.verifying_key().to_bytes(), b"c"),
    ]
    .into_iter()
    .enumerate()
    .map(|(source, claim)| Job::new(claim).from_source(source as u64))
    .collect();
    assert_eq!(
        BatchVerifier::default().verify(&jobs),
        vec![true, false, true]
    );
}
