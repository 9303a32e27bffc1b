//! The chain-key state every node derives alike from finalized blocks:
//! open transcripts and their dealings so far, the master key, ready
//! presignatures.
//!
//! The schedule is fixed by the state itself: at genesis the key's random
//! transcript opens; when it completes, its unmasked reshare (the key)
//! opens; once the key exists, presignatures are started while fewer than
//! the pool size are in the making or ready — each `κ` and `λ` first, then
//! `κ·λ` and `x·λ`. A transcript completes with the first
//! `min_dealings` dealings from distinct dealers, in block order. A
//! presignature is used when a block carries a signature made with it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chainkey_consensus::{Hash, Height};
use chainkey_crypto::nidkg::VerifiedDealing as VerifiedBlsDealing;
use chainkey_crypto::tecdsa::{
    verify_signature, Dealing, EcdsaSignature, MegaPublicKey, Operation, Presignature, Transcript,
    TranscriptParams, VerifiedDealing,
};
use group::GroupEncoding;
use sha2::{Digest, Sha256};

use super::bls::{BlsChange, BlsDealing, BlsDealingError, BlsKeys, BlsReshares};
use super::{Curve, SignatureItem, SignedDealing, TranscriptRef};
use crate::registry::governance::SubnetRecord;
use crate::registry::Membership;
use chainkey_crypto::{MinSig, PublicKey};

/// What every node agrees on before the first block: the receivers'
/// encryption keys, the threshold, the pool size and the keys signing
/// dealings (written alike into every node's configuration by genesis).
#[derive(Clone, Debug)]
pub struct Setup {
    /// The key's name (`key_id.name`).
    pub key_name: String,
    /// Each node's MEGa encryption key, in node order.
    pub receivers: Vec<MegaPublicKey<Curve>>,
    /// Shares that sign: f + 1.
    pub threshold: usize,
    /// Presignatures in the making or ready, at most.
    pub pool_size: usize,
    /// Presignatures in the making or ready at first: the pool grows by
    /// one for each presignature used, up to `pool_size`. An idle subnet
    /// keeps a small pool (and a quiet CPU: a new subnet serves its first
    /// calls while it fills), a signing workload grows it to the most.
    pub first_pool_size: usize,
    /// Each node's key signing its dealings, in node order.
    pub dealer_keys: Vec<ed25519_dalek::VerifyingKey>,
}

/// The membership in force: who holds the subnet's keys and runs its
/// consensus, with which keys, from which height on. The chain-key state
/// is its one owner; consensus, the certifier, the signer and the
/// transport take their view of the membership from it when they switch.
#[derive(Clone, Debug)]
pub struct Epoch {
    /// The registry version whose members these are (1: genesis).
    pub version: u64,
    /// The last height the previous members covered (0: genesis).
    pub after: Height,
    /// Their subnet record, decoded (none: the genesis members, from the
    /// configuration).
    pub record: Option<Arc<Membership>>,
    /// Their BLS keys in id order, decoded once: the consensus committee
    /// (empty at genesis, whose committee the configuration holds).
    pub committee: Vec<PublicKey<MinSig>>,
    /// The threshold BLS keys in force (beacon, certification), if this
    /// state runs them (none at genesis: the configuration's).
    pub keys: Option<BlsKeys>,
}

impl Epoch {
    fn genesis() -> Self {
        Epoch {
            version: 1,
            after: 0,
            record: None,
            committee: Vec::new(),
            keys: None,
        }
    }
}

/// A transcript the subnet runs: its parameters, the dealings that
/// completed it so far and, once complete, the transcript.
#[derive(Clone, Debug)]
pub struct Slot {
    /// Agreed parameters.
    pub params: Arc<TranscriptParams<Curve>>,
    /// Dealings included so far, by dealer, with their ids.
    pub dealings: BTreeMap<u32, (Arc<Dealing<Curve>>, Hash)>,
    /// The transcript, once enough dealings are in.
    pub transcript: Option<Arc<Transcript<Curve>>>,
    /// The transcripts whose shares are the dealers' inputs.
    pub sources: Vec<TranscriptRef>,
    /// Enough dealings are in, in a block being judged (the transcript is
    /// made when the block is finalized).
    pub closed: bool,
}

