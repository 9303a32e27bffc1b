//! Multi-recipient encryption of shares (the paper's "MEGa"): one ephemeral
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
    public: MegaPublicKey<C>,
}

/// A node's encryption key `y·G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MegaPublicKey<C: IdkgCurve>(pub C::Point);

impl<C: IdkgCurve> MegaSecretKey<C> {
    /// A fresh random key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let scalar = C::Scalar::random(rng);
        MegaSecretKey {
            scalar,
            public: MegaPublicKey(C::mul_g(&scalar)),
        }
    }

    /// The matching public key.
    pub fn public_key(&self) -> MegaPublicKey<C> {
        self.public
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

/// The oracle behind receiver `receiver`'s pads in one dealing, from the
/// encodings of the ephemeral key, the receiver's key and their
/// Diffie–Hellman value; slot `k` of the share is masked by its output
/// with `k` appended.
fn pad_oracle(context: &Oracle, receiver: u32, encodings: [&[u8]; 3]) -> Oracle {
    let mut oracle = context.clone();
    oracle
        .bytes(b"use", b"MEGa pad")
        .u64(b"receiver", u64::from(receiver))
        .bytes(b"ephemeral", encodings[0])
        .bytes(b"receiver key", encodings[1])
        .bytes(b"shared", encodings[2]);
    oracle
}

fn pad<C: IdkgCurve>(oracle: &Oracle, slot: usize) -> C::Scalar {
    let mut oracle = oracle.clone();
    oracle.u64(b"slot", slot as u64);
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
        let proof_of_possession =
            DlogProof::prove(&pop_context(context), Base::G, &ephemeral, &beta, rng);
        // One inversion encodes every point of the dealing.
        let mut points: Vec<C::Point> = receivers.iter().map(|key| key.0).collect();
        points.extend(receivers.iter().map(|key| key.0 * beta));
        points.push(ephemeral);
        let encodings = C::encode_all(&points);
        let (keys, rest) = encodings.split_at(receivers.len());
        let (shared, ephemeral_encoding) = rest.split_at(receivers.len());
        let shares = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let oracle = pad_oracle(
                    context,
                    i as u32,
                    [&ephemeral_encoding[0], &keys[i], &shared[i]],
                );
                std::iter::once(share.value)
                    .chain(share.mask)
                    .enumerate()
                    .map(|(slot, value)| value + pad::<C>(&oracle, slot))
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
        let encodings = C::encode_all(&[self.ephemeral, public.0, *shared]);
        let oracle = pad_oracle(
            context,
            index,
            [&encodings[0], &encodings[1], &encodings[2]],
        );
        let slots = &self.shares[index as usize];
        let plain = |slot: usize| slots[slot] - pad::<C>(&oracle, slot);
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
