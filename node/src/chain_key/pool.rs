//! Chain-key work waiting for a block, and the chain-key part of block
//! payloads: what a block maker adds and what every node accepts.
//!
//! Blocks are judged against the state at their parent: the finalized
//! state with the items of the unfinalized ancestors applied on a copy.
//! A dealing is accepted once per dealer, only into an open transcript,
//! and only if it verifies (dealings seen verified before are not verified
//! again); a signature only with a ready presignature, and only if it is
//! its request's signature made with that presignature.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chainkey_consensus::{Hash, Height, Payload};
use chainkey_crypto::tecdsa::{verify_dealings_of, Dealing, TranscriptParams};

use super::bls::BlsDealing;
use super::state::{ChainKeyState, Change, ItemError};
use super::{ChainKeyEvent, ChainKeyItem, Curve, SignatureItem, SignedDealing, TranscriptRef};
use crate::registry::governance::SubnetRecord;
use chainkey_crypto::nidkg::VerifiedDealing as VerifiedBlsDealing;

/// Dealings one block carries at most.
pub const MAX_DEALINGS_PER_BLOCK: usize = 200;
/// Signatures one block carries at most.
pub const MAX_SIGNATURES_PER_BLOCK: usize = 300;
/// Threshold BLS reshare dealings one block carries at most (each is
/// verified on the consensus thread: a few milliseconds).
pub const MAX_BLS_DEALINGS_PER_BLOCK: usize = 8;
/// Decoded, verified dealings remembered by encoding, at most.
const VERIFIED_CACHE: usize = 20_000;

/// A verified dealing and its signed encoding.
#[derive(Clone, Debug)]
pub struct PooledDealing {
    /// What blocks carry.
    pub signed: SignedDealing,
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
    /// Verified dealings by [`digest`] (validation does not verify them again).
    verified: RefCell<HashMap<Hash, Arc<Dealing<Curve>>>>,
    /// Changes from finalized blocks, for the signer.
    changes: Vec<Change>,
    /// Execution's events, by finalized height.
    events: BTreeMap<Height, Vec<ChainKeyEvent>>,
    /// Subnet records this node's execution adopted, by registry version
    /// (newer than the chain's): what blocks may carry.
    adopted: BTreeMap<u64, SubnetRecord>,
    /// This node's BLS reshare dealings not yet in a finalized block (a
    /// dealer's own blocks carry them: no other node can deal its share).
    own_bls: Vec<BlsDealing>,
    /// Verified BLS reshare dealings by a hash of the item.
    verified_bls: RefCell<HashMap<Hash, VerifiedBlsDealing>>,
}

/// Identifies a BLS reshare dealing item.
fn bls_digest(item: &BlsDealing) -> Hash {
    Hash::of(&[b"chainkey BLS dealing", &crate::cbor::to_cbor(item)])
}

