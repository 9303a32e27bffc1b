//! Multi-recipient encryption of shares ("MEGa", paper §5): one ephemeral
//! key per dealing, one pad per receiver and slot.
//!
//! The dealer picks `β`, publishes `V = β·G` with a proof of knowledge of
//! `β` bound to the dealing's context (so `V` cannot be lifted into another
//! dealing), and encrypts receiver `i`'s share as `share + pad`, where
//! `pad = Hash(context, i, slot, V, Yᵢ, β·Yᵢ)` and `Yᵢ = yᵢ·G` is the
//! receiver's key. The receiver computes `β·Yᵢ = yᵢ·V`. A masked share
//! uses two slots (value and mask). Ciphertexts carry no proof of correct
//! content: a receiver that decrypts a share its commitment rejects names
//! the dealer (see `transcript`).

use ff::Field;
use rand_core::{CryptoRng, RngCore};

use super::check::LinearCheck;
use super::commitment::{Masking, Share};
use super::curve::IdkgCurve;
use super::oracle::Oracle;
use super::proofs::{Base, DlogProof};

/// A node's decryption key. Wiped on drop; `Debug` shows only the public key.
pub struct MegaSecretKey<C: IdkgCurve> {
    scalar: C::Scalar,
}

/// A node's encryption key `y·G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MegaPublicKey<C: IdkgCurve>(pub C::Point);

impl<C: IdkgCurve> MegaSecretKey<C> {
    /// A fresh random key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        MegaSecretKey {
            scalar: C::Scalar::random(rng),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> MegaPublicKey<C> {
        MegaPublicKey(C::mul_g(&self.scalar))
    }
}

impl<C: IdkgCurve> Drop for MegaSecretKey<C> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.scalar);
    }
}

impl<C: IdkgCurve> std::fmt::Debug for MegaSecretKey<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MegaSecretKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

/// The encrypted shares of one dealing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ciphertexts<C: IdkgCurve> {
    /// `V = β·G`.
    pub ephemeral: C::Point,
    /// Knowledge of `β`, bound to the dealing's context.
    pub proof_of_possession: DlogProof<C>,
    /// Per receiver: the encrypted value, then the encrypted mask if masked.
    pub shares: Vec<Vec<C::Scalar>>,
}

fn pad<C: IdkgCurve>(
    context: &Oracle,
    receiver: u32,
    slot: u64,
    ephemeral: &C::Point,
    key: &MegaPublicKey<C>,
    shared: &C::Point,
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle
        .bytes(b"use", b"MEGa pad")
        .u64(b"receiver", u64::from(receiver))
        .u64(b"slot", slot)
        .point::<C>(b"ephemeral", ephemeral)
        .point::<C>(b"receiver key", &key.0)
        .point::<C>(b"shared", shared);
    oracle.output::<C>()
}

fn pop_context(context: &Oracle) -> Oracle {
    let mut oracle = context.clone();
    oracle.bytes(b"use", b"MEGa ephemeral key possession");
    oracle
}

impl<C: IdkgCurve> Ciphertexts<C> {
    /// Encrypts `shares[i]` to `receivers[i]`.
    pub(crate) fn encrypt(
        context: &Oracle,
        receivers: &[MegaPublicKey<C>],
        shares: &[Share<C>],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let mut beta = C::Scalar::random(&mut *rng);
        let ephemeral = C::mul_g(&beta);
        let proof_of_possession = DlogProof::prove(&pop_context(context), Base::G, &beta, rng);
        let shares = receivers
            .iter()
            .zip(shares)
            .enumerate()
            .map(|(i, (key, share))| {
                let shared = key.0 * beta;
                let slots = std::iter::once(share.value).chain(share.mask);
                slots
                    .enumerate()
                    .map(|(slot, value)| {
                        value + pad(context, i as u32, slot as u64, &ephemeral, key, &shared)
                    })
                    .collect()
            })
            .collect();
        zeroize::Zeroize::zeroize(&mut beta);
        Ciphertexts {
            ephemeral,
            proof_of_possession,
            shares,
        }
    }

    /// Whether there is one ciphertext per receiver, with a slot per
    /// share part (value, and mask when masked).
    pub(crate) fn has_shape(&self, receivers: usize, masking: Masking) -> bool {
        let slots = match masking {
            Masking::Unmasked => 1,
            Masking::Masked => 2,
        };
        self.shares.len() == receivers && self.shares.iter().all(|share| share.len() == slots)
    }

    /// Adds the ephemeral key's proof of possession to `check`.
    pub(crate) fn add_possession_to(
        &self,
        check: &mut LinearCheck<C>,
        context: &Oracle,
        weight: C::Scalar,
    ) {
        self.proof_of_possession.add_to(
            check,
            &pop_context(context),
            Base::G,
            &self.ephemeral,
            weight,
        );
    }

    /// Receiver `index`'s share (not yet checked against the commitment).
    pub(crate) fn decrypt(&self, context: &Oracle, index: u32, key: &MegaSecretKey<C>) -> Share<C> {
        self.decrypt_with_shared(context, index, &key.public_key(), &self.shared_secret(key))
    }

    /// `y·V`, the receiver's Diffie–Hellman value with the dealer.
    pub(crate) fn shared_secret(&self, key: &MegaSecretKey<C>) -> C::Point {
        self.ephemeral * key.scalar
    }

    /// Receiver `index`'s share given its Diffie–Hellman value (revealed in a complaint).
    pub(crate) fn decrypt_with_shared(
        &self,
        context: &Oracle,
        index: u32,
        public: &MegaPublicKey<C>,
        shared: &C::Point,
    ) -> Share<C> {
        let slots = &self.shares[index as usize];
        let plain = |slot: usize| {
            slots[slot] - pad(context, index, slot as u64, &self.ephemeral, public, shared)
        };
        Share {
            index,
            value: plain(0),
            mask: (slots.len() == 2).then(|| plain(1)),
        }
    }
}

impl<C: IdkgCurve> MegaSecretKey<C> {
    /// The secret scalar, for proofs about the key.
    pub(crate) fn scalar(&self) -> &C::Scalar {
        &self.scalar
    }
}
