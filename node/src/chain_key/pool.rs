//! Chain-key work waiting for a block, and the chain-key part of block
//! payloads: what a block maker adds and what every node accepts.
//!
//! Blocks are judged against the state at their parent: the finalized
//! state with the items of the unfinalized ancestors applied on a copy.
//! A dealing is accepted once per dealer, only into an open transcript,
//! and only if it verifies (dealings seen verified before are not verified
//! again); a signature only with a ready presignature, and only if it
//! verifies under the caller's derived key.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chainkey_consensus::types::IngressMessage;
use chainkey_consensus::{Hash, Height};
use chainkey_crypto::tecdsa::Dealing;

use super::state::{ChainKeyState, Change, ItemError};
use super::{ChainKeyEvent, ChainKeyItem, Curve, SignatureItem, TranscriptRef};

/// Dealings one block carries at most.
pub const MAX_DEALINGS_PER_BLOCK: usize = 256;
/// Signatures one block carries at most.
pub const MAX_SIGNATURES_PER_BLOCK: usize = 500;
/// Decoded, verified dealings remembered by encoding, at most.
const VERIFIED_CACHE: usize = 20_000;

/// A verified dealing and its encoding.
#[derive(Clone, Debug)]
pub struct PooledDealing {
    /// The encoding (what blocks carry).
    pub bytes: Vec<u8>,
    /// The dealing.
    pub dealing: Arc<Dealing<Curve>>,
}

/// The finalized chain-key state and the work waiting for blocks.
#[derive(Debug)]
pub struct ChainKeyPool {
    state: ChainKeyState,
    /// Verified dealings not yet in a finalized block.
    dealings: BTreeMap<(TranscriptRef, u32), PooledDealing>,
    /// Combined signatures not yet in a finalized block.
    signatures: BTreeMap<u64, SignatureItem>,
    /// Verified dealings by a digest of their encoding (validation skips them).
    verified: RefCell<HashMap<Hash, Arc<Dealing<Curve>>>>,
    /// Changes from finalized blocks, for the signer.
    changes: Vec<Change>,
    /// Execution's events, by finalized height.
    events: BTreeMap<Height, Vec<ChainKeyEvent>>,
}

/// Identifies a dealing for a transcript (its proofs bind the transcript,
/// so a dealing verified for one is not verified for another).
fn digest(transcript: &TranscriptRef, bytes: &[u8]) -> Hash {
    Hash::of(&[
        b"chainkey dealing",
        &crate::wire::to_cbor(transcript),
        bytes,
    ])
}

impl ChainKeyPool {
    /// A pool continuing from `state`.
    pub fn new(state: ChainKeyState) -> ChainKeyPool {
        ChainKeyPool {
            state,
            dealings: BTreeMap::new(),
            signatures: BTreeMap::new(),
            verified: RefCell::new(HashMap::new()),
            changes: Vec::new(),
            events: BTreeMap::new(),
        }
    }

    /// The finalized state.
    pub fn state(&self) -> &ChainKeyState {
        &self.state
    }

    /// Adds a verified dealing (ours or a peer's) for the next blocks.
    pub fn add_dealing(&mut self, transcript: TranscriptRef, dealing: PooledDealing) {
        if self
            .state
            .check_dealing(&transcript, dealing.dealing.dealer)
            .is_err()
        {
            return; // completed meanwhile
        }
        self.remember(&transcript, &dealing);
        self.dealings
            .insert((transcript, dealing.dealing.dealer), dealing);
    }

    /// Adds a combined signature for the next blocks.
    pub fn add_signature(&mut self, item: SignatureItem) {
        if self.state.ready().contains_key(&item.presignature) {
            self.signatures.insert(item.presignature, item);
        }
    }

    fn remember(&self, transcript: &TranscriptRef, dealing: &PooledDealing) {
        let mut verified = self.verified.borrow_mut();
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(
            digest(transcript, &dealing.bytes),
            Arc::clone(&dealing.dealing),
        );
    }

    /// Applies a finalized block's items if it is the next height (after
    /// a catch-up package, the node applies the blocks once it has them).
    pub fn on_finalized(&mut self, height: Height, payload: &[IngressMessage]) {
        if height != self.state.height() + 1 {
            return;
        }
        let mut events = Vec::new();
        for item in payload.iter().filter_map(ChainKeyItem::from_message) {
            let changes = match item {
                ChainKeyItem::Dealing {
                    transcript,
                    dealing,
                } => match self.decode(&transcript, &dealing) {
                    Some(dealing) => self.state.apply_dealing(transcript, dealing),
                    None => Vec::new(),
                },
                ChainKeyItem::Signature(item) => self.state.apply_signature(item),
            };
            events.extend(changes.iter().filter_map(event_of));
            self.changes.extend(changes);
        }
        self.state.finish_height(height);
        if !events.is_empty() {
            self.events.insert(height, events);
        }
        let state = &self.state;
        self.dealings
            .retain(|(transcript, dealer), _| state.check_dealing(transcript, *dealer).is_ok());
        self.signatures
            .retain(|presignature, _| state.ready().contains_key(presignature));
    }

    /// A dealing from a finalized or validated block: from the cache, or decoded.
    fn decode(&self, transcript: &TranscriptRef, bytes: &[u8]) -> Option<Arc<Dealing<Curve>>> {
        if let Some(dealing) = self.verified.borrow().get(&digest(transcript, bytes)) {
            return Some(Arc::clone(dealing));
        }
        Dealing::from_bytes(bytes).ok().map(Arc::new)
    }

