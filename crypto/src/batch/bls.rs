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
//! Each edge goes to the star of its key or its message, whichever has more
//! edges in the batch (ties go to the key, whose prepared lines are cached
//! in min-sig). Consensus traffic — ≤ 40 signers, each signing the same
//! few blocks — then needs a few dozen Miller loops for thousands of
//! signatures; all-distinct traffic degrades gracefully to one loop per
//! signature, like blst's own batch API. Messages are hashed once per batch
//! (and reused by every sub-check of fault identification).

use std::collections::HashMap;

use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand::Rng;

use super::backend::{Backend, G2Argument, Msm};
use super::cache::PreparedKeyCache;
use crate::curve::{Affine, BlsGroup};
use crate::{PublicKey, Scheme, Signature};

/// One BLS verification claim: `signature` is valid on `messages[j]` under
/// `public_keys[j]` for all j, hashed under `dst`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlsClaim<S: Scheme> {
    /// The domain separation tag messages are hashed under.
    pub dst: Vec<u8>,
    /// Signer keys and their messages: one pair for a signature or share.
    pub pairs: Vec<(PublicKey<S>, Vec<u8>)>,
    /// The (possibly aggregate) signature.
    pub signature: Signature<S>,
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

    /// Number of claims.
    pub(crate) fn len(&self) -> usize {
        self.signatures.len()
    }

    /// Whether every claim in `subset` holds, with fresh random weights.
    pub(crate) fn check(
        &self,
        subset: &[usize],
        backend: &dyn Backend,
        cache: &PreparedKeyCache,
    ) -> bool {
        let mut rng = rand::thread_rng();
        let weights: Vec<u64> = subset.iter().map(|_| rng.gen_range(1..=u64::MAX)).collect();

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
        for (&claim, &weight) in subset.iter().zip(&weights) {
            for &(key, message) in &self.edges[claim] {
                if key_degree[key] >= message_degree[message] {
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
            scalars: weights,
        };

        let (key_ids, key_msms): (Vec<usize>, Vec<_>) = key_stars.into_iter().unzip();
        let (message_ids, message_msms): (Vec<usize>, Vec<_>) = message_stars.into_iter().unzip();
        let mut signature_side_msms = key_msms;
        signature_side_msms.push(signature_sum);
        let mut signature_side = S::SignatureGroup::msm_with(backend, &signature_side_msms);
        let combined_signature = signature_side
            .pop()
            .expect("the signature sum was pushed last");
        let key_side = S::PublicKeyGroup::msm_with(backend, &message_msms);

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
        backend.pairing_product_is_one(&terms)
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
