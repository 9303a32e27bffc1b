//! Multi-signatures over a committee, for both schemes.

use chainkey_crypto::multisig::{MultiSignature, MultiSignatureShare};
use chainkey_crypto::{Ciphersuite, Error, MinPk, MinSig, PublicKey, Scheme, SecretKey};
use proptest::prelude::*;
use proptest::sample::subsequence;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn committee<S: Scheme>(size: usize, seed: u64) -> (Vec<SecretKey>, Vec<PublicKey<S>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let keys: Vec<SecretKey> = (0..size).map(|_| SecretKey::generate(&mut rng)).collect();
    let public_keys = keys.iter().map(SecretKey::public_key).collect();
    (keys, public_keys)
}

/// Any non-empty subset's aggregate verifies with exactly its signer set;
/// claiming one signer fewer or one more does not.
fn subset_multisignature<S: Scheme>(size: usize, signers: &[u32], seed: u64) {
    let suite = Ciphersuite::<S>::proof_of_possession();
    let (keys, committee) = committee::<S>(size, seed);
    for (key, public_key) in keys.iter().zip(&committee) {
        suite
            .verify_possession(public_key, &suite.prove_possession(key))
            .unwrap();
    }
    let message = b"notarize";
    let shares: Vec<MultiSignatureShare<S>> = signers
        .iter()
        .map(|&signer| MultiSignatureShare {
            signer,
            signature: suite.sign(&keys[signer as usize], message),
        })
        .collect();
    for share in &shares {
        suite
            .verify_multi_signature_share(&committee, message, share)
            .unwrap();
    }
    let multi = MultiSignature::aggregate(&shares).unwrap();
    assert_eq!(multi.signers().collect::<Vec<_>>(), signers);
    suite
        .verify_multi_signature(&committee, message, &multi)
        .unwrap();
    assert_eq!(
        suite.verify_multi_signature(&committee, b"other", &multi),
        Err(Error::InvalidSignature)
    );

    if shares.len() > 1 {
        let fewer = MultiSignature::aggregate(&shares[1..]).unwrap();
        let forged = MultiSignature::aggregate(&[MultiSignatureShare {
            signature: *multi.signature(),
            ..shares[1]
        }])
        .unwrap();
        assert_eq!(
            suite.verify_multi_signature(&committee, message, &forged),
            Err(Error::InvalidSignature)
        );
        suite
            .verify_multi_signature(&committee, message, &fewer)
            .unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn subsets_min_sig((size, signers) in (1usize..8).prop_flat_map(|n| (Just(n), subsequence((0..n as u32).collect::<Vec<_>>(), 1..=n))), seed in any::<u64>()) {
        subset_multisignature::<MinSig>(size, &signers, seed);
    }

    #[test]
    fn subsets_min_pk((size, signers) in (1usize..8).prop_flat_map(|n| (Just(n), subsequence((0..n as u32).collect::<Vec<_>>(), 1..=n))), seed in any::<u64>()) {
        subset_multisignature::<MinPk>(size, &signers, seed);
    }
}

#[test]
fn bad_signer_sets_are_typed_errors() {
    let suite = Ciphersuite::<MinSig>::proof_of_possession();
    let (keys, committee) = committee::<MinSig>(3, 5);
    let share = MultiSignatureShare {
        signer: 1,
        signature: suite.sign(&keys[1], b"m"),
    };
    assert_eq!(
        MultiSignature::aggregate(&[share, share]),
        Err(Error::DuplicateIndex(1))
    );
    assert_eq!(
        MultiSignature::<MinSig>::aggregate(&[]),
        Err(Error::EmptyInput)
    );
    let outsider = MultiSignatureShare { signer: 3, ..share };
    assert_eq!(
        suite.verify_multi_signature(
            &committee,
            b"m",
            &MultiSignature::aggregate(&[outsider]).unwrap()
        ),
        Err(Error::UnknownSigner {
            index: 3,
            committee_size: 3
        })
    );
    // A proof of possession for one key does not vouch for another.
    let proof = suite.prove_possession(&keys[0]);
    assert_eq!(
        suite.verify_possession(&committee[1], &proof),
        Err(Error::InvalidProofOfPossession)
    );
}