impl Setup {
    /// Whether `signed` carries the signature of node `dealer`.
    pub fn dealt_by(&self, signed: &SignedDealing, dealer: u32) -> bool {
        self.dealer_keys
            .get(dealer as usize)
            .is_some_and(|key| signed.signed_by(&self.key_name, key))
    }
}

impl Slot {
    /// Whether it still takes dealings.
    pub fn is_open(&self) -> bool {
        self.transcript.is_none() && !self.closed
    }
}

/// What applying a finalized item changed, for the signer and execution.
#[derive(Clone, Debug)]
pub enum Change {
    /// A transcript opened: its dealers deal, from their shares of `sources`.
    Opened {
        /// The transcript.
        transcript: TranscriptRef,
        /// Its parameters.
        params: Arc<TranscriptParams<Curve>>,
        /// The transcripts whose shares are the dealers' inputs.
        sources: Vec<TranscriptRef>,
    },
    /// A transcript completed: receivers open their shares.
    Completed(TranscriptRef, Arc<Transcript<Curve>>),
    /// The master key exists.
    KeyReady(Arc<Transcript<Curve>>),
    /// A presignature is ready to be paired with a request.
    PresignatureReady(u64, Arc<Presignature<Curve>>),
    /// A signature was made with a presignature (now used).
    Signed(SignatureItem),
    /// The master key was reshared to the members of the subnet record at
    /// this registry version (same public key).
    KeyReshared(u64, Arc<Transcript<Curve>>),
    /// A reshare of the threshold BLS keys opened or completed.
    Bls(BlsChange),
    /// The members of the subnet record at `version` took over: the key
    /// and the BLS keys are their reshares, the presignatures of the old
    /// members are retired, and new ones are made for the new members.
    EpochStarted {
        /// The registry version now in force.
        version: u64,
        /// The presignatures retired (ready, never used).
        retired: Vec<u64>,
    },
}

/// Finalized heights between the block completing the last reshare to a
/// new membership and the height after which it takes over (every node
/// learns the switch height well before consensus reaches it).
pub const EPOCH_SWITCH_DELAY: Height = 20;

/// The chain-key state after some finalized height.
#[derive(Clone, Debug)]
pub struct ChainKeyState {
    setup: Arc<Setup>,
    height: Height,
    slots: BTreeMap<TranscriptRef, Slot>,
    next_presignature: u64,
    ready: BTreeMap<u64, Arc<Presignature<Curve>>>,
    /// Presignatures kept in the making or ready now (see [`Setup::first_pool_size`]).
    pool_target: usize,
    key: Option<Arc<Transcript<Curve>>>,
    /// The latest subnet record the chain carried, decoded (none: the genesis one).
    membership: Option<Arc<Membership>>,
    /// The master key reshared to the members of that record's version.
    reshared: Option<(u64, Arc<Transcript<Curve>>)>,
    /// The reshares of the subnet's threshold BLS keys, if this state runs them.
    bls: Option<BlsReshares>,
    /// The membership in force.
    epoch: Arc<Epoch>,
    /// The height after which the latest membership takes over, once its
    /// reshares are complete.
    switch_at: Option<Height>,
    /// Shared by the copies blocks are judged on.
    transcripts: TranscriptCache,
    /// A copy judging a block: a transcript its dealings complete is only
    /// closed, and what completes or is used opens nothing new — that
    /// happens when the block is finalized. So a block never carries
    /// dealings for a transcript its own items opened, and judging it
    /// combines no transcript.
    judging: bool,
}

/// Transcripts made from their parameters and dealings, shared by the
/// finalized state and the copies blocks are judged on (a transcript
/// completed by an unfinalized block is combined once, not once per
/// proposal judged and again when finalized).
#[derive(Clone, Debug, Default)]
struct TranscriptCache(Arc<Mutex<TranscriptsByKey>>);

/// Transcripts by a hash of their parameters and dealings.
type TranscriptsByKey = HashMap<[u8; 32], Arc<Transcript<Curve>>>;