/// Identifies a signed dealing for exactly these transcript parameters
/// (its proofs bind them: on another fork, where the sources completed
/// with other dealings, the same bytes are not verified).
fn digest(params: &TranscriptParams<Curve>, signed: &SignedDealing) -> Hash {
    Hash::of(&[
        b"chainkey dealing",
        &params.digest(),
        &signed.dealing,
        &signed.signature,
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
            adopted: BTreeMap::new(),
            own_bls: Vec::new(),
            verified_bls: RefCell::new(HashMap::new()),
        }
    }

    /// Adds this node's BLS reshare dealing for its next blocks (the first
    /// for its key and version: a block carries one per dealer).
    pub fn add_bls_dealing(&mut self, item: BlsDealing) {
        let dealt = self
            .own_bls
            .iter()
            .any(|own| (own.key, own.version) == (item.key, item.version));
        if !dealt {
            self.own_bls.push(item);
        }
    }

    /// Notes a subnet record this node's execution adopted.
    pub fn adopt(&mut self, record: SubnetRecord) {
        if record.version > self.state.membership_version() {
            self.adopted.insert(record.version, record);
        }
    }

    /// The newest registry version noted by [`Self::adopt`] or carried by the chain.
    pub fn adopted_version(&self) -> u64 {
        let noted = self.adopted.keys().next_back().copied();
        noted.unwrap_or(0).max(self.state.membership_version())
    }

    /// The finalized state.
    pub fn state(&self) -> &ChainKeyState {
        &self.state
    }

    /// Adds a verified dealing (ours or a peer's) for the next blocks.
    pub fn add_dealing(&mut self, dealing: PooledDealing) {
        let transcript = dealing.signed.transcript;
        let Ok(params) = self
            .state
            .check_dealing(&transcript, dealing.dealing.dealer)
        else {
            return; // completed meanwhile
        };
        self.remember(digest(params, &dealing.signed), &dealing.dealing);
        self.dealings
            .insert((transcript, dealing.dealing.dealer), dealing);
    }

    /// Adds a combined signature for the next blocks.
    pub fn add_signature(&mut self, item: SignatureItem) {
        if self.state.ready().contains_key(&item.job.presignature) {
            self.signatures.insert(item.job.presignature, item);
        }
    }

    fn remember(&self, key: Hash, dealing: &Arc<Dealing<Curve>>) {
        let mut verified = self.verified.borrow_mut();
        if verified.len() >= VERIFIED_CACHE {
            verified.clear();
        }
        verified.insert(key, Arc::clone(dealing));
    }

    /// Applies a finalized block's items if it is the next height (after
    /// a catch-up package, the node applies the blocks once it has them).
    pub fn on_finalized(&mut self, height: Height, payload: &Payload) {
        if height != self.state.height() + 1 {
            return;
        }
        let mut events = Vec::new();
        for item in super::entries(payload).flatten() {
            let changes = apply(&mut self.state, item, &self.verified, &self.verified_bls);
            events.extend(changes.iter().filter_map(event_of));
            self.changes.extend(changes);
        }
        let changes = self.state.finish_height(height);
        events.extend(changes.iter().filter_map(event_of));
        self.changes.extend(changes);
        if !events.is_empty() {
            self.events.insert(height, events);
        }
        let state = &self.state;
        self.dealings
            .retain(|(transcript, dealer), _| state.check_dealing(transcript, *dealer).is_ok());
        self.signatures
            .retain(|presignature, _| state.ready().contains_key(presignature));
        let carried = state.membership_version();
        self.adopted.retain(|version, _| *version > carried);
        self.own_bls
            .retain(|item| state.bls().is_some_and(|bls| bls.check(item).is_ok()));
        if state.bls().is_none_or(|bls| bls.open_reshares().is_empty()) {
            self.verified_bls.borrow_mut().clear();
        }
    }

    /// Takes the changes of the finalized blocks applied since the last call.
    pub fn take_changes(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// Takes execution's events for `height` (applied before).
    pub fn take_events(&mut self, height: Height) -> Vec<ChainKeyEvent> {
        self.events.remove(&height).unwrap_or_default()
    }

    /// Whether a block with `payload` above `finalized_height` can be
    /// judged: it carries no chain-key items, or the state has caught up
    /// with `finalized_height` (it lags after a catch-up package).
    ///
    /// A block carrying a subnet record waits until this node's execution
    /// adopted a record of that version.
    pub fn can_validate(&self, finalized_height: Height, payload: &Payload) -> bool {
        if !super::carries_items(payload) {
            return true;
        }
        let adopted = self.adopted_version();
        self.state.height() == finalized_height
            && super::entries(payload).all(|item| {
                !matches!(
                    item,
                    Some(ChainKeyItem::Membership(record)) if record.version > adopted
                )
            })
    }

    /// The state a new block is judged on: the state at its parent (the
    /// finalized state with the items of the unfinalized ancestors `past`,
    /// which their notarization vouches for), as a copy for judging.
    fn view(&self, past: &[&Payload]) -> ChainKeyState {
        let mut view = self.state.clone();
        for item in past
            .iter()
            .flat_map(|payload| super::entries(payload).flatten())
        {
            apply(&mut view, item, &self.verified, &self.verified_bls);
        }
        view.for_judging()
    }

    /// This node's chain-key items for a block at `height` on a parent
    /// with unfinalized ancestors `past`.
    pub fn build(&self, height: Height, past: &[&Payload]) -> Vec<ChainKeyItem> {
        if height != self.state.height() + 1 + past.len() as Height {
            return Vec::new(); // the state lags (after a catch-up package)
        }
        let view = self.view(past);
        let mut items = Vec::new();
        for (transcript, slot) in view.slots() {
            if !slot.is_open() {
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
                    .map(|(_, pooled)| ChainKeyItem::Dealing(pooled.signed.clone())),
            );
            if items.len() >= MAX_DEALINGS_PER_BLOCK {
                items.truncate(MAX_DEALINGS_PER_BLOCK);
                break;
            }
        }
        if let Some(bls) = view.bls() {
            items.extend(
                self.own_bls
                    .iter()
                    .filter(|item| bls.check(item).is_ok())
                    .take(MAX_BLS_DEALINGS_PER_BLOCK)
                    .cloned()
                    .map(ChainKeyItem::BlsDealing),
            );
        }
        if let Some(newest) = self.adopted.values().next_back() {
            if newest.version > view.membership_version() {
                items.push(ChainKeyItem::Membership(newest.clone()));
            }
        }
        items.extend(
            self.signatures
                .values()
                .filter(|item| view.ready().contains_key(&item.job.presignature))
                .take(MAX_SIGNATURES_PER_BLOCK)
                .cloned()
                .map(ChainKeyItem::Signature),
        );
        items
    }

    /// Whether the chain-key items of a block at `height` are acceptable.
    ///
    /// # Errors
    /// The first reason an item is refused.
    pub fn validate(
        &self,
        height: Height,
        payload: &Payload,
        past: &[&Payload],
    ) -> Result<(), ItemError> {
        if !super::carries_items(payload) {
            return Ok(());
        }
        if height != self.state.height() + 1 + past.len() as Height {
            return Err(ItemError::Lagging); // can_validate says to wait
        }
        let mut view = self.view(past);
        let (mut dealings, mut signatures, mut records, mut bls) = (0, 0, 0, 0);
        // Dealings not verified here before: verified together at the end.
        let mut unverified = Vec::new();
        for item in super::entries(payload) {
            match item.ok_or(ItemError::Malformed)? {
                ChainKeyItem::Dealing(signed) => {
                    dealings += 1;
                    if dealings > MAX_DEALINGS_PER_BLOCK {
                        return Err(ItemError::TooMany);
                    }
                    let checked = self.checked_dealing(&view, &signed)?;
                    if let Some(params) = checked.unverified {
                        unverified.push((params, Arc::clone(&checked.dealing), checked.id));
                    }
                    view.apply_dealing(signed.transcript, checked.dealing, checked.id);
                }
                ChainKeyItem::Signature(item) => {
                    signatures += 1;
                    if signatures > MAX_SIGNATURES_PER_BLOCK {
                        return Err(ItemError::TooMany);
                    }
                    // One this node combined itself is known valid (every
                    // honest node combines the same bytes).
                    if self.signatures.get(&item.job.presignature) == Some(&item) {
                        if !view.ready().contains_key(&item.job.presignature) {
                            return Err(ItemError::Presignature);
                        }
                    } else {
                        view.check_signature(&item)?;
                    }
                    view.apply_signature(item);
                }
                ChainKeyItem::Membership(record) => {
                    records += 1;
                    let adopted = self.adopted.get(&record.version) == Some(&record);
                    if records > 1 || !adopted || record.version <= view.membership_version() {
                        return Err(ItemError::Membership);
                    }
                    view.apply_membership(record);
                }
                ChainKeyItem::BlsDealing(item) => {
                    bls += 1;
                    if bls > MAX_BLS_DEALINGS_PER_BLOCK {
                        return Err(ItemError::TooMany);
                    }
                    let verified = self.verified_bls_dealing(&view, &item)?;
                    view.apply_bls_dealing(&item, verified);
                }
            }
        }
        let pairs: Vec<_> = unverified
            .iter()
            .map(|(params, dealing, _)| (&**params, &**dealing))
            .collect();
        if !verify_dealings_of(&pairs).iter().all(Result::is_ok) {
            return Err(ItemError::InvalidDealing);
        }
        for (_, dealing, id) in &unverified {
            self.remember(*id, dealing);
        }
        Ok(())
    }

    /// A block's BLS reshare dealing, verified against `view` (unless it
    /// was verified here before).
    fn verified_bls_dealing(
        &self,
        view: &ChainKeyState,
        item: &BlsDealing,
    ) -> Result<VerifiedBlsDealing, ItemError> {
        let key = bls_digest(item);
        if let Some(verified) = self.verified_bls.borrow().get(&key) {
            view.bls()
                .ok_or(ItemError::NotOpen)?
                .check(item)
                .map_err(|_| ItemError::Dealer)?;
            return Ok(verified.clone());
        }
        let verified = view.verify_bls_dealing(item)?;
        self.verified_bls.borrow_mut().insert(key, verified.clone());
        Ok(verified)
    }

    /// A block's dealing, checked against `view`: into an open transcript
    /// and signed by its dealer.
    fn checked_dealing(
        &self,
        view: &ChainKeyState,
        signed: &SignedDealing,
    ) -> Result<CheckedDealing, ItemError> {
        let params = view
            .open_params(&signed.transcript)
            .ok_or(ItemError::NotOpen)?;
        let key = digest(params, signed);
        if let Some(dealing) = self.verified.borrow().get(&key) {
            view.check_dealing(&signed.transcript, dealing.dealer)?;
            return Ok(CheckedDealing {
                dealing: Arc::clone(dealing),
                id: key,
                unverified: None,
            });
        }
        let dealing =
            Dealing::from_bytes(&signed.dealing).map_err(|_| ItemError::InvalidDealing)?;
        view.check_dealing(&signed.transcript, dealing.dealer)?;
        if !view.setup().dealt_by(signed, dealing.dealer) {
            return Err(ItemError::NotSignedByDealer);
        }
        Ok(CheckedDealing {
            dealing: Arc::new(dealing),
            id: key,
            unverified: Some(Arc::clone(params)),
        })
    }
}

/// A block's dealing after the checks that need no verification.
struct CheckedDealing {
    dealing: Arc<Dealing<Curve>>,
    /// Its [`digest`].
    id: Hash,
    /// The parameters to verify it against, unless it was verified here before.
    unverified: Option<Arc<TranscriptParams<Curve>>>,
}

/// Applies a finalized or notarized item (validated when its block was),
/// decoding a dealing only if it was not verified here before.
fn apply(
    state: &mut ChainKeyState,
    item: ChainKeyItem,
    verified: &RefCell<HashMap<Hash, Arc<Dealing<Curve>>>>,
    verified_bls: &RefCell<HashMap<Hash, VerifiedBlsDealing>>,
) -> Vec<Change> {
    match item {
        ChainKeyItem::Dealing(signed) => {
            let Some(params) = state.open_params(&signed.transcript) else {
                return Vec::new();
            };
            let id = digest(params, &signed);
            let known = verified.borrow().get(&id).cloned();
            let dealing = known.or_else(|| Dealing::from_bytes(&signed.dealing).ok().map(Arc::new));
            match dealing {
                Some(dealing) => state.apply_dealing(signed.transcript, dealing, id),
                None => Vec::new(),
            }
        }
        ChainKeyItem::Signature(item) => state.apply_signature(item),
        ChainKeyItem::Membership(record) => state.apply_membership(record),
        ChainKeyItem::BlsDealing(item) => {
            let known = verified_bls.borrow().get(&bls_digest(&item)).cloned();
            match known.map_or_else(|| state.verify_bls_dealing(&item), Ok) {
                Ok(dealing) => state.apply_bls_dealing(&item, dealing),
                Err(_) => Vec::new(),
            }
        }
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
        Change::EpochStarted { retired, .. } => {
            Some(ChainKeyEvent::PresignaturesRetired(retired.clone()))
        }
        Change::Opened { .. }
        | Change::Completed(..)
        | Change::KeyReshared(..)
        | Change::Bls(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain_key::state::Setup;
    use chainkey_crypto::tecdsa::{DealerInput, MegaSecretKey};

    struct Subnet {
        signing: Vec<ed25519_dalek::SigningKey>,
        pool: ChainKeyPool,
    }

    fn subnet() -> Subnet {
        let mut rng = rand::thread_rng();
        let mega: Vec<MegaSecretKey<Curve>> =
            (0..4).map(|_| MegaSecretKey::generate(&mut rng)).collect();
        let signing: Vec<_> = (0..4u8)
            .map(|i| ed25519_dalek::SigningKey::from_bytes(&[i + 1; 32]))
            .collect();
        let state = ChainKeyState::genesis(Setup {
            key_name: "key_1".into(),
            receivers: mega.iter().map(MegaSecretKey::public_key).collect(),
            threshold: 2,
            pool_size: 2,
            first_pool_size: 2,
            dealer_keys: signing.iter().map(|key| key.verifying_key()).collect(),
        });
        Subnet {
            signing,
            pool: ChainKeyPool::new(state),
        }
    }

    /// Dealer `dealer`'s dealing into the key's random transcript, signed by node `signer`.
    fn dealing(
        subnet: &Subnet,
        dealer: u32,
        signer: usize,
    ) -> (SignedDealing, Arc<Dealing<Curve>>) {
        let transcript = TranscriptRef::KeyRandom;
        let params = subnet.pool.state().open_params(&transcript).unwrap();
        let dealing =
            Dealing::create(params, dealer, DealerInput::Fresh, &mut rand::thread_rng()).unwrap();
        let signed = SignedDealing::sign(
            transcript,
            "key_1",
            dealing.to_bytes(),
            &subnet.signing[signer],
        );
        (signed, Arc::new(dealing))
    }

    fn payload_of(items: &[ChainKeyItem]) -> Payload {
        let mut payload = Payload::default();
        crate::chain_key::place(items, &mut payload);
        payload
    }

    fn block(items: &[SignedDealing]) -> Payload {
        let items: Vec<ChainKeyItem> = items.iter().cloned().map(ChainKeyItem::Dealing).collect();
        payload_of(&items)
    }

    #[test]
    fn blocks_carry_only_dealings_signed_by_their_dealers_into_open_transcripts() {
        let mut subnet = subnet();
        let (by_0, _) = dealing(&subnet, 0, 0);
        let (by_1, _) = dealing(&subnet, 1, 1);
        let pool = &subnet.pool;
        assert_eq!(
            pool.validate(1, &block(&[by_0.clone(), by_1.clone()]), &[]),
            Ok(())
        );
        // A maker passing off its own dealing as node 2's is refused.
        let (forged, _) = dealing(&subnet, 2, 3);
        assert_eq!(
            pool.validate(1, &block(&[forged]), &[]),
            Err(ItemError::NotSignedByDealer)
        );
        // Twice from one dealer, or a third once two completed the transcript.
        assert_eq!(
            pool.validate(1, &block(&[by_0.clone(), by_0.clone()]), &[]),
            Err(ItemError::Dealer)
        );
        let (by_2, _) = dealing(&subnet, 2, 2);
        assert_eq!(
            pool.validate(1, &block(&[by_0.clone(), by_1.clone(), by_2]), &[]),
            Err(ItemError::NotOpen)
        );
        // A dealing that does not verify (its ephemeral key is not the dealer's).
        let (_, mut bad) = dealing(&subnet, 3, 3);
        Arc::make_mut(&mut bad).ciphertexts.ephemeral += k256::ProjectivePoint::GENERATOR;
        let bad = SignedDealing::sign(
            TranscriptRef::KeyRandom,
            "key_1",
            bad.to_bytes(),
            &subnet.signing[3],
        );
        assert_eq!(
            pool.validate(1, &block(&[bad]), &[]),
            Err(ItemError::InvalidDealing)
        );
        // Built from the pool, and finalized: the key's reshare opens.
        for (signed, dealing) in [dealing(&subnet, 0, 0), dealing(&subnet, 1, 1)] {
            subnet.pool.add_dealing(PooledDealing { signed, dealing });
        }
        let built = payload_of(&subnet.pool.build(1, &[]));
        assert_eq!(built.chain_key.len(), 2);
        assert_eq!(subnet.pool.validate(1, &built, &[]), Ok(()));
        subnet.pool.on_finalized(1, &built);
        assert!(subnet
            .pool
            .state()
            .open_params(&TranscriptRef::Key)
            .is_some());
        assert!(subnet.pool.take_changes().iter().any(|change| matches!(
            change,
            Change::Opened {
                transcript: TranscriptRef::Key,
                ..
            }
        )));
        // Old items no longer fit on the new state.
        assert_eq!(
            subnet.pool.validate(2, &block(&[by_0]), &[]),
            Err(ItemError::NotOpen)
        );
    }

    #[test]
    fn a_subnet_record_is_carried_once_and_only_as_this_node_adopted_it() {
        let mut subnet = subnet();
        let record = |version, members: &[u32]| SubnetRecord {
            version,
            members: members
                .iter()
                .map(|&id| (id, crate::registry::node_record::test_peer(id)))
                .collect(),
        };
        let carrying =
            |record: &SubnetRecord| payload_of(&[ChainKeyItem::Membership(record.clone())]);
        let adopted = record(2, &[0, 1, 2, 3, 4]);
        // Not adopted here yet: the block waits (it is not called invalid).
        assert!(!subnet.pool.can_validate(0, &carrying(&adopted)));
        assert!(subnet.pool.build(1, &[]).is_empty());
        subnet.pool.adopt(adopted.clone());
        assert!(subnet.pool.can_validate(0, &carrying(&adopted)));
        assert_eq!(subnet.pool.validate(1, &carrying(&adopted), &[]), Ok(()));
        // Another record of the same version, or twice in one block: refused.
        let forged = record(2, &[0, 1, 2, 3, 5]);
        assert_eq!(
            subnet.pool.validate(1, &carrying(&forged), &[]),
            Err(ItemError::Membership)
        );
        let twice = payload_of(&[
            ChainKeyItem::Membership(adopted.clone()),
            ChainKeyItem::Membership(adopted.clone()),
        ]);
        assert_eq!(
            subnet.pool.validate(1, &twice, &[]),
            Err(ItemError::Membership)
        );
        // The maker carries it; once an ancestor carries it, nobody may again.
        let built = payload_of(&subnet.pool.build(1, &[]));
        assert_eq!(built, carrying(&adopted));
        assert!(subnet.pool.build(2, &[&built]).is_empty());
        assert_eq!(
            subnet.pool.validate(2, &built, &[&built]),
            Err(ItemError::Membership)
        );
        subnet.pool.on_finalized(1, &built);
        assert_eq!(subnet.pool.state().membership_version(), 2);
        assert_eq!(subnet.pool.adopted_version(), 2);
        assert!(subnet.pool.build(2, &[]).is_empty());
    }
}
