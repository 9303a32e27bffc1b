//! The crypto decoders that take bytes from peers, fed hostile bytes:
//! keys, signatures and commitments, NIDKG dealings, IDKG dealings and
//! MEGa keys. None may panic; bad input is a typed error. Bolero
//! harnesses whose input is a list of edits applied to valid encodings
//! built here (and, as is, the raw input); under `cargo test` each runs
//! for `BOLERO_RANDOM_TEST_TIME_MS` (1 s by default), TESTING.md gives
//! the longer campaign.

use bolero::check;
use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::nidkg::{self, DkgConfig, EncryptionSecretKey};
use chainkey_crypto::tecdsa::{
    DealerInput, Dealing, EcdsaSignature, LocalSubnet, MegaPublicKey, MegaSecretKey, Operation,
};
use chainkey_crypto::{MinPk, MinSig, PublicKey, SecretKey, Signature};
use rand::SeedableRng;

/// `base` changed by `edits`, three bytes an edit: an operation, a
/// position and a value.
fn mutate(base: &[u8], edits: &[u8]) -> Vec<u8> {
    let mut bytes = base.to_vec();
    for edit in edits.chunks_exact(3) {
        let position = (usize::from(edit[1]) << 4 | usize::from(edit[0] >> 4)) % (bytes.len() + 1);
        match edit[0] % 4 {
            0 if position < bytes.len() => bytes[position] = edit[2],
            1 => bytes.insert(position, edit[2]),
            2 if position < bytes.len() => drop(bytes.remove(position)),
            3 => bytes.truncate(position.max(bytes.len().saturating_sub(usize::from(edit[2])))),
            _ => {}
        }
    }
    bytes
}

/// Runs `decode` on the raw input and on every seed mutated by it.
fn fuzz(seeds: Vec<Vec<u8>>, decode: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    check!().for_each(|input| {
        let input = &input[..input.len().min(1 << 16)];
        decode(input);
        for seed in &seeds {
            decode(&mutate(seed, input));
        }
    });
}

/// BLS keys and signatures of both variants.
#[test]
fn bls_encodings() {
    let key = SecretKey::generate(&mut rand::rngs::StdRng::seed_from_u64(1));
    let seeds = vec![
        key.public_key::<MinSig>().to_bytes().to_vec(),
        key.public_key::<MinPk>().to_bytes().to_vec(),
    ];
    fuzz(seeds, |bytes| {
        let _ = PublicKey::<MinSig>::from_bytes(bytes);
        let _ = PublicKey::<MinPk>::from_bytes(bytes);
        let _ = Signature::<MinSig>::from_bytes(bytes);
        let _ = Signature::<MinPk>::from_bytes(bytes);
    });
}

/// NIDKG dealings for a 4-receiver config, and receivers' keys.
#[test]
fn nidkg_dealings() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    let keys: Vec<_> = (0..4)
        .map(|_| EncryptionSecretKey::generate(&mut rng))
        .collect();
    let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
    let config = DkgConfig::new(b"fuzz", receivers, 2, 2).unwrap();
    let dealing = nidkg::Dealing::create(&config, 0, &mut rng).unwrap();
    let seeds = vec![dealing.to_bytes(), keys[0].public_key().to_bytes().to_vec()];
    fuzz(seeds, |bytes| {
        let _ = nidkg::Dealing::from_bytes(bytes, &config);
        let _ = nidkg::EncryptionPublicKey::from_bytes(bytes);
        let _ = nidkg::ProofOfPossession::from_bytes(bytes);
    });
}

/// IDKG (chain-key ECDSA) dealings, MEGa keys and signatures.
#[test]
fn idkg_encodings() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let subnet = LocalSubnet::<Secp256k1>::new("fuzz", 4, 2, &mut rng);
    let params = subnet.params(4, Operation::Random).unwrap();
    let dealing = Dealing::create(&params, 0, DealerInput::Fresh, &mut rng).unwrap();
    let mega = MegaSecretKey::<Secp256k1>::generate(&mut rng).public_key();
    let seeds = vec![dealing.to_bytes(), mega.to_bytes().to_vec()];
    fuzz(seeds, |bytes| {
        let _ = Dealing::<Secp256k1>::from_bytes(bytes);
        let _ = MegaPublicKey::<Secp256k1>::from_bytes(bytes);
        let _ = EcdsaSignature::<Secp256k1>::from_bytes(bytes);
    });
}
