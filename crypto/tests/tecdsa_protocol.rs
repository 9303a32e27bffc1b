//! Threshold ECDSA end to end: key generation, presignatures, signing
//! under derived keys (checked with k256's standard verifier), resharing,
//! and robustness against up to f misbehaving nodes.

use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::tecdsa::{
    combine, derive, verify_dealings, DealerInput, Dealing, DerivationPath, EphemeralKey,
    LocalSubnet, MegaSecretKey, Operation, PresignatureShares, SignatureShare, SigningRequest,
    TecdsaError, Transcript, VerifiedDealing,
};
use chainkey_crypto::tecdsa::{verify_dealings_of, verify_signature};
use group::{Group, GroupEncoding};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

type Subnet = LocalSubnet<Secp256k1>;

fn request(rng: &mut StdRng) -> SigningRequest {
    let caller: Vec<u8> = (0..10).map(|_| rng.gen()).collect();
    let path: Vec<Vec<u8>> = (0..rng.gen_range(0..3))
        .map(|_| (0..rng.gen_range(0..20)).map(|_| rng.gen()).collect())
        .collect();
    SigningRequest {
        message_hash: rng.gen(),
        path: DerivationPath::for_caller(&caller, &path),
        randomness: rng.gen(),
    }
}

/// Checks `signature` with k256's standard verifier (which also insists on low s).
fn assert_verifies(public_key: &k256::ProjectivePoint, request: &SigningRequest, signature: &[u8]) {
    let key =
        k256::ecdsa::VerifyingKey::from_affine(public_key.to_affine()).expect("not the identity");
    let signature = k256::ecdsa::Signature::from_slice(signature).expect("r, s in range");
    key.verify_prehash(&request.message_hash, &signature)
        .expect("the combined signature verifies");
}

fn sign_and_check(subnet: &Subnet, key: &Transcript<Secp256k1>, rng: &mut StdRng) {
    let (presignature, shares) = subnet.presignature(key, rng).unwrap();
    let request = request(rng);
    let combined = Subnet::sign(&presignature, shares, key, &request).unwrap();
    assert!(combined.invalid_signers.is_empty());
    let derived =
        derive::<Secp256k1>(&key.commitment().constant_term(), &[0; 32], &request.path).unwrap();
    assert_eq!(combined.public_key, derived.public_key);
    assert_verifies(
        &combined.public_key,
        &request,
        &combined.signature.to_bytes(),
    );
}

#[test]
fn four_and_seven_nodes_sign_under_derived_keys() {
    let mut rng = StdRng::seed_from_u64(1);
    for (nodes, threshold) in [(4, 2), (7, 3)] {
        let subnet = Subnet::new("sign", nodes, threshold, &mut rng);
        let key = subnet.generate_key(&mut rng).unwrap();
        for _ in 0..3 {
            sign_and_check(&subnet, &key, &mut rng);
        }
    }
}

