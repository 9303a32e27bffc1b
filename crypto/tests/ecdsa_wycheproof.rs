//! The pipeline's ECDSA verifier against Wycheproof's secp256k1/SHA-256
//! vectors (`../shared/vectors/wycheproof`, read at test time): DER and
//! IEEE P1363 encodings under plain ECDSA, and the Bitcoin variant, which
//! also rejects the high-`s` form of every signature.

mod common;

use chainkey_crypto::batch::{
    BatchVerifier, EcdsaClaim, Job, Malleability, Secp256k1, VerifierConfig,
};
use k256::ecdsa::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

/// How a file encodes its signatures.
#[derive(Clone, Copy)]
enum Encoding {
    Der,
    P1363,
}

/// Runs every vector of `file` through one batch of the pipeline and
/// compares each verdict with Wycheproof's; returns how many were read.
fn check_file(file: &str, encoding: Encoding, malleability: Malleability) -> usize {
    let suite = common::json_file(&format!("wycheproof/{file}"));
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    let mut ids = Vec::new();
    let mut seen = 0;
    for group in suite["testGroups"].as_array().expect("test groups") {
        assert_eq!(
            group["sha"], "SHA-256",
            "{file}: only SHA-256 groups expected"
        );
        let key =
            VerifyingKey::from_sec1_bytes(&common::unhex(&group["publicKey"]["uncompressed"]))
                .expect("Wycheproof's secp256k1 keys are valid points");
        for test in group["tests"].as_array().expect("tests") {
            let valid = match test["result"].as_str() {
                Some("valid") => true,
                Some("invalid") => false,
                other => panic!("{file}: unexpected result {other:?}"),
            };
            let bytes = common::unhex(&test["sig"]);
            let signature = match encoding {
                Encoding::Der => Signature::from_der(&bytes),
                Encoding::P1363 => Signature::from_slice(&bytes),
            };
            let id = test["tcId"].as_u64().expect("tcId");
            seen += 1;
            let Ok(signature) = signature else {
                // Undecodable: the verifier never sees it, which is right only for invalid vectors.
                assert!(
                    !valid,
                    "{file} test {id}: a valid signature failed to decode"
                );
                continue;
            };
            let message_hash: [u8; 32] = Sha256::digest(common::unhex(&test["msg"])).into();
            jobs.push(Job::new(EcdsaClaim::<Secp256k1> {
                key,
                message_hash,
                signature,
                malleability,
            }));
            expected.push(valid);
            ids.push(id);
        }
    }
    let verifier = BatchVerifier::new(VerifierConfig {
        threads: 2,
        ..VerifierConfig::default()
    });
    let verdicts = verifier.verify(&jobs);
    for ((verdict, want), id) in verdicts.iter().zip(&expected).zip(&ids) {
        assert_eq!(verdict, want, "{file} test {id}");
    }
    assert_eq!(
        seen,
        suite["numberOfTests"].as_u64().expect("count") as usize,
        "{file}: every vector read"
    );
    seen
}

#[test]
fn der_signatures_under_plain_ecdsa() {
    assert_eq!(
        check_file(
            "ecdsa_secp256k1_sha256_test.json",
            Encoding::Der,
            Malleability::EitherS
        ),
        476
    );
}

#[test]
fn p1363_signatures_under_plain_ecdsa() {
    assert_eq!(
        check_file(
            "ecdsa_secp256k1_sha256_p1363_test.json",
            Encoding::P1363,
            Malleability::EitherS
        ),
        252
    );
}

#[test]
fn bitcoin_signatures_reject_high_s() {
    assert_eq!(
        check_file(
            "ecdsa_secp256k1_sha256_bitcoin_test.json",
            Encoding::Der,
            Malleability::LowSOnly
        ),
        463
    );
}