    /// Takes the changes of the finalized blocks applied since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Takes execution's events for `height` (applied before).
    pub fn take_events(&mut self, height: Height) -> Vec<ChainKeyEvent> {
        self.events.remove(&height).unwrap_or_default()
    }

    /// Whether blocks above `finalized_height` can be judged: the state
    /// has caught up with it.
    pub fn can_validate(&self, finalized_height: Height) -> bool {
        self.state.height() >= finalized_height
    }

    /// The state at a new block's parent: `past` are the payloads of the
    /// unfinalized ancestors, which their notarization vouches for.
    fn view(&self, past: &[&[IngressMessage]]) -> ChainKeyState {
        let mut view = self.state.clone();
        for item in past
            .iter()
            .flat_map(|payload| payload.iter())
            .filter_map(ChainKeyItem::from_message)
        {
            match item {
                ChainKeyItem::Dealing {
                    transcript,
                    dealing,
                } => {
                    if let Some(dealing) = self.decode(&transcript, &dealing) {
                        view.apply_dealing(transcript, dealing);
                    }
                }
                ChainKeyItem::Signature(item) => {
                    view.apply_signature(item);
                }
            }
        }
        view
    }

    /// This node's chain-key items for a block at `height` on a parent
    /// with unfinalized ancestors `past`.
    pub fn build(&self, height: Height, past: &[&[IngressMessage]]) -> Vec<IngressMessage> {
        if height != self.state.height() + 1 + past.len() as Height {
            return Vec::new(); // the state lags (after a catch-up package)
        }
        let view = self.view(past);
        let mut items = Vec::new();
        for (transcript, slot) in view.slots() {
            if slot.transcript.is_some() {
                continue;
            }
            let missing = slot
                .params
                .min_dealings()
                .saturating_sub(slot.dealings.len());
            let range = (*transcript, 0)..=(*transcript, u32::MAX);
            items.extend(
                self.dealings
                    .range(range)
                    .filter(|((_, dealer), _)| !slot.dealings.contains_key(dealer))
                    .take(missing)
                    .map(|((transcript, _), pooled)| ChainKeyItem::Dealing {
                        transcript: *transcript,
                        dealing: pooled.bytes.clone(),
                    }),
            );
            if items.len() >= MAX_DEALINGS_PER_BLOCK {
                items.truncate(MAX_DEALINGS_PER_BLOCK);
                break;
            }
        }
        items.extend(
            self.signatures
                .values()
                .filter(|item| view.ready().contains_key(&item.presignature))
                .take(MAX_SIGNATURES_PER_BLOCK)
                .cloned()
                .map(ChainKeyItem::Signature),
        );
        items.iter().map(ChainKeyItem::to_message).collect()
    }

    /// Whether the chain-key items of a block at `height` are acceptable.
    ///
    /// # Errors
    /// The first reason an item is refused.
    pub fn validate(
        &self,
        height: Height,
        payload: &[IngressMessage],
        past: &[&[IngressMessage]],
    ) -> Result<(), ItemError> {
        let mut items = payload.iter().filter(|message| super::is_item(message));
        let Some(first) = items.next() else {
            return Ok(());
        };
        if height != self.state.height() + 1 + past.len() as Height {
            return Err(ItemError::NotOpen); // cannot judge: can_validate said so
        }
        let mut view = self.view(past);
        let (mut dealings, mut signatures) = (0, 0);
        for message in std::iter::once(first).chain(items) {
            match ChainKeyItem::from_message(message).ok_or(ItemError::InvalidDealing)? {
                ChainKeyItem::Dealing {
                    transcript,
                    dealing: bytes,
                } => {
                    dealings += 1;
                    let dealing = self.verified_dealing(&view, transcript, &bytes)?;
                    view.apply_dealing(transcript, dealing);
                }
                ChainKeyItem::Signature(item) => {
                    signatures += 1;
                    view.check_signature(&item)?;
                    view.apply_signature(item);
                }
            }
            if dealings > MAX_DEALINGS_PER_BLOCK || signatures > MAX_SIGNATURES_PER_BLOCK {
                return Err(ItemError::InvalidDealing);
            }
        }
        Ok(())
    }

    /// A block's dealing, checked against `view` and verified (or known verified).
    fn verified_dealing(
        &self,
        view: &ChainKeyState,
        transcript: TranscriptRef,
        bytes: &[u8],
    ) -> Result<Arc<Dealing<Curve>>, ItemError> {
        let key = digest(&transcript, bytes);
        let known = self.verified.borrow().get(&key).cloned();
        let was_known = known.is_some();
        let dealing = match known {
            Some(dealing) => dealing,
            None => Arc::new(Dealing::from_bytes(bytes).map_err(|_| ItemError::InvalidDealing)?),
        };
        let params = view.check_dealing(&transcript, dealing.dealer)?;
        if !was_known {
            dealing
                .verify(params)
                .map_err(|_| ItemError::InvalidDealing)?;
            let pooled = PooledDealing {
                bytes: bytes.to_vec(),
                dealing: Arc::clone(&dealing),
            };
            self.remember(&transcript, &pooled);
        }
        Ok(dealing)
    }
}

/// Execution's view of a change.
fn event_of(change: &Change) -> Option<ChainKeyEvent> {
    match change {
        Change::KeyReady(key) => Some(ChainKeyEvent::KeyReady(super::state::master_public_key(
            key,
        ))),
        Change::PresignatureReady(i, _) => Some(ChainKeyEvent::PresignatureReady(*i)),
        Change::Signed(item) => Some(ChainKeyEvent::Signed(item.clone())),
        Change::Opened { .. } | Change::Completed(..) => None,
    }
}