/// Transcripts cached at most (presignatures in the making, four each, and some forks).
const TRANSCRIPT_CACHE: usize = 4096;

impl TranscriptCache {
    fn create(
        &self,
        params: &TranscriptParams<Curve>,
        dealings: &BTreeMap<u32, (Arc<Dealing<Curve>>, Hash)>,
    ) -> Result<Arc<Transcript<Curve>>, chainkey_crypto::tecdsa::TecdsaError> {
        let mut hasher = Sha256::new();
        hasher.update(params.digest());
        for (_, id) in dealings.values() {
            hasher.update(id.0);
        }
        let key: [u8; 32] = hasher.finalize().into();
        if let Some(transcript) = self.0.lock().expect("transcript cache").get(&key) {
            return Ok(Arc::clone(transcript));
        }
        let verified = dealings
            .values()
            .map(|(dealing, _)| VerifiedDealing::assume_verified(Dealing::clone(dealing)))
            .collect();
        let transcript = Arc::new(Transcript::create(params, verified)?);
        let mut cache = self.0.lock().expect("transcript cache");
        if cache.len() >= TRANSCRIPT_CACHE {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&transcript));
        Ok(transcript)
    }
}

/// Why a block's chain-key item is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// The transcript is not open (unknown, complete or not yet opened).
    #[error("dealing for a transcript that is not open")]
    NotOpen,
    /// The dealer already dealt into this transcript, or is not a dealer.
    #[error("dealing from a dealer that already dealt or cannot deal")]
    Dealer,
    /// The dealing does not decode or does not verify.
    #[error("invalid dealing")]
    InvalidDealing,
    /// The presignature is not ready (unknown or already used).
    #[error("signature with a presignature that is not ready")]
    Presignature,
    /// The signature is not its request's signature with its presignature.
    #[error("invalid signature")]
    InvalidSignature,
    /// The dealing is not signed by its dealer.
    #[error("dealing not signed by its dealer")]
    NotSignedByDealer,
    /// An item that does not decode.
    #[error("malformed chain-key item")]
    Malformed,
    /// A subnet record not newer than the chain's, or not the one this
    /// node's execution adopted at its version.
    #[error("a subnet record this node did not adopt, or an old one")]
    Membership,
    /// More items than a block may carry.
    #[error("too many chain-key items in one block")]
    TooMany,
    /// The state lags the block's parent (after a catch-up package).
    #[error("the chain-key state lags")]
    Lagging,
}

impl ChainKeyState {
    /// The state at genesis: the key's random transcript is open.
    pub fn genesis(setup: Setup) -> ChainKeyState {
        let mut state = ChainKeyState {
            pool_target: setup.first_pool_size.min(setup.pool_size),
            setup: Arc::new(setup),
            height: 0,
            slots: BTreeMap::new(),
            next_presignature: 0,
            ready: BTreeMap::new(),
            key: None,
            membership: None,
            reshared: None,
            bls: None,
            epoch: Arc::new(Epoch::genesis()),
            switch_at: None,
            transcripts: TranscriptCache::default(),
            judging: false,
        };
        state.open(TranscriptRef::KeyRandom, &mut Vec::new());
        state
    }

    /// The same state also resharing the subnet's threshold BLS keys
    /// `keys`, held by `holders` members, to each new membership.
    pub fn with_bls(mut self, keys: BlsKeys, holders: usize) -> ChainKeyState {
        self.bls = Some(BlsReshares::new(keys, holders));
        self
    }

    /// The reshares of the threshold BLS keys, if this state runs them.
    pub fn bls(&self) -> Option<&BlsReshares> {
        self.bls.as_ref()
    }

    /// The membership in force.
    pub fn epoch(&self) -> &Arc<Epoch> {
        &self.epoch
    }

    /// The height after which the latest membership takes over, once its
    /// reshares are complete.
    pub fn switch_at(&self) -> Option<Height> {
        self.switch_at
    }

    /// The latest subnet record the chain carried (none: the genesis one).
    pub fn membership(&self) -> Option<&Arc<Membership>> {
        self.membership.as_ref()
    }

