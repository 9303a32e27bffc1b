//! Adversarial dealings and proof-tampering tests. They live inside the
//! crate because a cheating dealer needs the internals an honest API hides
//! (encrypting chunks it did not derive from its polynomial, proving with a
//! wrong witness).

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::{Curve, Group};

use super::checks::all_hold;
use super::dealing::{assemble, statement};
use super::encryption::{encrypt, split_into_chunks};
use super::*;
use crate::backend::CpuBackend;
use crate::polynomial::Polynomial;

struct Fixture {
    keys: Vec<EncryptionSecretKey>,
    config: DkgConfig,
}

fn fixture(n: usize, t: usize) -> Fixture {
    let mut rng = rand::thread_rng();
    let keys: Vec<_> = (0..n)
        .map(|_| EncryptionSecretKey::generate(&mut rng))
        .collect();
    let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
    let config = DkgConfig::new(b"test dkg", receivers, t, 2).unwrap();
    Fixture { keys, config }
}

/// An honest polynomial's commitment and shares for `config`.
fn polynomial_shares(config: &DkgConfig) -> (Vec<G2Affine>, Vec<Scalar>) {
    let mut rng = rand::thread_rng();
    let polynomial =
        Polynomial::random_with_secret(Scalar::random(&mut rng), config.threshold, &mut rng)
            .unwrap();
    let commitment = polynomial
        .coefficients()
        .iter()
        .map(|a| (G2Projective::generator() * a).to_affine())
        .collect();
    let shares = (1..=config.receivers.len() as u64)
        .map(|i| polynomial.evaluate(Scalar::from(i)))
        .collect();
    (commitment, shares)
}

fn fault_of(config: &DkgConfig, dealer: u32, dealing: Dealing) -> Option<DealingFault> {
    match verify_dealing(config, dealer, dealing) {
        Ok(_) => None,
        Err(DkgError::InvalidDealing {
            dealer: named,
            fault,
        }) => {
            assert_eq!(named, dealer);
            Some(fault)
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }
}

#[test]
fn honest_dealings_verify() {
    let f = fixture(4, 2);
    let dealing = Dealing::create(&f.config, 7, &mut rand::thread_rng()).unwrap();
    assert_eq!(fault_of(&f.config, 7, dealing), None);
}

#[test]
fn wrong_share_for_one_receiver_breaks_the_sharing_proof() {
    let f = fixture(4, 2);
    let (commitment, mut shares) = polynomial_shares(&f.config);
    shares[2] += Scalar::ONE; // receiver 2 gets f(3) + 1; its chunks stay in range
    let chunks: Vec<_> = shares.iter().map(split_into_chunks).collect();
    let dealing = assemble(
        &f.config,
        1,
        commitment,
        &shares,
        &chunks,
        &mut rand::thread_rng(),
    )
    .unwrap();
    assert_eq!(
        fault_of(&f.config, 1, dealing),
        Some(DealingFault::SharingProof)
    );
}

#[test]
fn chunks_out_of_range_cannot_be_proven_and_a_forged_proof_is_rejected() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let (commitment, shares) = polynomial_shares(&f.config);
    let honest: Vec<_> = shares.iter().map(split_into_chunks).collect();
    let mut bad = honest.clone();
    bad[1][3] = 1 << 40;
    // An honest prover cannot prove these chunks.
    assert_eq!(
        assemble(&f.config, 1, commitment.clone(), &shares, &bad, &mut rng).unwrap_err(),
        DkgError::ChunkOutOfRange
    );
    // A cheater encrypts them and proves with the in-range witness instead.
    let (ciphertexts, randomness) = encrypt(&f.config.receivers, &bad, &mut rng);
    let statement = statement(&f.config, 1, &commitment, &ciphertexts);
    let dealing = Dealing {
        sharing_proof: sharing_proof::prove(
            &statement,
            &f.config.receivers,
            &randomness,
            &shares,
            &mut rng,
        ),
        chunking_proof: chunking_proof::prove(
            &statement,
            &f.config.receivers,
            &randomness,
            &honest,
            &mut rng,
        )
        .unwrap(),
        commitment,
        ciphertexts,
    };
    assert_eq!(
        fault_of(&f.config, 1, dealing),
        Some(DealingFault::ChunkingProof)
    );
}

