//! Multi-recipient encryption of shares (the paper's "MEGa"): an ephemeral
//! key per dealer and round, one pad per receiver and slot.
//!
//! The dealer picks `β`, publishes `V = β·G` with a proof of knowledge of
//! `β` bound to the dealing's context (so nobody else can put `V` into a
//! dealing), and encrypts receiver `i`'s share as `share + pad`, where
//! `pad = Hash(context, i, slot, V, Yᵢ, β·Yᵢ)` and `Yᵢ = yᵢ·G` is the
//! receiver's key. The receiver computes `β·Yᵢ = yᵢ·V`. A masked share
//! uses two slots (value and mask). Ciphertexts carry no proof of correct
//! content: a receiver that decrypts a share its commitment rejects names
//! the dealer (see `transcript`).
//!
//! **Reusing `β`.** The paper draws `β` per dealing. Here a dealer may use
//! one [`EphemeralKey`] for every dealing it makes in a round (all the
//! transcripts of a batch of presignatures, say): each dealing still
//! carries `V` and its own proof of possession, and the pads of different
//! dealings come from different contexts, so they are independent random
//! oracle outputs even with the same `β·Yᵢ`. Dealer and receivers then do
//! one Diffie–Hellman multiplication per pair and round instead of per
//! dealing — most of a presignature's cost. What reuse changes is a
//! complaint: revealing `yᵢ·V` to accuse one dealing also reveals
//! receiver `i`'s pads in that dealer's other dealings of the round. A
//! valid complaint only exists against a cheating dealer, who knows those
//! shares anyway; an honest dealer's ciphertexts never draw one.

use std::collections::HashMap;
use std::sync::Mutex;

use ff::Field;
use group::GroupEncoding;
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use super::check::LinearCheck;
use super::commitment::{Masking, Share};
use super::curve::IdkgCurve;
use super::oracle::Oracle;
use super::proofs::{Base, DlogProof};

/// A node's decryption key. Wiped on drop; `Debug` shows only the public key.
pub struct MegaSecretKey<C: IdkgCurve> {
    scalar: C::Scalar,
    public: MegaPublicKey<C>,
    public_encoding: Vec<u8>,
    /// Encodings of `y·V` by the encoding of `V`: a dealer's ephemeral key
    /// serves a whole round, so this saves a multiplication per dealing.
    shared: SharedCache,
}

/// Diffie–Hellman values by the other side's key encoding (wiped on drop).
type SharedCache = Mutex<HashMap<Vec<u8>, Zeroizing<Vec<u8>>>>;

/// A receiver keeps at most this many Diffie–Hellman values (then starts
/// afresh): enough for every dealer's key of several rounds.
const SHARED_CACHE_LIMIT: usize = 4096;

/// A node's encryption key `y·G`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MegaPublicKey<C: IdkgCurve>(pub C::Point);

impl<C: IdkgCurve> MegaSecretKey<C> {
    /// A fresh random key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self::from_scalar(C::Scalar::random(rng))
    }

    /// The key with secret `scalar` (a fresh one, or a stored one being decoded).
    pub(super) fn from_scalar(scalar: C::Scalar) -> Self {
        let public = C::mul_g(&scalar);
        MegaSecretKey {
            scalar,
            public: MegaPublicKey(public),
            public_encoding: public.to_bytes().as_ref().to_vec(),
            shared: Mutex::default(),
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

/// A dealer's ephemeral key `β` with `V = β·G`, for one or more dealings
/// of one round (see the module docs on reuse). Wiped on drop; `Debug`
/// shows only `V`.
pub struct EphemeralKey<C: IdkgCurve> {
    beta: C::Scalar,
    point: C::Point,
    /// Encodings of `β·Yᵢ` by the encoding of `Yᵢ`.
    shared: SharedCache,
}

impl<C: IdkgCurve> EphemeralKey<C> {
    /// A fresh key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let beta = C::Scalar::random(rng);
        EphemeralKey {
            beta,
            point: C::mul_g(&beta),
            shared: Mutex::default(),
        }
    }

    /// `V = β·G`.
    pub fn public(&self) -> C::Point {
        self.point
    }

    /// The encodings of `β·Yᵢ` for receivers whose keys encode as
    /// `encodings`, each multiplied once per key.
    fn shared_encodings(
        &self,
        receivers: &[MegaPublicKey<C>],
        encodings: &[Vec<u8>],
    ) -> Vec<Zeroizing<Vec<u8>>> {
        let mut cache = self.shared.lock().expect("ephemeral key cache");
        let missing: Vec<usize> = (0..receivers.len())
            .filter(|&i| !cache.contains_key(&encodings[i]))
            .collect();
        let products: Vec<C::Point> = missing
            .iter()
            .map(|&i| receivers[i].0 * self.beta)
            .collect();
        for (&i, encoding) in missing.iter().zip(C::encode_all(&products)) {
            cache.insert(encodings[i].clone(), Zeroizing::new(encoding));
        }
        encodings
            .iter()
            .map(|encoding| cache[encoding].clone())
            .collect()
    }
}

impl<C: IdkgCurve> Drop for EphemeralKey<C> {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.beta);
    }
}

