//! Batched BLS verification that exploits the shape of consensus traffic.
//!
//! Each claim says `e(σ, g) = Π_j e(H(m_j), pk_j)` (one pair for a plain
//! signature or share, several for an aggregate on distinct messages). With
//! secret random 64-bit weights rᶜ, a batch of claims is valid (except with
//! probability 2⁻⁶⁴ when some claim is not) iff
//!
//! ```text
//! e(Σ rᶜσᶜ, −g) · Π_edges e(rᶜ·H(m), pk) = 1
//! ```
//!
//! Every (claim, key, message) edge must be paired once, but edges sharing a
//! key or a message can share a Miller loop by bilinearity:
//!
//! - a **key star** pairs `e(Σ r·H(m), pk)` — one loop per distinct signer;
//! - a **message star** pairs `e(H(m), Σ r·pk)` — one loop per distinct message.
//!
//! Each edge goes to the star of its key or of its message, whichever is
//! cheaper per edge once the star's Miller loop is shared by all its edges
//! (a small cost model: G2 work costs ~3× G1 work, cached key lines make a
//! loop cheaper). Consensus traffic — ≤ 40 signers, each signing the same
//! few blocks — then needs a few dozen Miller loops for thousands of
//! signatures; all-distinct traffic degrades gracefully to one loop per
//! signature, like blst's own batch API. Messages are hashed once per batch
//! (and reused by every sub-check of fault identification).

use std::collections::HashMap;

use blstrs::Gt;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};

use super::cache::PreparedKeyCache;
use super::faults::BatchCheck;
use crate::backend::{Backend, G2Argument, Msm};
use crate::curve::{Affine, BlsGroup};
use crate::linear_check::short_weights;
use crate::{PublicKey, Scheme, Signature};

/// One BLS verification claim: `signature` is valid on each message under
/// its public key, all hashed under `dst`. Built only by the
/// [`Ciphersuite`](crate::Ciphersuite) methods (`signature_claim`,
/// `share_claim`, `aggregate_claim`, …), which enforce the suite's rules
/// (non-empty, distinct messages under the basic suite).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlsClaim<S: Scheme> {
    pub(crate) dst: Vec<u8>,
    pub(crate) pairs: Vec<(PublicKey<S>, Vec<u8>)>,
    pub(crate) signature: Signature<S>,
}

impl<S: Scheme> BlsClaim<S> {
    /// The domain separation tag messages are hashed under.
    pub fn dst(&self) -> &[u8] {
        &self.dst
    }

    /// Signer keys and their messages: one pair for a signature or share.
    pub fn pairs(&self) -> &[(PublicKey<S>, Vec<u8>)] {
        &self.pairs
    }

    /// The (possibly aggregate) signature.
    pub fn signature(&self) -> &Signature<S> {
        &self.signature
    }
}

/// A batch of claims of one scheme with its messages hashed and keys deduplicated.
pub(crate) struct PreparedBatch<S: Scheme> {
    signatures: Vec<Affine<S::SignatureGroup>>,
    /// Per claim: (key id, message id) edges.
    edges: Vec<Vec<(usize, usize)>>,
    keys: Vec<Affine<S::PublicKeyGroup>>,
    hashed_messages: Vec<Affine<S::SignatureGroup>>,
}

impl<S: Scheme> PreparedBatch<S> {
    /// Deduplicates keys and (tag, message) pairs and hashes each distinct message once.
    pub(crate) fn new(claims: &[&BlsClaim<S>], backend: &dyn Backend) -> Self {
        let mut key_ids: HashMap<&PublicKey<S>, usize> = HashMap::new();
        let mut keys = Vec::new();
        let mut message_ids: HashMap<(&[u8], &[u8]), usize> = HashMap::new();
        let mut messages_by_dst: HashMap<&[u8], Vec<(usize, &[u8])>> = HashMap::new();
        let edges = claims
            .iter()
            .map(|claim| {
                claim
                    .pairs
                    .iter()
                    .map(|(key, message)| {
                        let key_id = *key_ids.entry(key).or_insert_with(|| {
                            keys.push(key.0);
                            keys.len() - 1
                        });
                        let next_id = message_ids.len();
                        let message_id = *message_ids
                            .entry((claim.dst.as_slice(), message.as_slice()))
                            .or_insert_with(|| {
                                messages_by_dst
                                    .entry(&claim.dst)
                                    .or_default()
                                    .push((next_id, message));
                                next_id
                            });
                        (key_id, message_id)
                    })
                    .collect()
            })
            .collect();
        let mut hashed_messages = vec![Affine::<S::SignatureGroup>::identity(); message_ids.len()];
        for (dst, messages) in messages_by_dst {
            let bytes: Vec<&[u8]> = messages.iter().map(|(_, message)| *message).collect();
            let points = S::SignatureGroup::hash_with(backend, &bytes, dst);
            for ((id, _), point) in messages.iter().zip(points) {
                hashed_messages[*id] = point;
            }
        }
        PreparedBatch {
            signatures: claims.iter().map(|claim| claim.signature.0).collect(),
            edges,
            keys,
            hashed_messages,
        }
    }

