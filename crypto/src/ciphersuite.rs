//! Ciphersuites: domain separation tags plus the core BLS operations.
//!
//! A [`Ciphersuite`] fixes the scheme (which group signs), the tag messages
//! are hashed under, and the tag of proofs of possession. The IETF draft's
//! suites are built in:
//!
//! | constructor | signature DST (min-sig / min-pk) |
//! |---|---|
//! | [`Ciphersuite::basic`] | `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_` / `…G2…_NUL_` |
//! | [`Ciphersuite::proof_of_possession`] | `BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_` / `…G2…_POP_` |
//!
//! Proofs of possession always use `BLS_POP_<curve>_XMD:SHA-256_SSWU_RO_POP_`
//! unless [`Ciphersuite::custom`] says otherwise. The Internet Computer signs
//! threshold signatures under the min-sig basic suite and multi-signatures
//! under the min-sig proof-of-possession suite; Ethereum uses min-pk
//! proof-of-possession.

use std::collections::HashSet;
use std::marker::PhantomData;

use blstrs::Scalar;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};

use crate::backend::msm::BlstGroup;
use crate::curve::{Affine, BlsGroup};
use crate::error::Error;
use crate::keys::{PublicKey, SecretKey, Signature};
use crate::scheme::pairing_product_is_one;
use crate::scheme::Scheme;

/// Hash-to-curve suite shared by every built-in DST.
const HASH_SUITE: &str = "_XMD:SHA-256_SSWU_RO_";

/// Domain separation tags and rules for one BLS signature suite over scheme `S`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphersuite<S: Scheme> {
    signature_dst: Vec<u8>,
    pop_dst: Vec<u8>,
    require_distinct_messages: bool,
    scheme: PhantomData<S>,
}

impl<S: Scheme> Ciphersuite<S> {
    /// The IETF basic suite (`…_NUL_`): rogue-key attacks on aggregates are
    /// prevented by requiring distinct messages in [`Self::aggregate_verify`].
    pub fn basic() -> Self {
        Self::standard("NUL_", true)
    }

    /// The IETF proof-of-possession suite (`…_POP_`): aggregates may repeat
    /// messages because every public key must come with a verified proof of
    /// possession ([`Self::verify_possession`]).
    pub fn proof_of_possession() -> Self {
        Self::standard("POP_", false)
    }

    /// A suite with caller-supplied tags, for protocols that separate their
    /// own message kinds. Messages in aggregates may repeat, so keys must
    /// carry verified proofs of possession.
    ///
    /// # Errors
    /// [`Error::EmptyDomainSeparationTag`] if either tag is empty.
    pub fn custom(signature_dst: &[u8], pop_dst: &[u8]) -> Result<Self, Error> {
        if signature_dst.is_empty() || pop_dst.is_empty() {
            return Err(Error::EmptyDomainSeparationTag);
        }
        Ok(Ciphersuite {
            signature_dst: signature_dst.to_vec(),
            pop_dst: pop_dst.to_vec(),
            require_distinct_messages: false,
            scheme: PhantomData,
        })
    }

    fn standard(suffix: &str, require_distinct_messages: bool) -> Self {
        let curve = <S::SignatureGroup as BlsGroup>::CURVE_NAME;
        Ciphersuite {
            signature_dst: format!("BLS_SIG_{curve}{HASH_SUITE}{suffix}").into_bytes(),
            pop_dst: format!("BLS_POP_{curve}{HASH_SUITE}POP_").into_bytes(),
            require_distinct_messages,
            scheme: PhantomData,
        }
    }

    /// The tag messages are hashed under.
    pub fn signature_dst(&self) -> &[u8] {
        &self.signature_dst
    }

    /// The tag proofs of possession are hashed under.
    pub fn pop_dst(&self) -> &[u8] {
        &self.pop_dst
    }

    /// Hashes a message to the signature group under this suite's tag.
    pub fn hash_message(&self, message: &[u8]) -> S::SignatureGroup {
        S::SignatureGroup::hash_to_curve(message, &self.signature_dst)
    }