#[test]
fn any_threshold_subset_of_shares_signs_and_bad_shares_are_named() {
    let mut rng = StdRng::seed_from_u64(2);
    let subnet = Subnet::new("robust", 7, 3, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    let (presignature, node_shares) = subnet.presignature(&key, &mut rng).unwrap();
    let request = request(&mut rng);
    let other_request = SigningRequest {
        randomness: rng.gen(),
        ..request.clone()
    };
    let mut shares: Vec<SignatureShare<Secp256k1>> = Vec::new();
    for (index, node) in node_shares.into_iter().enumerate() {
        // Node 1 signs another session (a wrong share), node 4 stays silent.
        let share = match index {
            1 => SignatureShare::create(node, &presignature, &key, &other_request).unwrap(),
            4 => continue,
            _ => SignatureShare::create(node, &presignature, &key, &request).unwrap(),
        };
        shares.push(share);
    }
    // Node 6 replays node 0's share under its own index.
    let mut replayed = shares[0].clone();
    replayed.signer = 6;
    shares.retain(|share| share.signer != 6);
    shares.push(replayed);

    let combined = combine(&presignature, &key, &request, &shares).unwrap();
    assert_eq!(combined.invalid_signers, vec![1, 6]);
    assert_verifies(
        &combined.public_key,
        &request,
        &combined.signature.to_bytes(),
    );

    // With only two valid shares (threshold 3) nothing is output.
    let too_few: Vec<_> = shares
        .iter()
        .filter(|share| [0, 1, 2, 6].contains(&share.signer))
        .cloned()
        .collect();
    assert_eq!(
        combine(&presignature, &key, &request, &too_few),
        Err(TecdsaError::NotEnoughShares {
            needed: 3,
            valid: 2,
            invalid_signers: vec![1, 6]
        })
    );
    // Each valid subset gives the same signature (r is fixed, s low).
    let subset: Vec<_> = shares
        .iter()
        .filter(|share| [2, 3, 5].contains(&share.signer))
        .cloned()
        .collect();
    assert_eq!(
        combine(&presignature, &key, &request, &subset)
            .unwrap()
            .signature,
        combined.signature
    );
}

#[test]
fn invalid_and_replayed_dealings_are_rejected_with_the_dealer_named() {
    let mut rng = StdRng::seed_from_u64(3);
    let subnet = Subnet::new("dealings", 4, 2, &mut rng);
    let masked = subnet.random(false, &mut rng).unwrap();
    let params = subnet
        .params(4, Operation::ReshareOfMasked(masked.commitment().clone()))
        .unwrap();
    let share = subnet.share(&masked, 2).unwrap();
    let dealing = Dealing::create(&params, 2, DealerInput::Reshare(&share), &mut rng).unwrap();
    assert!(dealing.verify(&params).is_ok());

    // A dealer cannot reshare someone else's share.
    assert_eq!(
        Dealing::create(&params, 1, DealerInput::Reshare(&share), &mut rng).unwrap_err(),
        TecdsaError::WrongDealerInput { dealer: 1 }
    );
    // A different constant term (resharing another value) fails the proof.
    let mut tampered = dealing.clone();
    tampered.commitment.points[0] += k256::ProjectivePoint::GENERATOR;
    assert_eq!(
        tampered.verify(&params),
        Err(TecdsaError::InvalidDealing {
            dealer: 2,
            check: "proof"
        })
    );
    // Replayed under another dealer's name, or into another transcript.
    let mut relabelled = dealing.clone();
    relabelled.dealer = 3;
    assert!(matches!(
        relabelled.verify(&params),
        Err(TecdsaError::InvalidDealing { dealer: 3, .. })
    ));
    let other = subnet
        .params(4, Operation::ReshareOfMasked(masked.commitment().clone()))
        .unwrap();
    assert!(matches!(
        dealing.verify(&other),
        Err(TecdsaError::InvalidDealing {
            dealer: 2,
            check: "ciphertexts"
        })
    ));
    // Wrong shapes.
    let mut short = dealing.clone();
    short.commitment.points.pop();
    assert_eq!(
        short.verify(&params),
        Err(TecdsaError::InvalidDealing {
            dealer: 2,
            check: "commitment shape"
        })
    );
    let mut missing = dealing.clone();
    missing.ciphertexts.shares.pop();
    assert_eq!(
        missing.verify(&params),
        Err(TecdsaError::InvalidDealing {
            dealer: 2,
            check: "ciphertexts"
        })
    );

    // Too few verified dealings, or two from one dealer.
    let verified = VerifiedDealing::verify(dealing, &params).unwrap();
    assert_eq!(
        Transcript::create(&params, vec![verified.clone()]).unwrap_err(),
        TecdsaError::NotEnoughDealings { needed: 2, got: 1 }
    );
    assert_eq!(
        Transcript::create(&params, vec![verified.clone(), verified]).unwrap_err(),
        TecdsaError::DuplicateDealer(2)
    );
}

#[test]
fn a_batch_of_presignatures_made_with_shared_ephemeral_keys_signs() {
    let mut rng = StdRng::seed_from_u64(11);
    let subnet = Subnet::new("batch", 4, 2, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    let batch = subnet.presignatures(&key, 3, &mut rng).unwrap();
    assert_eq!(batch.len(), 3);
    for (presignature, shares) in batch {
        let request = request(&mut rng);
        let combined = Subnet::sign(&presignature, shares, &key, &request).unwrap();
        assert_verifies(
            &combined.public_key,
            &request,
            &combined.signature.to_bytes(),
        );
    }
}

#[test]
fn one_ephemeral_key_serves_a_dealers_round_without_linking_its_dealings() {
    let mut rng = StdRng::seed_from_u64(12);
    let subnet = Subnet::new("round", 4, 2, &mut rng);
    let round: Vec<EphemeralKey<Secp256k1>> =
        (0..4).map(|_| EphemeralKey::generate(&mut rng)).collect();
    let params = [
        subnet.params(4, Operation::Random).unwrap(),
        subnet.params(4, Operation::Random).unwrap(),
    ];
    let mut dealings: Vec<Vec<Dealing<Secp256k1>>> = params
        .iter()
        .map(|params| {
            (0..4)
                .map(|dealer| {
                    let ephemeral = &round[dealer as usize];
                    Dealing::create_with_ephemeral(
                        params,
                        dealer,
                        DealerInput::Fresh,
                        ephemeral,
                        &mut rng,
                    )
                    .unwrap()
                })
                .collect()
        })
        .collect();
    let (first, second) = (&dealings[0][0].ciphertexts, &dealings[1][0].ciphertexts);
    assert_eq!(first.ephemeral, round[0].public());
    assert_eq!(first.ephemeral, second.ephemeral);
    // Each dealing proves possession for its own transcript only.
    let mut lifted = dealings[1][0].clone();
    lifted.ciphertexts.proof_of_possession = first.proof_of_possession.clone();
    assert_eq!(
        lifted.verify(&params[1]),
        Err(TecdsaError::InvalidDealing {
            dealer: 0,
            check: "ciphertexts"
        })
    );

    // Dealer 3 sends receiver 1 garbage in the first transcript only.
    dealings[0][3].ciphertexts.shares[1][0] += k256::Scalar::ONE;
    let transcripts: Vec<Transcript<Secp256k1>> = params
        .iter()
        .zip(dealings)
        .map(|(params, dealings)| {
            let (valid, invalid) = VerifiedDealing::verify_all(dealings, params);
            assert!(invalid.is_empty());
            Transcript::create(params, valid).unwrap()
        })
        .collect();
    for index in [0, 2, 3] {
        for transcript in &transcripts {
            subnet.share(transcript, index).unwrap();
        }
    }
    assert_eq!(
        subnet.share(&transcripts[0], 1).unwrap_err(),
        TecdsaError::BadCiphertext { dealers: vec![3] }
    );
    // Shares checked against the dealings' commitments at the receiver's
    // index open the combined commitment too (combined only now).
    for transcript in &transcripts[1..] {
        for index in 0..4 {
            let share = subnet.share(transcript, index).unwrap();
            assert!(transcript.commitment().opens(index, &share));
            assert!(!transcript.commitment().opens((index + 1) % 4, &share));
        }
    }
    let complaints = subnet.complain(&transcripts[0], 1, &mut rng).unwrap();
    assert_eq!(complaints.len(), 1);
    assert_eq!(transcripts[0].verify_complaint(&complaints[0]), Ok(()));
    // The complaint's revealed value opens nothing in the other transcript:
    // there it proves nothing, and receiver 1's share there is fine.
    assert!(transcripts[1].verify_complaint(&complaints[0]).is_err());
    subnet.share(&transcripts[1], 1).unwrap();
}

#[test]
fn a_receiver_given_a_wrong_share_complains_and_rebuilds_it_from_openings() {
    let mut rng = StdRng::seed_from_u64(4);
    let subnet = Subnet::new("ciphertext", 4, 2, &mut rng);
    let params = subnet.params(4, Operation::Random).unwrap();
    let mut dealings: Vec<_> = (0..4)
        .map(|dealer| Dealing::create(&params, dealer, DealerInput::Fresh, &mut rng).unwrap())
        .collect();
    // Dealer 3 sends receiver 1 garbage; the dealing still passes public checks.
    dealings[3].ciphertexts.shares[1][1] += k256::Scalar::ONE;
    let verified = dealings
        .into_iter()
        .map(|dealing| VerifiedDealing::verify(dealing, &params).unwrap())
        .collect();
    let transcript = Transcript::create(&params, verified).unwrap();
    assert_eq!(
        subnet.share(&transcript, 1).unwrap_err(),
        TecdsaError::BadCiphertext { dealers: vec![3] }
    );

    let complaints = subnet.complain(&transcript, 1, &mut rng).unwrap();
    assert_eq!(complaints.len(), 1);
    let complaint = &complaints[0];
    assert_eq!((complaint.dealer, complaint.complainer), (3, 1));
    assert_eq!(transcript.verify_complaint(complaint), Ok(()));
    // Honest receivers have nothing to complain about, and a complaint
    // moved to another receiver or dealer proves nothing.
    assert!(subnet
        .complain(&transcript, 0, &mut rng)
        .unwrap()
        .is_empty());
    let mut moved = complaint.clone();
    moved.complainer = 2;
    assert!(transcript.verify_complaint(&moved).is_err());
    let mut moved = complaint.clone();
    moved.dealer = 2;
    assert!(transcript.verify_complaint(&moved).is_err());

    // Two honest receivers open dealer 3's dealing; receiver 1 rebuilds its share.
    let mut openings: Vec<_> = [0u32, 2]
        .iter()
        .map(|&index| subnet.open_for(&transcript, complaint, index).unwrap())
        .collect();
    assert!(openings
        .iter()
        .all(|opening| transcript.verify_opening(opening)));
    let share = subnet.share_with_openings(&transcript, 1, &openings[..1]);
    assert_eq!(
        share.unwrap_err(),
        TecdsaError::BadCiphertext { dealers: vec![3] },
        "one opening is below the threshold"
    );
    let share = subnet
        .share_with_openings(&transcript, 1, &openings)
        .unwrap();
    assert!(transcript.commitment().opens(1, &share));
    // A forged opening is ignored.
    openings[0].dealer = 2;
    assert!(!transcript.verify_opening(&openings[0]));
}

#[test]
fn resharing_four_to_seven_to_four_keeps_the_key_and_retires_old_presignatures() {
    let mut rng = StdRng::seed_from_u64(5);
    let first = Subnet::new("first", 4, 2, &mut rng);
    let key = first.generate_key(&mut rng).unwrap();
    let (old_presignature, old_shares) = first.presignature(&key, &mut rng).unwrap();

    let second = Subnet::new("second", 7, 3, &mut rng);
    let key_on_seven = first.reshare_key(&key, &second, &mut rng).unwrap();
    let third = Subnet::new("third", 4, 2, &mut rng);
    let key_on_four = second.reshare_key(&key_on_seven, &third, &mut rng).unwrap();

    let master = key.commitment().constant_term();
    assert_eq!(key_on_seven.commitment().constant_term(), master);
    assert_eq!(key_on_four.commitment().constant_term(), master);
    assert_eq!(
        master.to_bytes(),
        key_on_four.commitment().constant_term().to_bytes()
    );
    sign_and_check(&second, &key_on_seven, &mut rng);
    sign_and_check(&third, &key_on_four, &mut rng);

    // The old set's presignature is refused under the new key.
    let request = request(&mut rng);
    assert_eq!(
        Subnet::sign(&old_presignature, old_shares, &key_on_four, &request).unwrap_err(),
        TecdsaError::PresignatureForOtherKey
    );
}

#[test]
fn signing_shares_cannot_be_opened_by_non_receivers() {
    let mut rng = StdRng::seed_from_u64(6);
    let subnet = Subnet::new("receivers", 4, 2, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    let (presignature, _) = subnet.presignature(&key, &mut rng).unwrap();
    let stranger = MegaSecretKey::<Secp256k1>::generate(&mut rng);
    assert_eq!(
        PresignatureShares::open(&presignature, 0, &stranger).err(),
        Some(TecdsaError::NotAReceiver { index: 0 })
    );
    assert!(!bool::from(key.commitment().constant_term().is_identity()));
}

#[test]
fn f_faulty_dealers_are_named_and_signing_goes_on() {
    let mut rng = StdRng::seed_from_u64(7);
    for (nodes, threshold, faulty) in [(4, 2, vec![3]), (7, 3, vec![0, 5])] {
        let subnet = Subnet::new("faulty", nodes, threshold, &mut rng).with_faulty_dealers(&faulty);
        let key = subnet.generate_key(&mut rng).unwrap();
        sign_and_check(&subnet, &key, &mut rng);
        let rejected = subnet.rejected_dealings();
        assert!(!rejected.is_empty());
        for error in rejected {
            let TecdsaError::InvalidDealing {
                dealer,
                check: "ciphertexts",
            } = error
            else {
                panic!("unexpected rejection {error:?}");
            };
            assert!(faulty.contains(&dealer), "honest dealer {dealer} rejected");
        }
    }
    // With more than f faulty dealers a product transcript lacks dealings: a clear error.
    let subnet = Subnet::new("too faulty", 4, 2, &mut rng).with_faulty_dealers(&[0, 1]);
    let key = subnet.generate_key(&mut rng).unwrap();
    assert_eq!(
        subnet.presignature(&key, &mut rng).err(),
        Some(TecdsaError::NotEnoughDealings { needed: 3, got: 2 })
    );
}

#[test]
fn batched_dealing_verification_names_exactly_the_invalid_dealings() {
    let mut rng = StdRng::seed_from_u64(8);
    let subnet = Subnet::new("batch", 7, 3, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    let lambda = subnet.random(false, &mut rng).unwrap();
    let params = subnet
        .params(
            7,
            Operation::UnmaskedTimesMasked(key.commitment().clone(), lambda.commitment().clone()),
        )
        .unwrap();
    let key_shares: Vec<_> = (0..7).map(|i| subnet.share(&key, i).unwrap()).collect();
    let lambda_shares: Vec<_> = (0..7).map(|i| subnet.share(&lambda, i).unwrap()).collect();
    let mut dealings: Vec<Dealing<Secp256k1>> = (0..7)
        .map(|i| {
            Dealing::create(
                &params,
                i,
                DealerInput::Product(&key_shares[i as usize], &lambda_shares[i as usize]),
                &mut rng,
            )
            .unwrap()
        })
        .collect();
    assert!(verify_dealings(&params, &dealings)
        .iter()
        .all(Result::is_ok));
    // A product of the wrong value: the constant term of another dealer.
    dealings[2].commitment.points[0] = dealings[4].commitment.points[0];
    dealings[5].ciphertexts.ephemeral = dealings[6].ciphertexts.ephemeral;
    let verdicts = verify_dealings(&params, &dealings);
    let invalid: Vec<_> = verdicts
        .iter()
        .filter_map(|verdict| verdict.clone().err())
        .collect();
    assert_eq!(
        invalid,
        vec![
            TecdsaError::InvalidDealing {
                dealer: 2,
                check: "proof"
            },
            TecdsaError::InvalidDealing {
                dealer: 5,
                check: "ciphertexts"
            }
        ]
    );
}

#[test]
fn four_nodes_sign_with_one_wrong_or_one_silent_node() {
    let mut rng = StdRng::seed_from_u64(9);
    let subnet = Subnet::new("four", 4, 2, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    for silent in [false, true] {
        let (presignature, node_shares) = subnet.presignature(&key, &mut rng).unwrap();
        let request = request(&mut rng);
        let wrong_session = SigningRequest {
            message_hash: rng.gen(),
            ..request.clone()
        };
        let shares: Vec<_> = node_shares
            .into_iter()
            .enumerate()
            .filter(|(index, _)| !(silent && *index == 1))
            .map(|(index, node)| {
                let session = if index == 1 { &wrong_session } else { &request };
                SignatureShare::create(node, &presignature, &key, session).unwrap()
            })
            .collect();
        let combined = combine(&presignature, &key, &request, &shares).unwrap();
        assert_eq!(
            combined.invalid_signers,
            if silent { vec![] } else { vec![1] }
        );
        // A wrong share after two valid ones is named too, and the
        // signature is the same.
        let mut wrong_last = shares.clone();
        wrong_last.rotate_left(if silent { 0 } else { 2 });
        let after = combine(&presignature, &key, &request, &wrong_last).unwrap();
        assert_eq!(after.invalid_signers, combined.invalid_signers);
        assert_eq!(after.signature, combined.signature);
        assert_verifies(
            &combined.public_key,
            &request,
            &combined.signature.to_bytes(),
        );
    }
}

#[test]
fn a_presented_signature_is_bound_to_its_presignature_and_request() {
    let mut rng = StdRng::seed_from_u64(21);
    let subnet = Subnet::new("bound", 4, 2, &mut rng);
    let key = subnet.generate_key(&mut rng).unwrap();
    let mut batch = subnet.presignatures(&key, 2, &mut rng).unwrap();
    let (other, _) = batch.pop().unwrap();
    let (presignature, shares) = batch.pop().unwrap();
    let request = request(&mut rng);
    let signature = Subnet::sign(&presignature, shares, &key, &request)
        .unwrap()
        .signature;
    assert!(verify_signature(&presignature, &key, &request, &signature).unwrap());
    // The same valid ECDSA signature, presented for another presignature
    // or with other randomness, is refused.
    assert!(!verify_signature(&other, &key, &request, &signature).unwrap());
    let mut rerandomised = request.clone();
    rerandomised.randomness[0] ^= 1;
    assert!(!verify_signature(&presignature, &key, &rerandomised, &signature).unwrap());
    let mut other_hash = request.clone();
    other_hash.message_hash[0] ^= 1;
    assert!(!verify_signature(&presignature, &key, &other_hash, &signature).unwrap());
    // The high-s twin verifies in ECDSA but is not the combined signature.
    let twin = chainkey_crypto::tecdsa::EcdsaSignature::<Secp256k1> {
        r: signature.r,
        s: -signature.s,
    };
    assert!(!verify_signature(&presignature, &key, &request, &twin).unwrap());
}

#[test]
fn dealings_of_several_transcripts_verify_in_one_batch_naming_the_invalid_ones() {
    let mut rng = StdRng::seed_from_u64(31);
    let subnet = Subnet::new("across", 4, 2, &mut rng);
    let masked = subnet.params(4, Operation::Random).unwrap();
    let unmasked = subnet.params(4, Operation::RandomUnmasked).unwrap();
    let mut dealings = Vec::new();
    for dealer in 0..4 {
        for params in [&masked, &unmasked] {
            let dealing = Dealing::create(params, dealer, DealerInput::Fresh, &mut rng).unwrap();
            dealings.push((params, dealing));
        }
    }
    dealings[3].1.ciphertexts.ephemeral += k256::ProjectivePoint::GENERATOR;
    // A valid dealing of one transcript presented for the other.
    let misplaced = dealings[5].1.clone();
    dealings.push((&masked, misplaced));
    let pairs: Vec<_> = dealings
        .iter()
        .map(|(params, dealing)| (*params, dealing))
        .collect();
    let invalid: Vec<usize> = verify_dealings_of(&pairs)
        .iter()
        .enumerate()
        .filter(|(_, verdict)| verdict.is_err())
        .map(|(position, _)| position)
        .collect();
    assert_eq!(invalid, vec![3, 8]);
}