    /// The pairing product `e(Σ rᶜσᶜ, −g) · Π_edges e(rᶜ·H(m), pk)` over the
    /// claims in `subset` with weights `weights`: the identity iff (with
    /// overwhelming probability over random weights) every claim holds.
    fn evaluate(
        &self,
        subset: &[usize],
        weights: &[u128],
        backend: &dyn Backend,
        cache: &PreparedKeyCache,
    ) -> Gt {
        let mut key_degree = vec![0usize; self.keys.len()];
        let mut message_degree = vec![0usize; self.hashed_messages.len()];
        for &claim in subset {
            for &(key, message) in &self.edges[claim] {
                key_degree[key] += 1;
                message_degree[message] += 1;
            }
        }
        // Star contents: key id → MSM over hashed messages; message id → MSM over keys.
        let mut key_stars: HashMap<usize, Msm<Affine<S::SignatureGroup>>> = HashMap::new();
        let mut message_stars: HashMap<usize, Msm<Affine<S::PublicKeyGroup>>> = HashMap::new();
        for (&claim, &weight) in subset.iter().zip(weights) {
            for &(key, message) in &self.edges[claim] {
                if prefer_key_star::<S>(key_degree[key], message_degree[message]) {
                    let star = key_stars.entry(key).or_default();
                    star.bases.push(self.hashed_messages[message]);
                    star.scalars.push(weight);
                } else {
                    let star = message_stars.entry(message).or_default();
                    star.bases.push(self.keys[key]);
                    star.scalars.push(weight);
                }
            }
        }
        let signature_sum = Msm {
            bases: subset.iter().map(|&claim| self.signatures[claim]).collect(),
            scalars: weights.to_vec(),
        };

        let (key_ids, key_msms): (Vec<usize>, Vec<_>) = key_stars.into_iter().unzip();
        let (message_ids, message_msms): (Vec<usize>, Vec<_>) = message_stars.into_iter().unzip();
        let mut signature_side_msms = key_msms;
        signature_side_msms.push(signature_sum);
        // The two groups' MSMs are independent: run them side by side.
        let (mut signature_side, key_side) = rayon::join(
            || S::SignatureGroup::msm_with(backend, &signature_side_msms),
            || S::PublicKeyGroup::msm_with(backend, &message_msms),
        );
        let combined_signature = signature_side
            .pop()
            .expect("the signature sum was pushed last");

        let negated_generator = (-S::PublicKeyGroup::generator()).to_affine();
        let mut terms = Vec::with_capacity(key_ids.len() + message_ids.len() + 1);
        terms.push(miller_term::<S>(
            &combined_signature,
            &negated_generator,
            true,
            cache,
        ));
        terms.extend(
            key_ids
                .iter()
                .zip(&signature_side)
                .map(|(&key, point)| miller_term::<S>(point, &self.keys[key], true, cache)),
        );
        terms.extend(message_ids.iter().zip(&key_side).map(|(&message, point)| {
            miller_term::<S>(&self.hashed_messages[message], point, false, cache)
        }));
        backend.pairing_product(&terms)
    }
}