    /// Signs `message`: `sk·H(message)`.
    pub fn sign(&self, secret_key: &SecretKey, message: &[u8]) -> Signature<S> {
        Signature((self.hash_message(message) * secret_key.scalar()).to_affine())
    }

    /// Verifies a signature: `e(σ, g) = e(H(m), pk)`.
    ///
    /// # Errors
    /// [`Error::InvalidSignature`] if it does not verify.
    pub fn verify(
        &self,
        public_key: &PublicKey<S>,
        message: &[u8],
        signature: &Signature<S>,
    ) -> Result<(), Error> {
        let hashed = self.hash_message(message).to_affine();
        check(pairing_product_is_one::<S>(&[
            (signature.0, negated_generator::<S>()),
            (hashed, public_key.0),
        ]))
    }

    /// Verifies an aggregate of signatures by `public_keys[i]` on `messages[i]`.
    ///
    /// # Errors
    /// [`Error::EmptyInput`], [`Error::LengthMismatch`],
    /// [`Error::DuplicateMessage`] (basic suite only) or [`Error::InvalidSignature`].
    pub fn aggregate_verify(
        &self,
        public_keys: &[PublicKey<S>],
        messages: &[&[u8]],
        signature: &Signature<S>,
    ) -> Result<(), Error> {
        self.check_aggregate_inputs(public_keys.len(), messages)?;
        let mut terms = Vec::with_capacity(messages.len() + 1);
        terms.push((signature.0, negated_generator::<S>()));
        terms.extend(
            messages
                .iter()
                .zip(public_keys)
                .map(|(message, key)| (self.hash_message(message).to_affine(), key.0)),
        );
        check(pairing_product_is_one::<S>(&terms))
    }

    /// Checks that keys and messages pair up and, under the basic suite, that
    /// the messages are distinct.
    pub(crate) fn check_aggregate_inputs(
        &self,
        keys: usize,
        messages: &[&[u8]],
    ) -> Result<(), Error> {
        check_pairs(keys, messages.len())?;
        if self.require_distinct_messages {
            let mut seen = HashSet::with_capacity(messages.len());
            if !messages.iter().all(|message| seen.insert(*message)) {
                return Err(Error::DuplicateMessage);
            }
        }
        Ok(())
    }

    /// Verifies an aggregate of signatures on one message (the keys must
    /// carry verified proofs of possession).
    ///
    /// # Errors
    /// [`Error::EmptyInput`], [`Error::IdentityPublicKey`] if the keys sum to
    /// the identity, or [`Error::InvalidSignature`].
    pub fn fast_aggregate_verify(
        &self,
        public_keys: &[PublicKey<S>],
        message: &[u8],
        signature: &Signature<S>,
    ) -> Result<(), Error> {
        self.verify(&PublicKey::aggregate(public_keys)?, message, signature)
    }

    /// Verifies many independent signatures at once with a random linear
    /// combination: `e(Σrᵢσᵢ, −g)·Πe(rᵢH(mᵢ), pkᵢ) = 1` with 64-bit random rᵢ.
    ///
    /// A failure means at least one signature is invalid (not which one);
    /// a forged set passes with probability at most 2⁻⁶⁴.
    ///
    /// # Errors
    /// [`Error::EmptyInput`], [`Error::LengthMismatch`] or [`Error::InvalidSignature`].
    pub fn batch_verify<R: RngCore + CryptoRng>(
        &self,
        public_keys: &[PublicKey<S>],
        messages: &[&[u8]],
        signatures: &[Signature<S>],
        rng: &mut R,
    ) -> Result<(), Error> {
        check_pairs(public_keys.len(), messages.len())?;
        check_pairs(public_keys.len(), signatures.len())?;
        let weights: Vec<Scalar> = (0..signatures.len())
            .map(|_| Scalar::from(nonzero_u64(rng)))
            .collect();
        let signature_points: Vec<S::SignatureGroup> =
            signatures.iter().map(|sig| sig.0.to_curve()).collect();
        let combined = <S::SignatureGroup as BlstGroup>::multi_exp(&signature_points, &weights);
        let mut terms = Vec::with_capacity(signatures.len() + 1);
        terms.push((combined.to_affine(), negated_generator::<S>()));
        terms.extend(messages.iter().zip(public_keys).zip(&weights).map(
            |((message, key), weight)| ((self.hash_message(message) * weight).to_affine(), key.0),
        ));
        check(pairing_product_is_one::<S>(&terms))
    }

