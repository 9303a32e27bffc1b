//! The NIDKG end to end: every receiver's share from a dealer-less DKG
//! signs, any t shares combine into a signature under the transcript's key
//! (checked with the threshold code), and resharing keeps that key across
//! membership and threshold changes while old shares stop working.

use chainkey_crypto::nidkg::{
    verify_dealings, Dealing, DkgConfig, DkgError, EncryptionSecretKey, Transcript,
};
use chainkey_crypto::threshold::{PublicCommitment, SecretKeyShare};
use chainkey_crypto::{Ciphersuite, Error, MinSig};
use rand::seq::SliceRandom;

struct Subnet {
    keys: Vec<EncryptionSecretKey>,
}

impl Subnet {
    fn new(n: usize) -> Self {
        let mut rng = rand::thread_rng();
        Subnet {
            keys: (0..n)
                .map(|_| EncryptionSecretKey::generate(&mut rng))
                .collect(),
        }
    }

    fn receivers(&self) -> Vec<chainkey_crypto::nidkg::EncryptionPublicKey> {
        self.keys
            .iter()
            .map(EncryptionSecretKey::public_key)
            .collect()
    }

    /// Verifies `dealings` in one batch, builds the transcript and decrypts every share.
    fn finish(
        &self,
        config: &DkgConfig,
        dealings: Vec<(u32, Dealing)>,
    ) -> (Transcript, Vec<SecretKeyShare>) {
        let verified = verify_dealings(config, dealings)
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .expect("honest dealings verify");
        let transcript = Transcript::create(config, verified).expect("enough dealings");
        let shares = self
            .keys
            .iter()
            .enumerate()
            .map(|(position, key)| {
                transcript
                    .decrypt_share(position, key)
                    .expect("share decrypts")
            })
            .collect();
        (transcript, shares)
    }
}

impl Subnet {
    /// A fresh DKG for this subnet in which `dealers` deal.
    fn fresh_dkg(
        &self,
        threshold: usize,
        min_dealings: usize,
        dealers: impl IntoIterator<Item = u32>,
    ) -> (Transcript, Vec<SecretKeyShare>) {
        let id = format!("fresh dkg of {} nodes", self.keys.len());
        let config =
            DkgConfig::new(id.as_bytes(), self.receivers(), threshold, min_dealings).unwrap();
        let mut rng = rand::thread_rng();
        let dealings = dealers
            .into_iter()
            .map(|dealer| (dealer, Dealing::create(&config, dealer, &mut rng).unwrap()))
            .collect();
        self.finish(&config, dealings)
    }
}

/// Every share signs under its public key share; random t-subsets combine
/// into a signature under the group key; t − 1 shares are not enough.
fn assert_threshold_key_works(commitment: &PublicCommitment<MinSig>, shares: &[SecretKeyShare]) {
    let suite = Ciphersuite::<MinSig>::basic();
    let message = b"certified state at height 100";
    let signature_shares: Vec<_> = shares
        .iter()
        .map(|share| suite.sign_share(share, message))
        .collect();
    for share in &signature_shares {
        suite
            .verify_share(commitment, message, share)
            .expect("each share signs");
    }
    let t = commitment.threshold();
    let mut rng = rand::thread_rng();
    for _ in 0..3 {
        let subset: Vec<_> = signature_shares
            .choose_multiple(&mut rng, t)
            .copied()
            .collect();
        let signature = suite
            .combine(commitment, message, &subset)
            .expect("t shares combine");
        suite
            .verify(&commitment.public_key(), message, &signature)
            .expect("valid under the group key");
    }
    if t > 1 {
        assert!(matches!(
            suite.combine(commitment, message, &signature_shares[..t - 1]),
            Err(Error::NotEnoughShares { .. })
        ));
    }
}

fn fresh_dkg(n: usize, threshold: usize) {
    let f = (n - 1) / 3;
    let (transcript, shares) = Subnet::new(n).fresh_dkg(threshold, f + 1, 0..n as u32);
    assert_eq!(transcript.dealers().len(), n);
    assert_threshold_key_works(transcript.commitment(), &shares);
}

#[test]
fn dkg_with_4_nodes() {
    fresh_dkg(4, 2);
}

#[test]
fn dkg_with_7_nodes_high_threshold() {
    fresh_dkg(7, 5);
}