#[test]
fn a_response_outside_the_range_is_named() {
    let f = fixture(4, 2);
    let mut dealing = Dealing::create(&f.config, 1, &mut rand::thread_rng()).unwrap();
    dealing.chunking_proof.z_s[5] = chunking_proof::range_bounds(4).1;
    assert_eq!(
        fault_of(&f.config, 1, dealing),
        Some(DealingFault::ChunkResponseOutOfRange)
    );
}

#[test]
fn slightly_out_of_range_chunks_pass_and_still_decrypt() {
    // The range proof is approximate: chunk 0 = c₀ + B with chunk 1 = c₁ − 1
    // encodes the same share and verifies; decryption must still find it.
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let (commitment, shares) = polynomial_shares(&f.config);
    let mut chunks: Vec<_> = shares.iter().map(split_into_chunks).collect();
    let row = &mut chunks[2];
    let j = (0..NUM_CHUNKS - 1).find(|&j| row[j + 1] > 0).unwrap();
    row[j] += CHUNK_SIZE;
    row[j + 1] -= 1;
    let dealing = assemble(&f.config, 1, commitment, &shares, &chunks, &mut rng).unwrap();
    let verified = verify_dealing(&f.config, 1, dealing).unwrap();
    let honest = verify_dealing(
        &f.config,
        2,
        Dealing::create(&f.config, 2, &mut rng).unwrap(),
    )
    .unwrap();
    let transcript = Transcript::create(&f.config, vec![verified, honest]).unwrap();
    for (position, key) in f.keys.iter().enumerate() {
        let share = transcript.decrypt_share(position, key).unwrap();
        assert_eq!(share.index() as usize, position + 1);
    }
    // Without budget for the search, receiver 2 gets a typed error.
    assert_eq!(
        transcript
            .decrypt_share_with_budget(2, &f.keys[2], 0)
            .unwrap_err(),
        DkgError::DecryptionBudgetExceeded
    );
}

#[test]
fn commitment_of_wrong_degree_is_named() {
    let f = fixture(4, 2);
    let higher = DkgConfig::new(b"test dkg", f.config.receivers.clone(), 3, 2).unwrap();
    let dealing = Dealing::create(&higher, 1, &mut rand::thread_rng()).unwrap();
    assert_eq!(
        fault_of(&f.config, 1, dealing),
        Some(DealingFault::CommitmentDegree {
            expected: 2,
            actual: 3
        })
    );
}

#[test]
fn replayed_dealings_and_spliced_proofs_are_rejected() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let first = Dealing::create(&f.config, 1, &mut rng).unwrap();
    let second = Dealing::create(&f.config, 2, &mut rng).unwrap();
    // Dealer 3 replays dealer 1's dealing.
    assert_eq!(
        fault_of(&f.config, 3, first.clone()),
        Some(DealingFault::ChunkingProof)
    );
    // Dealer 2 reuses dealer 1's proofs on its own ciphertexts.
    let mut spliced = second.clone();
    spliced.sharing_proof = first.sharing_proof.clone();
    assert_eq!(
        fault_of(&f.config, 2, spliced),
        Some(DealingFault::SharingProof)
    );
    let mut spliced = second;
    spliced.chunking_proof = first.chunking_proof;
    assert_eq!(
        fault_of(&f.config, 2, spliced),
        Some(DealingFault::ChunkingProof)
    );
}

#[test]
fn a_dealing_for_another_receiver_set_is_rejected() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let dealing = Dealing::create(&f.config, 1, &mut rng).unwrap();
    let mut receivers = f.config.receivers.clone();
    receivers[3] = EncryptionSecretKey::generate(&mut rng).public_key();
    let other = DkgConfig::new(b"test dkg", receivers, 2, 2).unwrap();
    assert!(fault_of(&other, 1, dealing.clone()).is_some());
    let other_id = DkgConfig::new(b"another dkg", f.config.receivers.clone(), 2, 2).unwrap();
    assert!(fault_of(&other_id, 1, dealing).is_some());
}

