//! Encoding properties for both schemes: round trips, strictness, and no
//! panic on arbitrary bytes.

use chainkey_crypto::threshold::{deal, PublicCommitment};
use chainkey_crypto::{Error, MinPk, MinSig, PublicKey, Scheme, SecretKey, Signature};
use group::prime::PrimeCurveAffine;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

fn round_trips<S: Scheme>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let secret = SecretKey::generate(&mut rng);
    let restored = SecretKey::from_bytes(secret.to_bytes().as_slice()).unwrap();
    assert_eq!(restored, secret);

    let public_key = secret.public_key::<S>();
    assert_eq!(public_key.to_bytes().len(), PublicKey::<S>::SIZE);
    assert_eq!(
        PublicKey::<S>::from_bytes(&public_key.to_bytes()),
        Ok(public_key)
    );

    let signature = chainkey_crypto::Ciphersuite::<S>::basic().sign(&secret, &seed.to_le_bytes());
    assert_eq!(signature.to_bytes().len(), Signature::<S>::SIZE);
    assert_eq!(
        Signature::<S>::from_bytes(&signature.to_bytes()),
        Ok(signature)
    );

    let (commitment, _) = deal::<S, _>(3, 4, &mut rng).unwrap();
    assert_eq!(
        PublicCommitment::<S>::from_bytes(&commitment.to_bytes()),
        Ok(commitment)
    );
}

/// Decoding never panics, and whatever it accepts re-encodes to the same bytes.
fn decoding_is_total_and_canonical<S: Scheme>(bytes: &[u8]) {
    if let Ok(key) = PublicKey::<S>::from_bytes(bytes) {
        assert_eq!(key.to_bytes(), bytes);
    }
    if let Ok(signature) = Signature::<S>::from_bytes(bytes) {
        assert_eq!(signature.to_bytes(), bytes);
    }
    if let Ok(commitment) = PublicCommitment::<S>::from_bytes(bytes) {
        assert_eq!(commitment.to_bytes(), bytes);
    }
    let _ = SecretKey::from_bytes(bytes);
}

/// Clearing the compression flag or setting the infinity flag on a valid key is rejected.
fn flag_bits_are_enforced<S: Scheme>(seed: u64) {
    let key = SecretKey::generate(&mut StdRng::seed_from_u64(seed)).public_key::<S>();
    let mut uncompressed_flag = key.to_bytes();
    uncompressed_flag[0] &= 0x7f;
    assert_eq!(
        PublicKey::<S>::from_bytes(&uncompressed_flag),
        Err(Error::InvalidPointEncoding)
    );
    let mut infinity_flag = key.to_bytes();
    infinity_flag[0] |= 0x40;
    assert_eq!(
        PublicKey::<S>::from_bytes(&infinity_flag),
        Err(Error::InvalidPointEncoding)
    );
    assert_eq!(
        PublicKey::<S>::from_bytes(&key.to_bytes()[1..]),
        Err(Error::InvalidLength {
            expected: PublicKey::<S>::SIZE,
            actual: PublicKey::<S>::SIZE - 1
        })
    );
}

fn identity_is_not_a_public_key<S: Scheme>() {
    let identity = Signature::<S>::from_point(PrimeCurveAffine::identity()).unwrap();
    let mut bytes = vec![0u8; PublicKey::<S>::SIZE];
    bytes[0] = 0xc0;
    assert_eq!(
        PublicKey::<S>::from_bytes(&bytes),
        Err(Error::IdentityPublicKey)
    );
    assert_eq!(
        PublicKey::<S>::from_point(PrimeCurveAffine::identity()),
        Err(Error::IdentityPublicKey)
    );
    // The identity is a well-formed signature (it just never verifies).
    assert_eq!(
        Signature::<S>::from_bytes(&identity.to_bytes()),
        Ok(identity)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trips_min_sig(seed in any::<u64>()) { round_trips::<MinSig>(seed); }

    #[test]
    fn round_trips_min_pk(seed in any::<u64>()) { round_trips::<MinPk>(seed); }

    #[test]
    fn arbitrary_bytes_min_sig(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 48..=48),
        proptest::collection::vec(any::<u8>(), 96..=96),
    ]) {
        decoding_is_total_and_canonical::<MinSig>(&bytes);
    }

    #[test]
    fn arbitrary_bytes_min_pk(bytes in prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        proptest::collection::vec(any::<u8>(), 48..=48),
        proptest::collection::vec(any::<u8>(), 96..=96),
    ]) {
        decoding_is_total_and_canonical::<MinPk>(&bytes);
    }

    #[test]
    fn flag_bits_min_sig(seed in any::<u64>()) { flag_bits_are_enforced::<MinSig>(seed); }

    #[test]
    fn flag_bits_min_pk(seed in any::<u64>()) { flag_bits_are_enforced::<MinPk>(seed); }
}