impl<C: IdkgCurve> std::fmt::Debug for EphemeralKey<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EphemeralKey")
            .field("public", &self.point)
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
    /// Encrypts `shares[i]` to `receivers[i]` under `ephemeral`.
    pub(crate) fn encrypt(
        context: &Oracle,
        receivers: &[MegaPublicKey<C>],
        shares: &[Share<C>],
        ephemeral: &EphemeralKey<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let proof_of_possession = DlogProof::prove(
            &pop_context(context),
            Base::G,
            &ephemeral.point,
            &ephemeral.beta,
            rng,
        );
        // One inversion encodes every point of the dealing.
        let mut points: Vec<C::Point> = receivers.iter().map(|key| key.0).collect();
        points.push(ephemeral.point);
        let mut keys = C::encode_all(&points);
        let ephemeral_encoding = keys.pop().expect("the ephemeral key was pushed");
        let shared = ephemeral.shared_encodings(receivers, &keys);
        let shares = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let oracle = pad_oracle(
                    context,
                    i as u32,
                    [&ephemeral_encoding, &keys[i], &shared[i]],
                );
                std::iter::once(share.value)
                    .chain(share.mask)
                    .enumerate()
                    .map(|(slot, value)| value + pad::<C>(&oracle, slot))
                    .collect()
            })
            .collect();
        Ciphertexts {
            ephemeral: ephemeral.point,
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

    /// Receiver `index`'s share (not yet checked against the commitment),
    /// given the encoding of the ephemeral key.
    pub(crate) fn decrypt(
        &self,
        context: &Oracle,
        index: u32,
        key: &MegaSecretKey<C>,
        ephemeral_encoding: &[u8],
    ) -> Share<C> {
        let shared = key.shared_encoding(&self.ephemeral, ephemeral_encoding);
        self.decrypt_with_encodings(
            context,
            index,
            [ephemeral_encoding, &key.public_encoding, &shared],
        )
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
        self.decrypt_with_encodings(
            context,
            index,
            [&encodings[0], &encodings[1], &encodings[2]],
        )
    }

    /// Receiver `index`'s share from the encodings of `V`, its key and `y·V`.
    fn decrypt_with_encodings(
        &self,
        context: &Oracle,
        index: u32,
        encodings: [&[u8]; 3],
    ) -> Share<C> {
        let oracle = pad_oracle(context, index, encodings);
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

    /// The encoding of `y·V` for an ephemeral key `V` encoded as
    /// `encoding`, multiplied once per key and then kept.
    fn shared_encoding(&self, ephemeral: &C::Point, encoding: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut cache = self.shared.lock().expect("shared value cache");
        if let Some(shared) = cache.get(encoding) {
            return shared.clone();
        }
        if cache.len() >= SHARED_CACHE_LIMIT {
            cache.clear();
        }
        let shared = Zeroizing::new((*ephemeral * self.scalar).to_bytes().as_ref().to_vec());
        cache.insert(encoding.to_vec(), shared.clone());
        shared
    }
}