#[test]
fn malformed_encodings_name_the_field() {
    let f = fixture(4, 2);
    let dealing = Dealing::create(&f.config, 1, &mut rand::thread_rng()).unwrap();
    let bytes = dealing.to_bytes();
    assert_eq!(bytes.len(), Dealing::encoded_len(4, 2));
    assert_eq!(Dealing::from_bytes(&bytes, &f.config).unwrap(), dealing);

    let chunks_start = 2 * 96 + NUM_CHUNKS * 48;
    let mut corrupt = bytes.clone();
    corrupt[chunks_start + 5 * 48 + 20] ^= 0x40;
    assert!(matches!(
        Dealing::from_bytes(&corrupt, &f.config),
        Err(DkgError::Malformed {
            field: "chunks",
            ..
        })
    ));
    let mut corrupt = bytes.clone();
    corrupt[0] ^= 0x80; // clears the compression flag of A₀
    assert!(matches!(
        Dealing::from_bytes(&corrupt, &f.config),
        Err(DkgError::Malformed {
            field: "commitment",
            ..
        })
    ));
    let mut corrupt = bytes.clone();
    let z_beta = bytes.len() - 32;
    corrupt[z_beta..].fill(0xff);
    assert_eq!(
        Dealing::from_bytes(&corrupt, &f.config),
        Err(DkgError::Malformed {
            field: "chunking proof z_beta",
            error: crate::Error::NonCanonicalScalar
        })
    );
    assert!(matches!(
        Dealing::from_bytes(&bytes[1..], &f.config),
        Err(DkgError::Malformed {
            field: "dealing",
            ..
        })
    ));
}

#[test]
fn batches_name_exactly_the_invalid_dealings() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let mut dealings: Vec<(u32, Dealing)> = (0..8)
        .map(|dealer| {
            (
                dealer,
                Dealing::create(&f.config, dealer, &mut rng).unwrap(),
            )
        })
        .collect();
    dealings[2].1.sharing_proof.z_r += Scalar::ONE;
    dealings[5].1.chunking_proof.z_beta += Scalar::ONE;
    let on_a_backend = verify_dealings_on(&CpuBackend::new(2), &f.config, dealings.clone());
    let verdicts = verify_dealings(&f.config, dealings);
    let faults = |verdicts: &[Result<VerifiedDealing, DkgError>]| {
        let faults = verdicts.iter().map(|v| v.as_ref().err().cloned());
        faults.collect::<Vec<_>>()
    };
    assert_eq!(faults(&on_a_backend), faults(&verdicts));
    for (dealer, verdict) in verdicts.iter().enumerate() {
        match dealer {
            2 => assert_eq!(
                verdict.as_ref().unwrap_err(),
                &DkgError::InvalidDealing {
                    dealer: 2,
                    fault: DealingFault::SharingProof
                }
            ),
            5 => assert_eq!(
                verdict.as_ref().unwrap_err(),
                &DkgError::InvalidDealing {
                    dealer: 5,
                    fault: DealingFault::ChunkingProof
                }
            ),
            _ => assert!(verdict.is_ok(), "dealer {dealer}"),
        }
    }
}

#[test]
fn too_few_or_duplicate_dealings_give_clear_errors() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let one = verify_dealing(
        &f.config,
        1,
        Dealing::create(&f.config, 1, &mut rng).unwrap(),
    )
    .unwrap();
    assert_eq!(
        Transcript::create(&f.config, vec![one.clone()]).unwrap_err(),
        DkgError::NotEnoughDealings {
            needed: 2,
            valid: 1
        }
    );
    assert_eq!(
        Transcript::create(&f.config, vec![one.clone(), one.clone()]).unwrap_err(),
        DkgError::DuplicateDealer(1)
    );
    let other = DkgConfig::new(b"other", f.config.receivers.clone(), 2, 1).unwrap();
    assert_eq!(
        Transcript::create(&other, vec![one]).unwrap_err(),
        DkgError::ConfigMismatch
    );
}