    /// Checks and verifies a block's BLS reshare dealing.
    ///
    /// # Errors
    /// [`ItemError::NotOpen`], [`ItemError::Dealer`], [`ItemError::InvalidDealing`].
    pub fn verify_bls_dealing(&self, item: &BlsDealing) -> Result<VerifiedBlsDealing, ItemError> {
        let bls = self.bls.as_ref().ok_or(ItemError::NotOpen)?;
        bls.verify(item).map_err(|error| match error {
            BlsDealingError::NotOpen => ItemError::NotOpen,
            BlsDealingError::Dealer => ItemError::Dealer,
            BlsDealingError::Invalid(_) => ItemError::InvalidDealing,
        })
    }

    /// Applies a verified BLS reshare dealing.
    pub fn apply_bls_dealing(
        &mut self,
        item: &BlsDealing,
        verified: VerifiedBlsDealing,
    ) -> Vec<Change> {
        let Some(bls) = self.bls.as_mut() else {
            return Vec::new();
        };
        bls.apply(item, verified)
            .into_iter()
            .map(Change::Bls)
            .collect()
    }

    /// The last finalized height applied.
    pub fn height(&self) -> Height {
        self.height
    }

    /// The setup.
    pub fn setup(&self) -> &Setup {
        &self.setup
    }

    /// The master key transcript, once made.
    pub fn key(&self) -> Option<&Arc<Transcript<Curve>>> {
        self.key.as_ref()
    }

    /// The registry version of the latest subnet record the chain carried
    /// (1: the genesis record).
    pub fn membership_version(&self) -> u64 {
        self.membership.as_ref().map_or(1, |record| record.version)
    }

    /// The master key reshared to the members of the subnet record at a
    /// registry version, once that transcript is complete.
    pub fn reshared(&self) -> Option<&(u64, Arc<Transcript<Curve>>)> {
        self.reshared.as_ref()
    }

    /// Applies a subnet record a finalized block carried (checked newer
    /// than [`Self::membership_version`]): the master key is reshared to
    /// its members, once the key exists; a reshare for an older record
    /// still in the making is dropped.
    pub fn apply_membership(&mut self, record: SubnetRecord) -> Vec<Change> {
        let mut changes = Vec::new();
        if record.version <= self.membership_version() {
            return changes;
        }
        // Governance adopts only records that decode, so this cannot fail;
        // were it to, every node skips the record alike.
        let record = match Membership::decode(&record) {
            Ok(membership) => membership,
            Err(error) => {
                tracing::error!(version = record.version, %error, "a subnet record does not decode: skipped");
                return changes;
            }
        };
        if !self.judging {
            if let Some(bls) = self.bls.as_mut() {
                changes.extend(bls.open(&record).into_iter().map(Change::Bls));
            }
        }
        self.membership = Some(Arc::new(record));
        // A switch to an older record not yet made is off: the newer one
        // is reshared from the keys in force, and switches in its turn.
        self.switch_at = None;
        if !self.judging {
            self.start_reshare(&mut changes);
        }
        changes
    }

    /// Opens the reshare of the key to the latest record's members, if
    /// both exist and it is not open or done yet.
    fn start_reshare(&mut self, changes: &mut Vec<Change>) {
        let version = self.membership_version();
        let done = self.reshared.as_ref().map(|(done, _)| *done);
        if self.key.is_none() || version == 1 || done == Some(version) {
            return;
        }
        self.slots
            .retain(|transcript, _| !matches!(transcript, TranscriptRef::KeyReshare(_)));
        self.open(TranscriptRef::KeyReshare(version), changes);
    }

    /// The transcripts in the making or complete but not yet used up.
    pub fn slots(&self) -> &BTreeMap<TranscriptRef, Slot> {
        &self.slots
    }

    /// Presignatures ready and not used.
    pub fn ready(&self) -> &BTreeMap<u64, Arc<Presignature<Curve>>> {
        &self.ready
    }

    /// The parameters of `transcript` if it is open (still takes dealings).
    pub fn open_params(&self, transcript: &TranscriptRef) -> Option<&Arc<TranscriptParams<Curve>>> {
        self.slots
            .get(transcript)
            .filter(|slot| slot.is_open())
            .map(|slot| &slot.params)
    }