/// Points built around the checks (blstrs' unchecked constructors) are refused.
#[test]
fn unchecked_points_are_refused() {
    use chainkey_crypto::{G1Affine, G2Affine};
    // Small x-coordinates give curve points outside the prime-order subgroup.
    let outside_g1 = (1u8..)
        .find_map(|x| {
            let mut bytes = [0u8; 48];
            bytes[0] = 0x80;
            bytes[47] = x;
            Option::<G1Affine>::from(G1Affine::from_compressed_unchecked(&bytes))
                .filter(|p| !bool::from(p.is_torsion_free()))
        })
        .unwrap();
    assert_eq!(
        Signature::<MinSig>::from_point(outside_g1),
        Err(Error::NotInSubgroup)
    );
    assert_eq!(
        PublicKey::<MinPk>::from_point(outside_g1),
        Err(Error::NotInSubgroup)
    );
    let outside_g2 = (1u8..)
        .find_map(|x| {
            let mut bytes = [0u8; 96];
            bytes[0] = 0x80;
            bytes[95] = x;
            Option::<G2Affine>::from(G2Affine::from_compressed_unchecked(&bytes))
                .filter(|p| !bool::from(p.is_torsion_free()))
        })
        .unwrap();
    assert_eq!(
        PublicKey::<MinSig>::from_point(outside_g2),
        Err(Error::NotInSubgroup)
    );
    assert_eq!(
        Signature::<MinPk>::from_point(outside_g2),
        Err(Error::NotInSubgroup)
    );
    let generator = G1Affine::generator();
    let off_curve = G1Affine::from_raw_unchecked(generator.y(), generator.x(), false);
    assert_eq!(
        Signature::<MinSig>::from_point(off_curve),
        Err(Error::NotOnCurve)
    );
}

#[test]
fn identity_handling() {
    identity_is_not_a_public_key::<MinSig>();
    identity_is_not_a_public_key::<MinPk>();
}

#[test]
fn secret_key_encoding_is_strict() {
    assert_eq!(
        SecretKey::from_bytes(&[0; 32]).unwrap_err(),
        Error::InvalidSecretKey
    );
    assert_eq!(
        SecretKey::from_bytes(&[0xff; 32]).unwrap_err(),
        Error::InvalidSecretKey
    );
    assert_eq!(
        SecretKey::from_bytes(&[1; 31]).unwrap_err(),
        Error::InvalidLength {
            expected: 32,
            actual: 31
        }
    );
}

#[test]
fn key_generation_from_ikm() {
    assert_eq!(
        SecretKey::from_ikm(&[1; 31], b"").unwrap_err(),
        Error::KeyMaterialTooShort(31)
    );
    let a = SecretKey::from_ikm(&[1; 32], b"").unwrap();
    let b = SecretKey::from_ikm(&[1; 32], b"").unwrap();
    let c = SecretKey::from_ikm(&[1; 32], b"other info").unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn debug_output_never_shows_secrets() {
    let secret = SecretKey::from_ikm(&[3; 32], b"").unwrap();
    let shown = format!("{secret:?}");
    assert!(!shown.contains(&hex::encode(secret.to_bytes().as_slice())));
    assert!(shown.contains("redacted"));
    let (_, shares) = deal::<MinSig, _>(1, 1, &mut StdRng::seed_from_u64(1)).unwrap();
    let shown = format!("{:?}", shares[0]);
    assert!(!shown.contains(&hex::encode(shares[0].secret_key().to_bytes().as_slice())));
}