#[test]
fn dkg_with_13_nodes() {
    fresh_dkg(13, 5);
}

#[test]
#[ignore = "slow: a 28-node DKG (run with --ignored)"]
fn dkg_with_28_nodes() {
    fresh_dkg(28, 10);
}

#[test]
fn only_min_dealings_are_needed_and_a_transcript_from_them_works() {
    let (transcript, shares) = Subnet::new(7).fresh_dkg(3, 3, [6, 2, 4]);
    assert_eq!(transcript.dealers(), [2, 4, 6]);
    assert_threshold_key_works(transcript.commitment(), &shares);
}

/// Reshares from `previous` (its shares held by `old`) to a new subnet.
fn reshare(
    previous: &Transcript,
    old_shares: &[SecretKeyShare],
    old_receivers: usize,
    next: &Subnet,
    threshold: usize,
) -> (Transcript, Vec<SecretKeyShare>) {
    let config = DkgConfig::resharing(
        b"reshare",
        next.receivers(),
        threshold,
        previous.commitment(),
        old_receivers,
    )
    .unwrap();
    let mut rng = rand::thread_rng();
    // Every old receiver deals; any previous-threshold of them would do.
    let dealings = old_shares
        .iter()
        .map(|share| {
            (
                share.index(),
                Dealing::reshare(&config, share, &mut rng).unwrap(),
            )
        })
        .collect();
    next.finish(&config, dealings)
}

#[test]
fn resharing_4_to_7_to_5_keeps_the_public_key() {
    let (genesis, genesis_shares) = Subnet::new(4).fresh_dkg(2, 2, 0..4);

    let second = Subnet::new(7);
    let (grown, grown_shares) = reshare(&genesis, &genesis_shares, 4, &second, 5);
    assert_eq!(grown.public_key(), genesis.public_key());
    assert_eq!(grown.commitment().threshold(), 5);
    assert_threshold_key_works(grown.commitment(), &grown_shares);

    let third = Subnet::new(5);
    let (shrunk, shrunk_shares) = reshare(&grown, &grown_shares, 7, &third, 3);
    assert_eq!(shrunk.public_key(), genesis.public_key());
    assert_threshold_key_works(shrunk.commitment(), &shrunk_shares);

    // Old shares do not work in the new transcript.
    let suite = Ciphersuite::<MinSig>::basic();
    let message = b"after resharing";
    let old: Vec<_> = grown_shares[..3]
        .iter()
        .map(|share| suite.sign_share(share, message))
        .collect();
    for share in &old {
        assert!(suite
            .verify_share(shrunk.commitment(), message, share)
            .is_err());
    }
    assert!(matches!(
        suite.combine(shrunk.commitment(), message, &old),
        Err(Error::InvalidShares(_))
    ));
}

#[test]
fn resharing_needs_the_previous_threshold_of_dealings() {
    let (genesis, shares) = Subnet::new(4).fresh_dkg(3, 2, 0..4);
    let mut rng = rand::thread_rng();
    let next = Subnet::new(4);
    let config =
        DkgConfig::resharing(b"reshare", next.receivers(), 2, genesis.commitment(), 4).unwrap();
    let verified = verify_dealings(
        &config,
        shares[..2]
            .iter()
            .map(|share| {
                (
                    share.index(),
                    Dealing::reshare(&config, share, &mut rng).unwrap(),
                )
            })
            .collect(),
    )
    .into_iter()
    .collect::<Result<Vec<_>, _>>()
    .unwrap();
    assert_eq!(
        Transcript::create(&config, verified).unwrap_err(),
        DkgError::NotEnoughDealings {
            needed: 3,
            valid: 2
        }
    );
}

#[test]
fn a_receiver_with_the_wrong_key_gets_a_typed_error() {
    let subnet = Subnet::new(4);
    let (transcript, _) = subnet.fresh_dkg(2, 2, 0..2);
    assert_eq!(
        transcript.decrypt_share(0, &subnet.keys[1]).unwrap_err(),
        DkgError::WrongDecryptionKey(0)
    );
    assert_eq!(
        transcript.decrypt_share(9, &subnet.keys[0]).unwrap_err(),
        DkgError::UnknownReceiver(9)
    );
}
