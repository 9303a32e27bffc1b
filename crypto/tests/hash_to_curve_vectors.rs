//! RFC 9380 test vectors: `expand_message_xmd` with SHA-256, and
//! `hash_to_curve` for BLS12381G1 and BLS12381G2 `XMD:SHA-256_SSWU_RO_`.

mod common;

use chainkey_crypto::hash::expand_message_xmd;
use chainkey_crypto::{BlsGroup, G1Affine, G1Projective, G2Affine, G2Projective};
use common::{json_file, unhex};
use group::Curve;
use serde_json::Value;

#[test]
fn expand_message_xmd_sha256() {
    for file in [
        "expand_message_xmd_SHA256_38.json",
        "expand_message_xmd_SHA256_256.json",
    ] {
        let suite = json_file(&format!("hash-to-curve/{file}"));
        let dst = suite["DST"].as_str().unwrap().as_bytes();
        let tests = suite["tests"].as_array().unwrap();
        assert!(!tests.is_empty(), "{file}: no tests");
        for test in tests {
            let message = test["msg"].as_str().unwrap().as_bytes();
            let length = usize::from_str_radix(
                test["len_in_bytes"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("0x"),
                16,
            )
            .unwrap();
            let output = expand_message_xmd(message, dst, length).unwrap();
            assert_eq!(
                output,
                unhex(&test["uniform_bytes"]),
                "{file}: msg {:?}, {length} bytes",
                test["msg"]
            );
        }
    }
}

/// Runs every vector of one hash-to-curve suite file, comparing affine points
/// as uncompressed ZCash encodings built from the vector's coordinates.
fn check_suite(
    file: &str,
    hash: impl Fn(&[u8], &[u8]) -> Vec<u8>,
    coordinate_bytes: impl Fn(&Value) -> Vec<u8>,
) {
    let suite = json_file(&format!("hash-to-curve/{file}"));
    let dst = suite["dst"].as_str().unwrap().as_bytes();
    let vectors = suite["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty(), "{file}: no vectors");
    for vector in vectors {
        let message = vector["msg"].as_str().unwrap().as_bytes();
        let mut expected = coordinate_bytes(&vector["P"]["x"]);
        expected.extend(coordinate_bytes(&vector["P"]["y"]));
        assert_eq!(
            hash(message, dst),
            expected,
            "{file}: msg {:?}",
            vector["msg"]
        );
    }
}

#[test]
fn hash_to_g1() {
    check_suite(
        "BLS12381G1_XMD_SHA-256_SSWU_RO_.json",
        |message, dst| {
            let point: G1Affine =
                <G1Projective as BlsGroup>::hash_to_curve(message, dst).to_affine();
            point.to_uncompressed().to_vec()
        },
        unhex,
    );
}

#[test]
fn hash_to_g2() {
    check_suite(
        "BLS12381G2_XMD_SHA-256_SSWU_RO_.json",
        |message, dst| {
            let point: G2Affine =
                <G2Projective as BlsGroup>::hash_to_curve(message, dst).to_affine();
            point.to_uncompressed().to_vec()
        },
        // Fp2 coordinates are written "c0,c1"; the encoding puts c1 first.
        |coordinate| {
            let (c0, c1) = coordinate.as_str().unwrap().split_once(',').unwrap();
            let mut bytes = unhex(&Value::from(c1));
            bytes.extend(unhex(&Value::from(c0)));
            bytes
        },
    );
}
