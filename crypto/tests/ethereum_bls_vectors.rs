//! The Ethereum consensus BLS test vectors (ethereum/bls12-381-tests):
//! min-pk with the proof-of-possession ciphersuite
//! `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`.
//!
//! `output: null` (or `false`) means the operation must fail; any decoding
//! error on the way counts as that failure.

mod common;

use chainkey_crypto::{
    BlsGroup, Ciphersuite, Error, G1Projective, G2Affine, G2Projective, MinPk, PublicKey,
    SecretKey, Signature,
};
use common::{json_cases, unhex, unhex_list};
use group::Curve;
use serde_json::Value;

type Pk = PublicKey<MinPk>;
type Sig = Signature<MinPk>;

fn suite() -> Ciphersuite<MinPk> {
    Ciphersuite::proof_of_possession()
}

fn public_keys(value: &Value) -> Result<Vec<Pk>, Error> {
    unhex_list(value)
        .iter()
        .map(|bytes| Pk::from_bytes(bytes))
        .collect()
}

fn signatures(value: &Value) -> Result<Vec<Sig>, Error> {
    unhex_list(value)
        .iter()
        .map(|bytes| Sig::from_bytes(bytes))
        .collect()
}

/// Runs `check` on every case of `folder`, comparing its boolean answer with `output`.
fn expect_bool(folder: &str, check: impl Fn(&Value) -> Result<(), Error>) {
    for (name, case) in json_cases(folder) {
        let expected = case["output"]
            .as_bool()
            .unwrap_or_else(|| panic!("{name}: boolean output"));
        let actual = check(&case["input"]);
        assert_eq!(actual.is_ok(), expected, "{folder}/{name}: got {actual:?}");
    }
}

#[test]
fn sign() {
    for (name, case) in json_cases("ethereum-bls/sign") {
        let input = &case["input"];
        let signature = SecretKey::from_bytes(&unhex(&input["privkey"]))
            .map(|key| suite().sign(&key, &unhex(&input["message"])).to_bytes());
        match &case["output"] {
            Value::Null => assert!(signature.is_err(), "{name}: signing must fail"),
            output => assert_eq!(signature.unwrap(), unhex(output), "{name}"),
        }
    }
}

#[test]
fn verify() {
    expect_bool("ethereum-bls/verify", |input| {
        let key = Pk::from_bytes(&unhex(&input["pubkey"]))?;
        let signature = Sig::from_bytes(&unhex(&input["signature"]))?;
        suite().verify(&key, &unhex(&input["message"]), &signature)
    });
}

#[test]
fn aggregate() {
    for (name, case) in json_cases("ethereum-bls/aggregate") {
        let aggregate = signatures(&case["input"]).and_then(|sigs| Sig::aggregate(&sigs));
        match &case["output"] {
            Value::Null => assert!(aggregate.is_err(), "{name}: aggregation must fail"),
            output => assert_eq!(aggregate.unwrap().to_bytes(), unhex(output), "{name}"),
        }
    }
}

#[test]
fn aggregate_verify() {
    expect_bool("ethereum-bls/aggregate_verify", |input| {
        let keys = public_keys(&input["pubkeys"])?;
        let messages = unhex_list(&input["messages"]);
        let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let signature = Sig::from_bytes(&unhex(&input["signature"]))?;
        suite().aggregate_verify(&keys, &messages, &signature)
    });
}

#[test]
fn fast_aggregate_verify() {
    expect_bool("ethereum-bls/fast_aggregate_verify", |input| {
        let keys = public_keys(&input["pubkeys"])?;
        let signature = Sig::from_bytes(&unhex(&input["signature"]))?;
        suite().fast_aggregate_verify(&keys, &unhex(&input["message"]), &signature)
    });
}

#[test]
fn batch_verify() {
    expect_bool("ethereum-bls/batch_verify", |input| {
        let keys = public_keys(&input["pubkeys"])?;
        let messages = unhex_list(&input["messages"]);
        let messages: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        let signatures = signatures(&input["signatures"])?;
        suite().batch_verify(&keys, &messages, &signatures, &mut rand::thread_rng())
    });
}

#[test]
fn deserialization_g1() {
    expect_bool("ethereum-bls/deserialization_G1", |input| {
        G1Projective::from_compressed_slice(&unhex(&input["pubkey"])).map(drop)
    });
}

#[test]
fn deserialization_g2() {
    expect_bool("ethereum-bls/deserialization_G2", |input| {
        G2Projective::from_compressed_slice(&unhex(&input["signature"])).map(drop)
    });
}

/// These vectors are RFC 9380's G2 cases (DST `QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_`),
/// with coordinates written `c0,c1`.
#[test]
fn hash_to_g2() {
    const DST: &[u8] = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";
    for (name, case) in json_cases("ethereum-bls/hash_to_G2") {
        let message = case["input"]["msg"].as_str().unwrap();
        let expected = g2_from_coordinates(&case["output"]["x"], &case["output"]["y"]);
        let actual = <G2Projective as BlsGroup>::hash_to_curve(message.as_bytes(), DST).to_affine();
        assert_eq!(actual, expected, "{name}");
    }
}

/// Builds a G2 point from `"c0,c1"` hex coordinates via the uncompressed
/// ZCash encoding `x.c1 ‖ x.c0 ‖ y.c1 ‖ y.c0`.
pub fn g2_from_coordinates(x: &Value, y: &Value) -> G2Affine {
    let mut bytes = Vec::with_capacity(192);
    for coordinate in [x, y] {
        let text = coordinate.as_str().unwrap();
        let (c0, c1) = text.split_once(',').unwrap();
        bytes.extend(unhex(&Value::from(c1)));
        bytes.extend(unhex(&Value::from(c0)));
    }
    Option::from(G2Affine::from_uncompressed(&bytes.try_into().unwrap()))
        .expect("vector point on G2")
}

#[test]
fn all_104_cases_are_present() {
    let folders = [
        "sign",
        "verify",
        "aggregate",
        "aggregate_verify",
        "fast_aggregate_verify",
        "batch_verify",
        "hash_to_G2",
        "deserialization_G1",
        "deserialization_G2",
    ];
    let total: usize = folders
        .iter()
        .map(|folder| json_cases(&format!("ethereum-bls/{folder}")).len())
        .sum();
    assert_eq!(total, 104);
}
