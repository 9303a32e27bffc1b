//! Key derivation against `ic-secp256k1`, DFINITY's own implementation of
//! the Internet Computer's derivation (the oracle), on random master keys,
//! callers and paths, and on the IC mainnet's master key `key_1`.

use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::tecdsa::{derive, ecdsa_public_key, DerivationPath, TecdsaError};
use group::GroupEncoding;
use ic_secp256k1::{CanisterId, MasterPublicKeyId, PrivateKey, PublicKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn random_bytes(rng: &mut StdRng, max: usize) -> Vec<u8> {
    let length = rng.gen_range(0..=max);
    (0..length).map(|_| rng.gen()).collect()
}

fn point(public: &PublicKey) -> k256::ProjectivePoint {
    let bytes = public.serialize_sec1(true);
    let mut repr = k256::CompressedPoint::default();
    repr.copy_from_slice(&bytes);
    Option::from(k256::ProjectivePoint::from_bytes(&repr)).expect("valid point")
}

#[test]
fn derived_public_keys_and_tweaks_match_ic_secp256k1() {
    let mut rng = StdRng::seed_from_u64(2026);
    for case in 0..200 {
        let master = PrivateKey::generate_using_rng(&mut rng);
        let caller = random_bytes(&mut rng, 29);
        let path: Vec<Vec<u8>> = (0..rng.gen_range(0..5))
            .map(|_| random_bytes(&mut rng, 40))
            .collect();
        let chain_code: [u8; 32] = if case % 2 == 0 { [0; 32] } else { rng.gen() };
        let ic_path = ic_secp256k1::DerivationPath::from_canister_id_and_path(&caller, &path);
        let (expected_key, expected_chain_code) = master
            .public_key()
            .derive_subkey_with_chain_code(&ic_path, &chain_code);

        let ours = derive::<Secp256k1>(
            &point(&master.public_key()),
            &chain_code,
            &DerivationPath::for_caller(&caller, &path),
        )
        .unwrap();
        assert_eq!(
            ours.public_key,
            point(&expected_key),
            "case {case}: public key"
        );
        assert_eq!(
            ours.chain_code, expected_chain_code,
            "case {case}: chain code"
        );

        // The tweak is the difference of the secret keys.
        let (derived_secret, _) = master.derive_subkey_with_chain_code(&ic_path, &chain_code);
        let secret = |key: &PrivateKey| -> k256::Scalar {
            Option::from(<k256::Scalar as ff::PrimeField>::from_repr(
                *k256::FieldBytes::from_slice(&key.serialize_sec1()),
            ))
            .expect("canonical scalar")
        };
        assert_eq!(
            secret(&master) + ours.tweak,
            secret(&derived_secret),
            "case {case}: tweak"
        );
    }
}

#[test]
fn ecdsa_public_key_matches_the_ic_mainnet_derivation_of_key_1() {
    let master = PublicKey::mainnet_key(MasterPublicKeyId::EcdsaKey1);
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..20 {
        let caller: Vec<u8> = (0..10).map(|_| rng.gen()).collect();
        let path: Vec<Vec<u8>> = (0..rng.gen_range(0..3))
            .map(|_| random_bytes(&mut rng, 16))
            .collect();
        let (expected, expected_chain_code) = PublicKey::derive_mainnet_key(
            MasterPublicKeyId::EcdsaKey1,
            &CanisterId::from_slice(&caller),
            &path,
        );
        let (key, chain_code) =
            ecdsa_public_key::<Secp256k1>(&point(&master), &caller, &path).unwrap();
        assert_eq!(key, expected.serialize_sec1(true));
        assert_eq!(chain_code, expected_chain_code);
        assert_eq!(key, point(&expected).to_bytes().to_vec());
    }
}

#[test]
fn paths_longer_than_the_ic_allows_are_refused() {
    let master = k256::ProjectivePoint::GENERATOR;
    let path = vec![vec![1u8]; 255];
    assert_eq!(
        ecdsa_public_key::<Secp256k1>(&master, b"caller", &path),
        Err(TecdsaError::DerivationPathTooLong { length: 256 })
    );
    assert!(ecdsa_public_key::<Secp256k1>(&master, b"caller", &path[1..]).is_ok());
}