    /// Proves possession of `secret_key`: a signature on the encoded public
    /// key under the proof-of-possession tag (IETF `PopProve`).
    pub fn prove_possession(&self, secret_key: &SecretKey) -> Signature<S> {
        let message = secret_key.public_key::<S>().to_bytes();
        let point = S::SignatureGroup::hash_to_curve(&message, &self.pop_dst);
        Signature((point * secret_key.scalar()).to_affine())
    }

    /// Verifies a proof of possession (IETF `PopVerify`).
    ///
    /// # Errors
    /// [`Error::InvalidProofOfPossession`] if it does not verify.
    pub fn verify_possession(
        &self,
        public_key: &PublicKey<S>,
        proof: &Signature<S>,
    ) -> Result<(), Error> {
        let point =
            S::SignatureGroup::hash_to_curve(&public_key.to_bytes(), &self.pop_dst).to_affine();
        if pairing_product_is_one::<S>(&[
            (proof.0, negated_generator::<S>()),
            (point, public_key.0),
        ]) {
            Ok(())
        } else {
            Err(Error::InvalidProofOfPossession)
        }
    }
}

/// A uniformly random non-zero 64-bit weight.
fn nonzero_u64<R: RngCore>(rng: &mut R) -> u64 {
    loop {
        let weight = rng.next_u64();
        if weight != 0 {
            return weight;
        }
    }
}

/// `−g` in the public-key group: moves `e(σ, g)` to the other side of an equation.
pub(crate) fn negated_generator<S: Scheme>() -> Affine<S::PublicKeyGroup> {
    (-S::PublicKeyGroup::generator()).to_affine()
}

/// Maps a pairing check's outcome to the signature error.
pub(crate) fn check(valid: bool) -> Result<(), Error> {
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidSignature)
    }
}

/// Two slices that pair up must be non-empty and of equal length.
fn check_pairs(left: usize, right: usize) -> Result<(), Error> {
    if left != right {
        return Err(Error::LengthMismatch { left, right });
    }
    if left == 0 {
        return Err(Error::EmptyInput);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MinPk, MinSig};

    #[test]
    fn standard_tags_match_the_ietf_and_ic_strings() {
        assert_eq!(
            Ciphersuite::<MinSig>::basic().signature_dst(),
            b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_"
        );
        assert_eq!(
            Ciphersuite::<MinSig>::proof_of_possession().pop_dst(),
            b"BLS_POP_BLS12381G1_XMD:SHA-256_SSWU_RO_POP_"
        );
        assert_eq!(
            Ciphersuite::<MinPk>::proof_of_possession().signature_dst(),
            b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
        );
        assert_eq!(
            Ciphersuite::<MinPk>::proof_of_possession().pop_dst(),
            b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_"
        );
    }

    #[test]
    fn basic_suite_rejects_repeated_messages_in_aggregates() {
        let suite = Ciphersuite::<MinSig>::basic();
        let key = SecretKey::from_ikm(&[7; 32], b"").unwrap();
        let signature = suite.sign(&key, b"m");
        let aggregate = Signature::aggregate([&signature, &signature]).unwrap();
        let public_key = key.public_key();
        let result = suite.aggregate_verify(&[public_key, public_key], &[b"m", b"m"], &aggregate);
        assert_eq!(result, Err(Error::DuplicateMessage));
        let pop_suite =
            Ciphersuite::<MinSig>::custom(suite.signature_dst(), suite.pop_dst()).unwrap();
        assert_eq!(
            pop_suite.aggregate_verify(&[public_key, public_key], &[b"m", b"m"], &aggregate),
            Ok(())
        );
    }
}