    /// Checks that `dealer` may deal into `transcript` now (verifying the
    /// dealing itself is the caller's: it is the expensive part, batched).
    ///
    /// # Errors
    /// [`ItemError::NotOpen`], [`ItemError::Dealer`].
    pub fn check_dealing(
        &self,
        transcript: &TranscriptRef,
        dealer: u32,
    ) -> Result<&Arc<TranscriptParams<Curve>>, ItemError> {
        let slot = self.slots.get(transcript).ok_or(ItemError::NotOpen)?;
        if !slot.is_open() {
            return Err(ItemError::NotOpen);
        }
        if dealer as usize >= slot.params.dealers() || slot.dealings.contains_key(&dealer) {
            return Err(ItemError::Dealer);
        }
        Ok(&slot.params)
    }

    /// Checks a combined signature: its presignature is ready, and it is
    /// the signature of its request made with that presignature (so a
    /// block maker cannot spend a presignature on a signature made with
    /// another).
    ///
    /// # Errors
    /// [`ItemError::Presignature`], [`ItemError::InvalidSignature`].
    pub fn check_signature(&self, item: &SignatureItem) -> Result<(), ItemError> {
        let presignature = self
            .ready
            .get(&item.job.presignature)
            .ok_or(ItemError::Presignature)?;
        let key = self.key.as_ref().ok_or(ItemError::Presignature)?;
        let signature = EcdsaSignature::<Curve>::from_bytes(&item.signature)
            .map_err(|_| ItemError::InvalidSignature)?;
        match verify_signature(presignature, key, &item.job.request(), &signature) {
            Ok(true) => Ok(()),
            _ => Err(ItemError::InvalidSignature),
        }
    }