/// Per-edge and per-star costs (in units of a 64-bit G1 MSM share, ~4 µs)
/// that decide between key and message stars. A G2 MSM share costs ~3×
/// a G1 one; a Miller loop on cached lines ~40 units, on a fresh G2 point ~65.
const G1_EDGE_COST: usize = 1;
const G2_EDGE_COST: usize = 3;
const CACHED_LOOP_COST: usize = 40;
const FRESH_LOOP_COST: usize = 65;

/// Whether an edge whose key has `key_degree` edges and whose message has
/// `message_degree` edges is cheaper in its key's star than in its message's,
/// counting each star's Miller loop as shared by all its edges.
fn prefer_key_star<S: Scheme>(key_degree: usize, message_degree: usize) -> bool {
    // Key stars sum hashed messages (signature group); message stars sum keys.
    let (key_edge, message_edge, key_loop) = if S::KEYS_IN_G2 {
        (G1_EDGE_COST, G2_EDGE_COST, CACHED_LOOP_COST)
    } else {
        (G2_EDGE_COST, G1_EDGE_COST, FRESH_LOOP_COST)
    };
    // Compare key_loop / key_degree + key_edge with FRESH / message_degree + message_edge,
    // multiplied through by both degrees to stay in integers.
    (key_loop + key_edge * key_degree) * message_degree
        <= (FRESH_LOOP_COST + message_edge * message_degree) * key_degree
}

/// Checks subsets of a [`PreparedBatch`] on a backend, and locates single faults.
pub(crate) struct BlsChecker<'a, S: Scheme> {
    pub(crate) batch: &'a PreparedBatch<S>,
    pub(crate) backend: &'a dyn Backend,
    pub(crate) cache: &'a PreparedKeyCache,
}

impl<S: Scheme> BatchCheck for BlsChecker<'_, S> {
    /// The weights of the failed check and the pairing product they gave.
    type Failure = (Vec<u128>, Gt);

    fn check(&self, subset: &[usize]) -> Result<(), Self::Failure> {
        let weights = short_weights(subset.len(), &mut rand::thread_rng());
        let product = self
            .batch
            .evaluate(subset, &weights, self.backend, self.cache);
        if bool::from(product.is_identity()) {
            Ok(())
        } else {
            Err((weights, product))
        }
    }

    /// With claim j of the set contributing `Eⱼ^{rⱼ}` (Eⱼ = 1 iff valid),
    /// the failed product is `T₁ = Π Eⱼ^{rⱼ}`. Re-evaluating with weights
    /// `(j+1)·rⱼ` gives `T₂`; if only claim b is invalid then
    /// `T₂ = T₁^{b+1}`, which a scan over j finds. Claim b is named only if
    /// its own term equals T₁, which proves every other claim's product is 1
    /// (with the same 2⁻⁶⁴ error as the batch itself).
    fn locate_single(&self, subset: &[usize], (weights, first): Self::Failure) -> Option<usize> {
        if subset.len() < 3 || subset.len() > usize::from(u16::MAX) {
            return None; // Halving is as cheap for tiny sets; the scan too long for huge ones.
        }
        let scaled: Vec<u128> = weights
            .iter()
            .enumerate()
            .map(|(j, weight)| (j as u128 + 1) * weight)
            .collect();
        let second = self
            .batch
            .evaluate(subset, &scaled, self.backend, self.cache);
        let mut power = first;
        let position = (0..subset.len()).find(|_| {
            let found = power == second;
            power += first;
            found
        })?;
        let claim = subset[position];
        let own_term = self.batch.evaluate(
            &[claim],
            &weights[position..=position],
            self.backend,
            self.cache,
        );
        (own_term == first).then_some(claim)
    }
}

/// Orders a (signature side, key side) pair for the pairing; when the key
/// side is a known key (or the generator) in G2, uses its cached lines.
fn miller_term<S: Scheme>(
    signature_side: &Affine<S::SignatureGroup>,
    key_side: &Affine<S::PublicKeyGroup>,
    key_side_is_known: bool,
    cache: &PreparedKeyCache,
) -> (blstrs::G1Affine, G2Argument) {
    let (g1, g2) = S::pairing_arguments(signature_side, key_side);
    if S::KEYS_IN_G2 && key_side_is_known {
        (g1, G2Argument::Prepared(cache.get_or_prepare(&g2)))
    } else {
        (g1, G2Argument::Fresh(g2))
    }
}
