//! Property tests of threshold BLS, run for both schemes through the same
//! generic functions (min-sig and min-pk share one code path).

use chainkey_crypto::threshold::{combine_unchecked, deal_secret, SignatureShare};
use chainkey_crypto::{Ciphersuite, Error, MinPk, MinSig, Scheme, SecretKey};
use proptest::prelude::*;
use proptest::sample::subsequence;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// A dealing: (threshold, share count, the signing subset's positions, rng seed).
fn dealing() -> impl Strategy<Value = (usize, u32, Vec<usize>, u64)> {
    (1u32..=7)
        .prop_flat_map(|n| (1..=n as usize, Just(n)))
        .prop_flat_map(|(t, n)| {
            (
                Just(t),
                Just(n),
                subsequence((0..n as usize).collect::<Vec<_>>(), t..=n as usize),
                any::<u64>(),
            )
        })
}

/// Any t of the n shares combine to the group key's own signature.
fn any_threshold_subset_combines<S: Scheme>(threshold: usize, n: u32, subset: &[usize], seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let suite = Ciphersuite::<S>::basic();
    let secret = SecretKey::generate(&mut rng);
    let (commitment, key_shares) = deal_secret::<S, _>(&secret, threshold, n, &mut rng).unwrap();
    assert_eq!(commitment.public_key(), secret.public_key::<S>());

    let message = seed.to_be_bytes();
    let shares: Vec<SignatureShare<S>> = subset
        .iter()
        .map(|&i| suite.sign_share(&key_shares[i], &message))
        .collect();
    let combined = suite.combine(&commitment, &message, &shares).unwrap();
    assert_eq!(combined, suite.sign(&secret, &message));
    suite
        .verify(&commitment.public_key(), &message, &combined)
        .unwrap();
    // Using a different t-subset (the last t) gives the very same signature.
    let last = combine_unchecked(threshold, &shares[shares.len() - threshold..]).unwrap();
    assert_eq!(last, combined);
}

/// t − 1 shares are refused by `combine`, and forcing their interpolation
/// yields a signature that does not verify.
fn fewer_than_threshold_never_verify<S: Scheme>(threshold: usize, n: u32, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let suite = Ciphersuite::<S>::basic();
    let (commitment, key_shares) =
        chainkey_crypto::threshold::deal::<S, _>(threshold, n, &mut rng).unwrap();
    let message = b"too few";
    let shares: Vec<_> = key_shares[..threshold - 1]
        .iter()
        .map(|share| suite.sign_share(share, message))
        .collect();
    assert_eq!(
        suite.combine(&commitment, message, &shares),
        Err(Error::NotEnoughShares {
            threshold,
            actual: threshold - 1
        })
    );
    if threshold > 1 {
        let forced = combine_unchecked(threshold - 1, &shares).unwrap();
        assert!(suite
            .verify(&commitment.public_key(), message, &forced)
            .is_err());
    }
}

/// A corrupted share is named by its index, and only it.
fn corrupted_share_is_named<S: Scheme>(
    threshold: usize,
    n: u32,
    subset: &[usize],
    seed: u64,
    victim: usize,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let suite = Ciphersuite::<S>::basic();
    let (commitment, key_shares) =
        chainkey_crypto::threshold::deal::<S, _>(threshold, n, &mut rng).unwrap();
    let message = b"corrupt me";
    let mut shares: Vec<_> = subset
        .iter()
        .map(|&i| suite.sign_share(&key_shares[i], message))
        .collect();
    let victim = victim % shares.len();
    shares[victim].signature = suite.sign(key_shares[victim].secret_key(), b"another message");
    let index = shares[victim].index;
    assert_eq!(
        suite.verify_share(&commitment, message, &shares[victim]),
        Err(Error::InvalidSignature)
    );
    assert_eq!(
        suite.combine(&commitment, message, &shares),
        Err(Error::InvalidShares(vec![index]))
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_t_of_n_combine_min_sig((t, n, subset, seed) in dealing()) {
        any_threshold_subset_combines::<MinSig>(t, n, &subset, seed);
    }

    #[test]
    fn any_t_of_n_combine_min_pk((t, n, subset, seed) in dealing()) {
        any_threshold_subset_combines::<MinPk>(t, n, &subset, seed);
    }

    #[test]
    fn t_minus_one_shares_never_verify_min_sig((t, n, _subset, seed) in dealing()) {
        fewer_than_threshold_never_verify::<MinSig>(t, n, seed);
    }

    #[test]
    fn t_minus_one_shares_never_verify_min_pk((t, n, _subset, seed) in dealing()) {
        fewer_than_threshold_never_verify::<MinPk>(t, n, seed);
    }

    #[test]
    fn corrupted_share_is_named_min_sig((t, n, subset, seed) in dealing(), victim in any::<usize>()) {
        corrupted_share_is_named::<MinSig>(t, n, &subset, seed, victim);
    }

    #[test]
    fn corrupted_share_is_named_min_pk((t, n, subset, seed) in dealing(), victim in any::<usize>()) {
        corrupted_share_is_named::<MinPk>(t, n, &subset, seed, victim);
    }
}

#[test]
fn bad_index_sets_and_parameters_are_typed_errors() {
    let mut rng = StdRng::seed_from_u64(9);
    let suite = Ciphersuite::<MinSig>::basic();
    let (commitment, key_shares) =
        chainkey_crypto::threshold::deal::<MinSig, _>(2, 3, &mut rng).unwrap();
    let share = suite.sign_share(&key_shares[0], b"m");
    assert_eq!(
        suite.combine(&commitment, b"m", &[share, share]),
        Err(Error::DuplicateIndex(1))
    );
    let zero = SignatureShare { index: 0, ..share };
    assert_eq!(
        suite.combine(&commitment, b"m", &[zero, share]),
        Err(Error::ZeroIndex)
    );
    assert_eq!(commitment.public_key_share(0), Err(Error::ZeroIndex));
    assert!(matches!(
        chainkey_crypto::threshold::deal::<MinSig, _>(4, 3, &mut rng),
        Err(Error::InvalidThreshold {
            threshold: 4,
            shares: 3
        })
    ));
    assert!(matches!(
        chainkey_crypto::threshold::deal::<MinSig, _>(0, 3, &mut rng),
        Err(Error::InvalidThreshold {
            threshold: 0,
            shares: 3
        })
    ));
}