    /// Applies a dealing that was checked and verified (from a finalized
    /// block, or validated in the block being judged); `id` identifies it
    /// (its digest, for the transcript cache).
    pub fn apply_dealing(
        &mut self,
        transcript: TranscriptRef,
        dealing: Arc<Dealing<Curve>>,
        id: Hash,
    ) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.check_dealing(&transcript, dealing.dealer).is_err() {
            return changes;
        }
        let slot = self.slots.get_mut(&transcript).expect("checked open");
        slot.dealings.insert(dealing.dealer, (dealing, id));
        if slot.dealings.len() < slot.params.min_dealings() {
            return changes;
        }
        if self.judging {
            slot.closed = true;
            return changes;
        }
        match self.transcripts.create(&slot.params, &slot.dealings) {
            Ok(complete) => {
                slot.transcript = Some(Arc::clone(&complete));
                slot.dealings.clear();
                changes.push(Change::Completed(transcript, Arc::clone(&complete)));
                self.on_complete(transcript, complete, &mut changes);
            }
            Err(error) => {
                // Verified dealings of distinct dealers always combine.
                tracing::error!(?transcript, %error, "a complete transcript did not combine");
            }
        }
        changes
    }

    /// Applies a checked signature: its presignature is used, and the pool
    /// grows by one towards its most.
    pub fn apply_signature(&mut self, item: SignatureItem) -> Vec<Change> {
        let mut changes = Vec::new();
        if self.ready.remove(&item.job.presignature).is_some() && !self.judging {
            changes.push(Change::Signed(item));
            self.pool_target = (self.pool_target + 1).min(self.setup.pool_size);
            self.top_up(&mut changes);
        }
        changes
    }

    /// A copy for judging a block on this state (see `judging`).
    pub fn for_judging(&self) -> ChainKeyState {
        ChainKeyState {
            judging: true,
            ..self.clone()
        }
    }

    /// Marks `height` applied. Once every key is reshared to the latest
    /// membership, it takes over after [`EPOCH_SWITCH_DELAY`] more heights.
    pub fn finish_height(&mut self, height: Height) -> Vec<Change> {
        self.height = height;
        let mut changes = Vec::new();
        let version = self.membership_version();
        let ecdsa_done = self.reshared.as_ref().map(|(done, _)| *done) == Some(version);
        let bls_done = self
            .bls
            .as_ref()
            .is_none_or(|bls| bls.reshared().map(|reshared| reshared.version) == Some(version));
        if self.switch_at.is_none() && version > self.epoch.version && ecdsa_done && bls_done {
            self.switch_at = Some(height + EPOCH_SWITCH_DELAY);
        }
        if self.switch_at == Some(height) {
            self.start_epoch(&mut changes);
        }
        changes
    }

    /// The latest membership takes over: its setup, the reshared keys; the
    /// old members' presignatures are retired and new ones started.
    fn start_epoch(&mut self, changes: &mut Vec<Change>) {
        let (Some(record), Some((version, key))) = (self.membership.clone(), self.reshared.clone())
        else {
            return;
        };
        let receivers = record.mega_keys();
        let dealer_keys = record.members.values().map(|m| m.signing_key).collect();
        let committee = record.committee();
        let n = receivers.len();
        self.setup = Arc::new(Setup {
            key_name: self.setup.key_name.clone(),
            receivers,
            threshold: (n.max(1) - 1) / 3 + 1,
            pool_size: self.setup.pool_size,
            first_pool_size: self.setup.first_pool_size,
            dealer_keys,
        });
        self.key = Some(key);
        self.slots.clear();
        let retired = std::mem::take(&mut self.ready).into_keys().collect();
        if let Some(bls) = self.bls.as_mut() {
            bls.start_epoch(n);
        }
        self.epoch = Arc::new(Epoch {
            version,
            after: self.height,
            record: Some(record),
            committee,
            keys: self.bls.as_ref().map(|bls| bls.current().clone()),
        });
        self.switch_at = None;
        changes.push(Change::EpochStarted { version, retired });
        self.top_up(changes);
    }

    fn on_complete(
        &mut self,
        completed: TranscriptRef,
        transcript: Arc<Transcript<Curve>>,
        changes: &mut Vec<Change>,
    ) {
        match completed {
            TranscriptRef::KeyRandom => {
                self.open(TranscriptRef::Key, changes);
            }
            TranscriptRef::Key => {
                self.slots.remove(&TranscriptRef::KeyRandom);
                self.slots.remove(&TranscriptRef::Key);
                self.key = Some(Arc::clone(&transcript));
                changes.push(Change::KeyReady(transcript));
                self.top_up(changes);
                self.start_reshare(changes);
            }
            TranscriptRef::KeyReshare(version) => {
                self.slots.remove(&completed);
                self.reshared = Some((version, Arc::clone(&transcript)));
                changes.push(Change::KeyReshared(version, transcript));
            }
            TranscriptRef::Kappa(i) | TranscriptRef::Lambda(i) => {
                if self.complete(&TranscriptRef::Kappa(i)).is_some()
                    && self.complete(&TranscriptRef::Lambda(i)).is_some()
                {
                    self.open(TranscriptRef::KappaTimesLambda(i), changes);
                    self.open(TranscriptRef::KeyTimesLambda(i), changes);
                }
            }
            TranscriptRef::KappaTimesLambda(i) | TranscriptRef::KeyTimesLambda(i) => {
                self.assemble(i, changes);
            }
        }
    }

    /// Presignature `i` from its four transcripts, once all are complete.
    fn assemble(&mut self, i: u64, changes: &mut Vec<Change>) {
        let parts = [
            TranscriptRef::Kappa(i),
            TranscriptRef::Lambda(i),
            TranscriptRef::KappaTimesLambda(i),
            TranscriptRef::KeyTimesLambda(i),
        ];
        let Some(key) = self.key.clone() else { return };
        let Some([kappa, lambda, kl, xl]) = parts
            .iter()
            .map(|part| self.complete(part).map(|t| Transcript::clone(t)))
            .collect::<Option<Vec<_>>>()
            .and_then(|parts| <[Transcript<Curve>; 4]>::try_from(parts).ok())
        else {
            return;
        };
        for part in &parts {
            self.slots.remove(part);
        }
        match Presignature::new(&key, kappa, lambda, kl, xl) {
            Ok(presignature) => {
                let presignature = Arc::new(presignature);
                self.ready.insert(i, Arc::clone(&presignature));
                changes.push(Change::PresignatureReady(i, presignature));
            }
            Err(error) => tracing::error!(i, %error, "transcripts did not form a presignature"),
        }
        self.top_up(changes);
    }

    fn complete(&self, transcript: &TranscriptRef) -> Option<&Arc<Transcript<Curve>>> {
        self.slots.get(transcript)?.transcript.as_ref()
    }

    /// Starts presignatures while fewer than the pool's target are in the making or ready.
    fn top_up(&mut self, changes: &mut Vec<Change>) {
        if self.key.is_none() {
            return;
        }
        loop {
            let making: std::collections::BTreeSet<u64> = self
                .slots
                .keys()
                .filter_map(TranscriptRef::presignature)
                .collect();
            if making.len() + self.ready.len() >= self.pool_target {
                return;
            }
            let i = self.next_presignature;
            self.next_presignature += 1;
            if !(self.open(TranscriptRef::Kappa(i), changes)
                && self.open(TranscriptRef::Lambda(i), changes))
            {
                return;
            }
        }
    }

    /// Opens `transcript` (its sources are complete); false if it cannot.
    fn open(&mut self, transcript: TranscriptRef, changes: &mut Vec<Change>) -> bool {
        let commitment = |r: &TranscriptRef| -> Option<_> {
            match r {
                TranscriptRef::Key => self.key.as_ref().map(|key| key.commitment().clone()),
                other => self.complete(other).map(|t| t.commitment().clone()),
            }
        };
        let (operation, sources) = match transcript {
            TranscriptRef::KeyRandom => (Some(Operation::Random), vec![]),
            TranscriptRef::Key => {
                let source = TranscriptRef::KeyRandom;
                (
                    commitment(&source).map(Operation::ReshareOfMasked),
                    vec![source],
                )
            }
            TranscriptRef::KeyReshare(_) => {
                let source = TranscriptRef::Key;
                (
                    commitment(&source).map(Operation::ReshareOfUnmasked),
                    vec![source],
                )
            }
            TranscriptRef::Kappa(_) => (Some(Operation::RandomUnmasked), vec![]),
            TranscriptRef::Lambda(_) => (Some(Operation::Random), vec![]),
            TranscriptRef::KappaTimesLambda(i) | TranscriptRef::KeyTimesLambda(i) => {
                let unmasked = match transcript {
                    TranscriptRef::KappaTimesLambda(_) => TranscriptRef::Kappa(i),
                    _ => TranscriptRef::Key,
                };
                let masked = TranscriptRef::Lambda(i);
                let operation = commitment(&unmasked)
                    .zip(commitment(&masked))
                    .map(|(a, b)| Operation::UnmaskedTimesMasked(a, b));
                (operation, vec![unmasked, masked])
            }
        };
        let setup = &self.setup;
        let (receivers, threshold) = match (transcript, &self.membership) {
            (TranscriptRef::KeyReshare(_), Some(record)) => {
                let n = record.members.len();
                (record.mega_keys(), (n.max(1) - 1) / 3 + 1)
            }
            _ => (setup.receivers.clone(), setup.threshold),
        };
        let params = operation.and_then(|operation| {
            TranscriptParams::new(
                transcript.id(&setup.key_name),
                setup.receivers.len(),
                receivers,
                threshold,
                operation,
            )
            .ok()
        });
        let Some(params) = params else {
            tracing::error!(
                ?transcript,
                "cannot open a transcript: its sources are missing"
            );
            return false;
        };
        let params = Arc::new(params);
        self.slots.insert(
            transcript,
            Slot {
                params: Arc::clone(&params),
                dealings: BTreeMap::new(),
                transcript: None,
                sources: sources.clone(),
                closed: false,
            },
        );
        changes.push(Change::Opened {
            transcript,
            params,
            sources,
        });
        true
    }
}

/// The SEC1 compressed encoding of the master public key of `key`.
pub fn master_public_key(key: &Transcript<Curve>) -> Vec<u8> {
    key.commitment().constant_term().to_bytes().to_vec()
}

#[cfg(test)]
pub(crate) mod tests;