#[test]
fn resharing_a_different_secret_is_named() {
    let f = fixture(4, 2);
    let mut rng = rand::thread_rng();
    let (previous, old_shares) =
        crate::threshold::deal::<crate::MinSig, _>(2, 4, &mut rng).unwrap();
    let config =
        DkgConfig::resharing(b"reshare", f.config.receivers.clone(), 3, &previous, 4).unwrap();
    let honest = Dealing::reshare(&config, &old_shares[0], &mut rng).unwrap();
    assert_eq!(fault_of(&config, 1, honest.clone()), None);
    // Dealer 1's dealing presented as dealer 2's: wrong constant term.
    assert_eq!(
        fault_of(&config, 2, honest.clone()),
        Some(DealingFault::ResharedKeyMismatch)
    );
    assert_eq!(
        fault_of(&config, 9, honest),
        Some(DealingFault::UnknownDealer)
    );
    // A fresh secret instead of the old share.
    let fresh = deal_fresh_secret_as_resharing(&config, 3);
    assert_eq!(
        fault_of(&config, 3, fresh),
        Some(DealingFault::ResharedKeyMismatch)
    );
}

fn deal_fresh_secret_as_resharing(config: &DkgConfig, dealer: u32) -> Dealing {
    let (commitment, shares) = polynomial_shares(config);
    let chunks: Vec<_> = shares.iter().map(split_into_chunks).collect();
    assemble(
        config,
        dealer,
        commitment,
        &shares,
        &chunks,
        &mut rand::thread_rng(),
    )
    .unwrap()
}

// ---- Proof soundness sanity: tampering any single public input breaks each proof.

fn sharing_holds(config: &DkgConfig, dealer: u32, dealing: &Dealing) -> bool {
    let statement = statement(config, dealer, &dealing.commitment, &dealing.ciphertexts);
    let checks = sharing_proof::checks(
        &statement,
        config.receivers.len(),
        config.threshold,
        &dealing.sharing_proof,
        &mut rand::thread_rng(),
    );
    all_hold(&config.receivers, &[(dealing, &checks)], None)
}

fn chunking_holds(config: &DkgConfig, dealer: u32, dealing: &Dealing) -> bool {
    let statement = statement(config, dealer, &dealing.commitment, &dealing.ciphertexts);
    chunking_proof::checks(
        &statement,
        config.receivers.len(),
        config.threshold,
        &dealing.chunking_proof,
        &mut rand::thread_rng(),
    )
    .is_ok_and(|checks| all_hold(&config.receivers, &[(dealing, &checks)], None))
}

fn bump_g1(point: &mut G1Affine) {
    *point = (G1Projective::from(*point) + G1Projective::generator()).to_affine();
}

fn bump_g2(point: &mut G2Affine) {
    *point = (G2Projective::from(*point) + G2Projective::generator()).to_affine();
}

type Tamper = Box<dyn Fn(&mut DkgConfig, &mut u32, &mut Dealing)>;

/// One tampering per public input of the dealing statement.
fn statement_tamperings(n: usize, t: usize) -> Vec<(String, Tamper)> {
    let mut all: Vec<(String, Tamper)> = Vec::new();
    for i in 0..n {
        all.push((
            format!("receiver key {i}"),
            Box::new(move |config, _, _| {
                let mut receivers = config.receivers.clone();
                bump_g1(&mut receivers[i].0);
                *config = DkgConfig::new(
                    b"test dkg",
                    receivers,
                    config.threshold,
                    config.min_dealings,
                )
                .unwrap();
            }),
        ));
    }
    all.push(("dealer".into(), Box::new(|_, dealer, _| *dealer += 1)));
    for k in 0..t {
        all.push((
            format!("commitment {k}"),
            Box::new(move |_, _, d| bump_g2(&mut d.commitment[k])),
        ));
    }
    for j in 0..NUM_CHUNKS {
        all.push((
            format!("randomizer {j}"),
            Box::new(move |_, _, d| bump_g1(&mut d.ciphertexts.randomizers[j])),
        ));
    }
    for i in 0..n {
        for j in 0..NUM_CHUNKS {
            all.push((
                format!("chunk ({i}, {j})"),
                Box::new(move |_, _, d| bump_g1(&mut d.ciphertexts.chunks[i][j])),
            ));
        }
    }
    all
}

fn sharing_proof_tamperings() -> Vec<(String, Tamper)> {
    vec![
        (
            "F".into(),
            Box::new(|_, _, d| bump_g1(&mut d.sharing_proof.f)),
        ),
        (
            "A".into(),
            Box::new(|_, _, d| bump_g2(&mut d.sharing_proof.a)),
        ),
        (
            "Y".into(),
            Box::new(|_, _, d| bump_g1(&mut d.sharing_proof.y)),
        ),
        (
            "z_r".into(),
            Box::new(|_, _, d| d.sharing_proof.z_r += Scalar::ONE),
        ),
        (
            "z_alpha".into(),
            Box::new(|_, _, d| d.sharing_proof.z_alpha += Scalar::ONE),
        ),
    ]
}

fn chunking_proof_tamperings(n: usize) -> Vec<(String, Tamper)> {
    let mut all: Vec<(String, Tamper)> = vec![
        (
            "y0".into(),
            Box::new(|_, _, d| bump_g1(&mut d.chunking_proof.y0)),
        ),
        (
            "Y".into(),
            Box::new(|_, _, d| bump_g1(&mut d.chunking_proof.y)),
        ),
        (
            "z_beta".into(),
            Box::new(|_, _, d| d.chunking_proof.z_beta += Scalar::ONE),
        ),
    ];
    for k in 0..REPETITIONS {
        all.push((
            format!("b {k}"),
            Box::new(move |_, _, d| bump_g1(&mut d.chunking_proof.b[k])),
        ));
        all.push((
            format!("c {k}"),
            Box::new(move |_, _, d| bump_g1(&mut d.chunking_proof.c[k])),
        ));
        all.push((
            format!("z_s {k}"),
            Box::new(move |_, _, d| d.chunking_proof.z_s[k] ^= 1),
        ));
    }
    for i in 0..=n {
        all.push((
            format!("d {i}"),
            Box::new(move |_, _, d| bump_g1(&mut d.chunking_proof.d[i])),
        ));
    }
    for i in 0..n {
        all.push((
            format!("z_r {i}"),
            Box::new(move |_, _, d| d.chunking_proof.z_r[i] += Scalar::ONE),
        ));
    }
    all
}

fn assert_each_tampering_breaks(
    f: &Fixture,
    dealing: &Dealing,
    tamperings: Vec<(String, Tamper)>,
    holds: fn(&DkgConfig, u32, &Dealing) -> bool,
) {
    assert!(
        holds(&f.config, 1, dealing),
        "the untampered proof verifies"
    );
    for (name, tamper) in tamperings {
        let (mut config, mut dealer, mut tampered) = (f.config.clone(), 1, dealing.clone());
        tamper(&mut config, &mut dealer, &mut tampered);
        assert!(
            !holds(&config, dealer, &tampered),
            "tampering with {name} went unnoticed"
        );
    }
}

#[test]
fn tampering_any_input_breaks_the_sharing_proof() {
    let f = fixture(4, 2);
    let dealing = Dealing::create(&f.config, 1, &mut rand::thread_rng()).unwrap();
    let mut tamperings = statement_tamperings(4, 2);
    tamperings.extend(sharing_proof_tamperings());
    assert_each_tampering_breaks(&f, &dealing, tamperings, sharing_holds);
}

#[test]
fn tampering_any_input_breaks_the_chunking_proof() {
    let f = fixture(4, 2);
    let dealing = Dealing::create(&f.config, 1, &mut rand::thread_rng()).unwrap();
    let mut tamperings = statement_tamperings(4, 2);
    tamperings.extend(chunking_proof_tamperings(4));
    assert_each_tampering_breaks(&f, &dealing, tamperings, chunking_holds);
}
