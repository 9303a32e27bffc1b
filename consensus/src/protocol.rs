//! The consensus state machine of one node (sans-IO).
//!
//! Rules and where *Internet Computer Consensus* (eprint 2021/632) states
//! them (Protocol ICC0, whose rules ICC1 keeps while adding gossip):
//!
//! | rule | paper | here |
//! |---|---|---|
//! | random beacon: threshold (f+1) signature on the previous beacon ranks the makers | ICC0: random beacon and ranking of parties | `share_and_combine_beacon` |
//! | rank-dependent delays Δ_prop(r) = 2Δr, Δ_ntry(r) = 2Δr + ε | ICC0: delay functions Δ_prop, Δ_ntry | `Config::proposal_delay`, `Config::notary_delay` |
//! | a block is valid if signed by the maker of its rank and its parent is notarized | ICC0: valid blocks | `validate_pending` |
//! | notarization-share the best-ranked valid blocks once their delay has passed | ICC0: notarization shares ("supporting" a block) | `share_notarization` |
//! | n − f shares aggregate into a notarization; a notarized block ends the round | ICC0: notarization, round termination | `aggregate_certificates`, `advance_round` |
//! | finalization-share B only if no other block of the round was notarization-shared | ICC0: finalization shares | `advance_round` |
//! | n − f finalization shares finalize B and all its ancestors | ICC0: finalization; the safety theorem | `finalize` |
//! | catch-up packages: an (f+1)-threshold signature on a finalized block and its beacon every `catch_up_interval` heights; laggards jump to them, pools are purged below them | not in the paper: the Internet Computer's deployment | `share_catch_up`, `combine_catch_up`, `apply_catch_up` |
//!
//! The node is a pure function of its inputs: [`Consensus::on_event`] takes
//! an [`Event`] and the current time and returns [`Action`]s (artifacts to
//! send, a time to be woken at, finalized blocks). It has no clock, thread,
//! socket or randomness of its own. Received artifacts wait in an
//! unvalidated pool until their prerequisites (beacon, parent notarization,
//! the block a share is on) are known; all ready signatures are then
//! verified in one batch, and invalid artifacts are dropped and counted per
//! sender. A sender whose checks failed twice at a height is not checked
//! again there: the cost of a Byzantine peer's invalid items is bounded
//! per height, whatever it sends.
//!
//! A node that crashes must come back with the shares it had signed (the
//! node crate persists its pool): a node restarted with an empty state could
//! sign a second block at a height where it already signed one. The
//! simulator's restarts start from genesis and rely on catching up before
//! the node signs again at those heights.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::crypto::{Check, ConsensusCrypto};
use crate::payload::PayloadBuilder;
use crate::pool::{Pool, Shares};
use crate::types::{
    signed, Artifact, Block, CatchUpContent, CatchUpPackage, Certificate, FinalityProof,
    FinalizedBlock, Hash, Height, NodeId, Payload, Proposal, Rank, Share, SignatureBytes, Time,
};

/// How far ahead of the local clock a block's time may be before the node
/// waits for its clock to catch up (the maker's clock runs fast).
pub const MAX_CLOCK_AHEAD_NS: u64 = 5_000_000_000;

/// Protocol parameters, equal on every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Number of nodes n; up to f = ⌊(n − 1)/3⌋ may be Byzantine.
    pub nodes: usize,
    /// The unit delay Δ in milliseconds (an upper bound on message delay once the network is synchronous).
    pub delta: Time,
    /// The notary slack ε in milliseconds.
    pub epsilon: Time,
    /// How often a node re-sends the artifacts of its current round (lossy networks).
    pub rebroadcast: Time,
    /// How many heights above its own a node keeps unvalidated artifacts for.
    pub window: Height,
    /// At most this many unvalidated artifacts are kept; the excess is dropped.
    pub max_unvalidated: usize,
    /// At most this many bytes of unvalidated artifacts ([`Artifact::byte_len`])
    /// are kept per peer: a peer sending large blocks fills its own share
    /// of the pool, in bytes as in count.
    pub max_unvalidated_bytes_per_peer: usize,
    /// A catch-up package is made at every finalized height divisible by this.
    pub catch_up_interval: Height,
    /// Received artifacts wait up to this long (ms) so that those arriving
    /// together are verified as one batch.
    pub batch_delay: Time,
}

impl Config {
    /// Defaults for `nodes` nodes: Δ = 100 ms, ε = 50 ms.
    pub fn new(nodes: usize) -> Self {
        Config {
            nodes,
            delta: 100,
            epsilon: 50,
            rebroadcast: 1000,
            window: 32,
            max_unvalidated: 64 * nodes.max(4) * 8,
            // Eight blocks of the IC's largest payload (4 MiB of ingress
            // and the chain-key sections) per peer.
            max_unvalidated_bytes_per_peer: 8 * (8 << 20),
            catch_up_interval: 50,
            batch_delay: 5,
        }
    }

    /// f: the number of Byzantine nodes tolerated.
    pub fn faults(&self) -> usize {
        (self.nodes - 1) / 3
    }

    /// n − f: shares needed for a notarization or finalization.
    pub fn quorum(&self) -> usize {
        self.nodes - self.faults()
    }

    /// Δ_prop(r): how long the maker of rank r waits before proposing.
    pub fn proposal_delay(&self, rank: Rank) -> Time {
        2 * self.delta * Time::from(rank)
    }

    /// Δ_ntry(r): how long a node waits before notarization-sharing a rank-r block.
    pub fn notary_delay(&self, rank: Rank) -> Time {
        2 * self.delta * Time::from(rank) + self.epsilon
    }
}

/// What happens to a node.
// An event lives for one call of `on_event`; boxing its artifact would
// cost an allocation per received artifact for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The node starts (or restarts) at this time.
    Start,
    /// An artifact arrived from a peer.
    Artifact {
        /// The peer that sent it.
        from: NodeId,
        /// The artifact.
        artifact: Artifact,
    },
    /// A wake-up the node asked for (or any other tick).
    Tick,
}

/// What the node asks its environment to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send an artifact to every other node.
    Broadcast(Artifact),
    /// Send an artifact to one node.
    Send {
        /// The recipient.
        to: NodeId,
        /// The artifact.
        artifact: Artifact,
    },
    /// Call [`Consensus::on_event`] with [`Event::Tick`] at this time.
    WakeAt(Time),
    /// A block was finalized; blocks are delivered once each, in height order.
    Deliver(FinalizedBlock),
    /// The node jumped to a catch-up package: blocks up to its height were
    /// not delivered, so the environment must obtain the state at that height.
    JumpedTo(CatchUpPackage),
}

/// One node's consensus state machine; see the [module docs](self).
pub struct Consensus<C, P> {
    me: NodeId,
    config: Config,
    crypto: C,
    payloads: P,
    pool: Pool,
    unvalidated: Vec<Unvalidated>,
    blocks: HashMap<Hash, Block>,
    /// The round: the height whose block we are trying to notarize.
    height: Height,
    /// When the current round's beacon became known to us.
    round_start: Option<Time>,
    shared_notarization: BTreeMap<Height, BTreeSet<Hash>>,
    shared_finalization: BTreeSet<Height>,
    shared_beacon: BTreeSet<Height>,
    proposed: BTreeSet<Height>,
    finalized_height: Height,
    delivered: BTreeMap<Height, Hash>,
    next_rebroadcast: Time,
    helped: BTreeMap<NodeId, Time>,
    highest_seen: Height,
    validate_at: Option<Time>,
    invalid_from: BTreeMap<NodeId, u64>,
    /// Failed checks per (height, sender), up to [`MAX_FAILED_CHECKS`].
    failed_checks: BTreeMap<(Height, NodeId), u32>,
    /// Artifacts dropped because their sender's share of the unvalidated
    /// pool was full, per sender.
    over_budget: BTreeMap<NodeId, u64>,
    abstain_through: Height,
    holding_proposals: bool,
}

impl<C: ConsensusCrypto, P: PayloadBuilder> Consensus<C, P> {
    /// A node at genesis.
    pub fn new(me: NodeId, config: Config, crypto: C, payloads: P) -> Self {
        let genesis = Block::genesis();
        let genesis_hash = genesis.hash();
        let mut pool = Pool::default();
        pool.beacons
            .insert(0, (Vec::new(), Hash::of(&[b"chainkey-genesis-beacon"])));
        Consensus {
            me,
            config,
            crypto,
            payloads,
            pool,
            unvalidated: Vec::new(),
            blocks: HashMap::from([(genesis_hash, genesis)]),
            height: 1,
            round_start: None,
            shared_notarization: BTreeMap::new(),
            shared_finalization: BTreeSet::new(),
            shared_beacon: BTreeSet::new(),
            proposed: BTreeSet::new(),
            finalized_height: 0,
            delivered: BTreeMap::from([(0, genesis_hash)]),
            next_rebroadcast: 0,
            helped: BTreeMap::new(),
            highest_seen: 0,
            validate_at: None,
            invalid_from: BTreeMap::new(),
            failed_checks: BTreeMap::new(),
            over_budget: BTreeMap::new(),
            abstain_through: 0,
            holding_proposals: false,
        }
    }

    /// Holds back this node's block proposals (or lets them go): a node
    /// whose execution falls behind finalization stops adding blocks, so a
    /// subnet whose execution cannot keep up slows down instead of piling
    /// up blocks it has not executed. It still notarizes and finalizes the
    /// blocks of others, so one slow node delays nobody.
    pub fn hold_proposals(&mut self, hold: bool) {
        self.holding_proposals = hold;
    }

    /// For a node restarted after a crash: it neither proposes nor
    /// finalization-shares at heights up to `height` (the highest at which
    /// it may have signed before), so losing its memory cannot make it
    /// propose twice in a round or finalization-share a block after
    /// notarization-sharing another. Notarization-sharing more blocks of a
    /// round is allowed by the protocol and keeps the subnet live. Its
    /// environment persists that height before sending anything it signs.
    pub fn abstain_through(&mut self, height: Height) {
        self.abstain_through = self.abstain_through.max(height);
    }

    /// Resumes a restarted node from its own durable state: `block` was
    /// finalized (this node delivered it before it stopped) and `beacon` is
    /// the random beacon at its height. Trusted input: it comes from the
    /// node's store, not from a peer. Like a catch-up package, but without
    /// one: the node continues at the next height, with
    /// [`Consensus::abstain_through`] keeping it from signing again where it
    /// already did. Ignored unless above the finalized height.
    pub fn resume_from(&mut self, block: Block, beacon: SignatureBytes) {
        let height = block.height;
        if height <= self.finalized_height {
            return;
        }
        let hash = block.hash();
        self.pool
            .beacons
            .insert(height, (beacon.clone(), Hash::of(&[&beacon])));
        self.blocks.insert(hash, block);
        self.delivered.insert(height, hash);
        self.finalized_height = height;
        if self.height <= height {
            self.height = height + 1;
            self.round_start = None;
        }
        self.purge();
    }

    /// Starts a new epoch after `block`, finalized under the old
    /// committee, with `beacon` the random beacon at its height: the
    /// committee, thresholds and keys become those of `config` and
    /// `crypto` (a membership change; the beacon's public key is the same,
    /// so the beacon chain goes on), and everything pooled for the old
    /// committee is dropped. The payload builder stays. Like
    /// [`Consensus::resume_from`], from trusted input (the node's own
    /// finalized chain), and this node still abstains where it signed.
    pub fn start_epoch(&mut self, config: Config, crypto: C, block: Block, beacon: SignatureBytes) {
        self.config = config;
        self.crypto = crypto;
        self.pool = Pool::default();
        self.unvalidated.clear();
        self.blocks.clear();
        self.height = 0;
        self.round_start = None;
        self.shared_notarization.clear();
        self.shared_finalization.clear();
        self.shared_beacon.clear();
        self.proposed.clear();
        self.finalized_height = 0;
        self.delivered.clear();
        self.next_rebroadcast = 0;
        self.helped.clear();
        self.highest_seen = 0;
        self.validate_at = None;
        self.resume_from(block, beacon);
    }

    /// The proof of the block this node finalized at `height`, while its
    /// proposal is still pooled (see [`FinalityProof`]).
    pub fn finality_proof(&self, height: Height) -> Option<FinalityProof> {
        let hash = self.delivered.get(&height)?;
        let proposal = self.pool.proposals.get(&height)?.get(hash)?;
        Some(FinalityProof {
            beacon: self.beacon(height)?.clone(),
            signature: proposal.signature.clone(),
            notarization: self
                .pool
                .notarizations
                .get(&height)
                .and_then(|notarizations| notarizations.get(hash))
                .cloned(),
            finalization: self
                .pool
                .finalizations
                .get(&height)
                .filter(|finalization| finalization.block == *hash)
                .cloned(),
        })
    }

    /// Puts back a block this node finalized before it stopped, at or
    /// below the height it resumed from ([`Consensus::resume_from`]), with
    /// its proof, so that rebroadcasts and answers to catch-up requests
    /// carry it again: a peer that stopped lower can only finish those
    /// heights with it. Trusted input, from the node's own store; ignored
    /// above the finalized height or when the proof is for another block.
    pub fn restore_finalized(&mut self, block: Block, proof: FinalityProof) {
        let (height, hash) = (block.height, block.hash());
        let for_block =
            |certificate: &Certificate| certificate.height == height && certificate.block == hash;
        if height > self.finalized_height
            || self
                .delivered
                .get(&height)
                .is_some_and(|delivered| *delivered != hash)
            || !proof
                .notarization
                .iter()
                .chain(&proof.finalization)
                .all(for_block)
        {
            return;
        }
        self.delivered.insert(height, hash);
        self.blocks.insert(hash, block.clone());
        let beacon_hash = Hash::of(&[&proof.beacon]);
        self.pool
            .beacons
            .entry(height)
            .or_insert((proof.beacon, beacon_hash));
        self.pool.insert(Artifact::Proposal(Proposal {
            block,
            signature: proof.signature,
        }));
        if let Some(certificate) = proof.notarization {
            self.pool.insert(Artifact::Notarization(certificate));
        }
        if let Some(certificate) = proof.finalization {
            self.pool.insert(Artifact::Finalization(certificate));
        }
    }

    /// Whether this node is in the committee (a node that joined later
    /// follows the chain without signing until its committee runs).
    fn is_member(&self) -> bool {
        (self.me as usize) < self.config.nodes
    }

    /// The random beacon (its threshold signature) at `height`, if held.
    pub fn beacon(&self, height: Height) -> Option<&SignatureBytes> {
        self.pool
            .beacons
            .get(&height)
            .map(|(signature, _)| signature)
    }

    /// The latest catch-up package this node holds (to persist, and to
    /// restart from with an [`Event::Artifact`] carrying it).
    pub fn catch_up_package(&self) -> Option<&CatchUpPackage> {
        self.pool.catch_up.as_ref()
    }

    /// The current round.
    pub fn height(&self) -> Height {
        self.height
    }

    /// The highest finalized height.
    pub fn finalized_height(&self) -> Height {
        self.finalized_height
    }

    /// The delivered (finalized) chain: block hash per height.
    pub fn finalized_chain(&self) -> &BTreeMap<Height, Hash> {
        &self.delivered
    }

    /// A one-line summary of the current round, for diagnostics.
    pub fn describe(&self) -> String {
        let height = self.height;
        let proposals: Vec<(Rank, NodeId)> = self
            .pool
            .proposals
            .get(&height)
            .into_iter()
            .flatten()
            .map(|(_, proposal)| (proposal.block.rank, proposal.block.maker))
            .collect();
        let shares: Vec<usize> = self
            .pool
            .notarization_shares
            .range((height, Hash([0; 32]))..=(height, Hash([0xff; 32])))
            .map(|(_, shares)| shares.len())
            .collect();
        let top = self
            .pool
            .finalizations
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        format!(
            "top finalization {top}, round {height} (started {:?}), finalized {}, catch-up {}, beacon {}, proposals (rank, maker) {proposals:?}, notarization shares {shares:?}, shared {:?}, unvalidated {}",
            self.round_start,
            self.finalized_height,
            self.catch_up_height(),
            self.pool.beacons.contains_key(&height),
            self.shared_notarization.get(&height).map_or(0, BTreeSet::len),
            self.unvalidated.len()
        )
    }

    /// Invalid artifacts dropped, per sender.
    pub fn invalid_artifacts(&self) -> &BTreeMap<NodeId, u64> {
        &self.invalid_from
    }

    /// Artifacts dropped because their sender's share of the unvalidated
    /// pool (in count or bytes) was full, per sender.
    pub fn over_budget(&self) -> &BTreeMap<NodeId, u64> {
        &self.over_budget
    }

    /// Everything the node holds: validated artifacts, blocks and the
    /// unvalidated pool. Bounded, thanks to purging at finalization and at
    /// catch-up packages.
    pub fn pool_len(&self) -> usize {
        self.pool.len() + self.blocks.len() + self.delivered.len() + self.unvalidated.len()
    }

    /// Artifacts waiting for validation (bounded by [`Config::max_unvalidated`]).
    pub fn unvalidated_len(&self) -> usize {
        self.unvalidated.len()
    }

    /// The payload builder.
    pub fn payloads(&self) -> &P {
        &self.payloads
    }

    /// The payload builder (e.g. to submit ingress messages).
    pub fn payloads_mut(&mut self) -> &mut P {
        &mut self.payloads
    }

    /// Handles one event at time `now`.
    pub fn on_event(&mut self, event: Event, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        if let Event::Artifact { from, artifact } = event {
            self.receive(from, artifact, now, &mut actions);
        }
        // Artifacts arriving close together are validated as one batch.
        let validate_now = self.validate_at.is_some_and(|at| now >= at);
        if validate_now {
            self.validate_at = None;
        }
        loop {
            let validated = validate_now && self.validate_pending();
            let stepped = self.step(now, &mut actions);
            if !validated && !stepped {
                break;
            }
        }
        if now >= self.next_rebroadcast {
            self.rebroadcast(&mut actions);
            self.next_rebroadcast = now + self.config.rebroadcast;
        }
        if !self.unvalidated.is_empty() && self.validate_at.is_none() {
            self.validate_at = Some(now + self.config.batch_delay);
        }
        actions.push(Action::WakeAt(self.next_deadline(now)));
        actions
    }

    /// Queues a received artifact, dropping what is too old, too far ahead or over the bound.
    fn receive(&mut self, from: NodeId, artifact: Artifact, now: Time, actions: &mut Vec<Action>) {
        let height = artifact.height();
        if from as usize >= self.config.nodes {
            return;
        }
        if let Artifact::CatchUpRequest { height } = artifact {
            self.help_lagging_peer(from, height, now, actions);
            return;
        }
        self.highest_seen = self
            .highest_seen
            .max(height.min(self.height + self.config.window));
        // Catch-up packages are how a node far behind jumps ahead: never too far.
        if height > self.height + self.config.window
            && !matches!(artifact, Artifact::CatchUpPackage(_))
        {
            return;
        }
        let still_useful = match artifact {
            // Beacons below the finalized height may still be needed to validate
            // newer beacons after a jump, but never those a catch-up package covers.
            Artifact::Beacon { .. } => height > self.catch_up_height(),
            Artifact::CatchUpShare { .. } | Artifact::CatchUpPackage(_) => true,
            _ => height > self.finalized_height,
        };
        if !still_useful {
            return;
        }
        // Each peer gets an equal share of the unvalidated pool, so one peer
        // cannot crowd out the others (catch-up packages always get in).
        // Checked before the artifact is hashed: over its share, a peer's
        // megabytes cost nothing more.
        let quota = self.config.max_unvalidated / self.config.nodes;
        let is_package = |artifact: &Artifact| matches!(artifact, Artifact::CatchUpPackage(_));
        let package = is_package(&artifact);
        let bytes = artifact.byte_len();
        let (queued, queued_bytes) = self
            .unvalidated
            .iter()
            .filter(|queued| queued.from == from && is_package(&queued.artifact) == package)
            .fold((0, 0), |(count, bytes), queued| {
                (count + 1, bytes + queued.bytes)
            });
        let over_bytes = queued_bytes + bytes > self.config.max_unvalidated_bytes_per_peer;
        if queued >= if package { 1 } else { quota } || (over_bytes && !package) {
            *self.over_budget.entry(from).or_default() += 1;
            return;
        }
        let received = Unvalidated::new(from, artifact, bytes);
        if self
            .unvalidated
            .iter()
            .any(|queued| queued.is_copy_of(&received))
        {
            return;
        }
        self.unvalidated.push(received);
    }

    /// Answers a catch-up request: the beacons, notarized and finalized blocks
    /// and certificates of up to `window` heights (once per rebroadcast interval per peer).
    fn help_lagging_peer(
        &mut self,
        peer: NodeId,
        peer_height: Height,
        now: Time,
        actions: &mut Vec<Action>,
    ) {
        if peer_height > self.height
            || self
                .helped
                .get(&peer)
                .is_some_and(|&last| now < last + self.config.rebroadcast)
        {
            return;
        }
        self.helped.insert(peer, now);
        let mut from = peer_height;
        if let Some(package) = self
            .pool
            .catch_up
            .as_ref()
            .filter(|package| package.content.height() >= peer_height)
        {
            actions.push(Action::Send {
                to: peer,
                artifact: Artifact::CatchUpPackage(package.clone()),
            });
            from = package.content.height() + 1;
        }
        let end = self.height.min(from + self.config.window);
        for height in from..=end {
            for artifact in self.round_artifacts(height) {
                actions.push(Action::Send { to: peer, artifact });
            }
        }
    }

    /// The beacon, notarized block and certificates of a height, for relaying.
    fn round_artifacts(&self, height: Height) -> Vec<Artifact> {
        let mut artifacts = Vec::new();
        if let Some((signature, _)) = self.pool.beacons.get(&height).filter(|_| height > 0) {
            artifacts.push(Artifact::Beacon {
                height,
                signature: signature.clone(),
            });
        }
        let notarizations = self.pool.notarizations.get(&height);
        for (hash, proposal) in self.pool.proposals.get(&height).into_iter().flatten() {
            if notarizations.is_some_and(|n| n.contains_key(hash))
                || self.delivered.get(&height) == Some(hash)
            {
                artifacts.push(Artifact::Proposal(proposal.clone()));
            }
        }
        artifacts.extend(
            notarizations
                .into_iter()
                .flatten()
                .map(|(_, certificate)| Artifact::Notarization(certificate.clone())),
        );
        if let Some(certificate) = self.pool.finalizations.get(&height) {
            artifacts.push(Artifact::Finalization(certificate.clone()));
        }
        artifacts
    }

    /// Validates, in one batch, every pending artifact whose prerequisites
    /// are known; invalid ones are dropped and counted. Returns whether any
    /// artifact entered the validated pool.
    fn validate_pending(&mut self) -> bool {
        let pending = std::mem::take(&mut self.unvalidated);
        let mut ready = Vec::new();
        for queued in pending {
            let failed = (queued.artifact.height(), queued.from);
            if self.failed_checks.get(&failed) >= Some(&MAX_FAILED_CHECKS) {
                *self.invalid_from.entry(queued.from).or_default() += 1;
                continue;
            }
            match self.readiness(&queued) {
                Readiness::Ready(messages) => ready.push((queued.from, queued.artifact, messages)),
                Readiness::Waiting => self.unvalidated.push(queued),
                Readiness::Useless => {}
                Readiness::Invalid => *self.invalid_from.entry(queued.from).or_default() += 1,
            }
        }
        if ready.is_empty() {
            return false;
        }
        let checks: Vec<(NodeId, Check<'_>)> = ready
            .iter()
            .map(|(from, artifact, message)| (*from, check_for(artifact, message)))
            .collect();
        let verdicts = self.crypto.verify_batch(&checks);
        let mut added = false;
        for ((from, artifact, _), valid) in ready.into_iter().zip(verdicts) {
            if valid && self.payload_is_valid(&artifact) {
                added |= self.insert_validated(artifact);
            } else {
                *self.invalid_from.entry(from).or_default() += 1;
                *self
                    .failed_checks
                    .entry((artifact.height(), from))
                    .or_default() += 1;
            }
        }
        added
    }

    /// Whether a proposal's payload is valid on its chain (other artifacts
    /// carry none): the expensive check, run only on proposals whose
    /// maker's signature verified, after the cheap ones of [`Self::readiness`].
    fn payload_is_valid(&self, artifact: &Artifact) -> bool {
        let Artifact::Proposal(proposal) = artifact else {
            return true;
        };
        let block = &proposal.block;
        past_payloads(
            &self.blocks,
            self.finalized_height,
            &block.parent,
            block.height,
        )
        .is_some_and(|past| {
            self.payloads.validate(
                block.height,
                block.maker,
                &block.payload,
                &past,
                block.time_ns,
            )
        })
    }

    /// Whether a received artifact can be checked now, and the bytes its
    /// signature covers.
    fn readiness(&self, queued: &Unvalidated) -> Readiness {
        let nodes = self.config.nodes;
        match &queued.artifact {
            Artifact::Proposal(proposal) => {
                let block = &proposal.block;
                let hash = queued.block_hash.unwrap_or_else(|| block.hash());
                if self
                    .pool
                    .proposals
                    .get(&block.height)
                    .is_some_and(|proposals| proposals.contains_key(&hash))
                {
                    return Readiness::Useless;
                }
                if block.maker as usize >= nodes || block.height == 0 {
                    return Readiness::Invalid;
                }
                // Two blocks from one maker at a height prove it equivocated; more add
                // nothing, unless one of them is notarized (then it is needed).
                if self.proposals_by(block.maker, block.height) >= 2
                    && !self.is_notarized(block.height, &hash)
                {
                    return Readiness::Useless;
                }
                let Some(beacon) = self.beacon_value(block.height) else {
                    return Readiness::Waiting;
                };
                if !self.is_notarized(block.height - 1, &block.parent) {
                    return Readiness::Waiting;
                }
                let ancestors_known = past_payloads(
                    &self.blocks,
                    self.finalized_height,
                    &block.parent,
                    block.height,
                )
                .is_some();
                if !ancestors_known {
                    return Readiness::Waiting;
                }
                let Some(parent_time) = self.blocks.get(&block.parent).map(|b| b.time_ns) else {
                    return Readiness::Waiting;
                };
                let now = self.payloads.now_ns();
                if now > 0 && block.time_ns > now.saturating_add(MAX_CLOCK_AHEAD_NS) {
                    return Readiness::Waiting; // from the future: wait for our clock
                }
                if !self
                    .payloads
                    .can_validate(self.finalized_height, &block.payload)
                {
                    return Readiness::Waiting;
                }
                if rank_of(&beacon, block.maker, nodes) != block.rank
                    || block.beacon != beacon
                    || block.time_ns <= parent_time
                {
                    return Readiness::Invalid;
                }
                // The payload is judged only once the maker's signature
                // verified (`payload_is_valid`): a peer cannot make this
                // node validate payloads it did not sign.
                Readiness::Ready(signed::proposal(&hash))
            }
            Artifact::NotarizationShare {
                height,
                block,
                share,
            } => {
                if share.signer as usize >= nodes {
                    return Readiness::Invalid;
                }
                let known = self
                    .pool
                    .notarization_shares
                    .get(&(*height, *block))
                    .is_some_and(|s| s.contains_key(&share.signer));
                if known
                    || self
                        .pool
                        .notarizations
                        .get(height)
                        .is_some_and(|n| n.contains_key(block))
                {
                    return Readiness::Useless;
                }
                // Checked only once the block is known: shares of blocks
                // that do not exist wait, within their sender's budget,
                // until finalization purges them, and cost no pairing.
                if !self.blocks.contains_key(block) {
                    return Readiness::Waiting;
                }
                Readiness::Ready(signed::notarization(*height, block))
            }
            Artifact::FinalizationShare {
                height,
                block,
                share,
            } => {
                if share.signer as usize >= nodes {
                    return Readiness::Invalid;
                }
                // Honest nodes finalization-share one block per height: keep one per signer.
                if self.pool.finalizations.contains_key(height)
                    || self.pool.finalization_shares_by(share.signer, *height) > 0
                {
                    return Readiness::Useless;
                }
                if !self.blocks.contains_key(block) {
                    return Readiness::Waiting;
                }
                Readiness::Ready(signed::finalization(*height, block))
            }
            Artifact::Notarization(certificate) | Artifact::Finalization(certificate) => {
                let is_notarization = matches!(queued.artifact, Artifact::Notarization(_));
                let known = if is_notarization {
                    self.pool
                        .notarizations
                        .get(&certificate.height)
                        .is_some_and(|n| n.contains_key(&certificate.block))
                } else {
                    self.pool.finalizations.contains_key(&certificate.height)
                };
                if known {
                    return Readiness::Useless;
                }
                let signers = &certificate.signers;
                let well_formed = signers.len() >= self.config.quorum()
                    && signers.windows(2).all(|pair| pair[0] < pair[1])
                    && signers.last().is_some_and(|&last| (last as usize) < nodes);
                if !well_formed || certificate.height == 0 {
                    return Readiness::Invalid;
                }
                Readiness::Ready(if is_notarization {
                    signed::notarization(certificate.height, &certificate.block)
                } else {
                    signed::finalization(certificate.height, &certificate.block)
                })
            }
            Artifact::BeaconShare { height, share } => {
                if share.signer as usize >= nodes || *height == 0 {
                    return Readiness::Invalid;
                }
                if *height <= self.catch_up_height()
                    || self.pool.beacons.contains_key(height)
                    || self
                        .pool
                        .beacon_shares
                        .get(height)
                        .is_some_and(|s| s.contains_key(&share.signer))
                {
                    return Readiness::Useless;
                }
                match self.beacon_value(height - 1) {
                    Some(previous) => Readiness::Ready(signed::beacon(*height, &previous)),
                    None => Readiness::Waiting,
                }
            }
            Artifact::CatchUpRequest { .. } => Readiness::Useless,
            Artifact::CatchUpShare { content, share } => {
                if share.signer as usize >= nodes {
                    return Readiness::Invalid;
                }
                let height = content.height();
                let known = self
                    .pool
                    .catch_up_shares
                    .get(&height)
                    .is_some_and(|contents| {
                        contents
                            .values()
                            .any(|shares| shares.contains_key(&share.signer))
                    });
                if known
                    || self.catch_up_height() >= height
                    || height % self.config.catch_up_interval != 0
                {
                    return Readiness::Useless;
                }
                Readiness::Ready(content.signed_bytes())
            }
            Artifact::CatchUpPackage(package) => {
                if self.catch_up_height() >= package.content.height() {
                    return Readiness::Useless;
                }
                Readiness::Ready(package.content.signed_bytes())
            }
            Artifact::Beacon { height, .. } => {
                if *height == 0 {
                    return Readiness::Invalid;
                }
                if *height <= self.catch_up_height() || self.pool.beacons.contains_key(height) {
                    return Readiness::Useless;
                }
                match self.beacon_value(height - 1) {
                    Some(previous) => Readiness::Ready(signed::beacon(*height, &previous)),
                    None => Readiness::Waiting,
                }
            }
        }
    }

    /// Adds a verified artifact to the validated pool; returns whether it was new.
    fn insert_validated(&mut self, artifact: Artifact) -> bool {
        if let Artifact::Proposal(proposal) = &artifact {
            self.blocks
                .insert(proposal.block.hash(), proposal.block.clone());
        }
        self.pool.insert(artifact)
    }

    /// Applies every protocol rule once; returns whether anything changed.
    fn step(&mut self, now: Time, actions: &mut Vec<Action>) -> bool {
        let mut changed = self.share_and_combine_beacon(actions);
        changed |= self.aggregate_certificates(actions);
        changed |= self.advance_round(actions);
        if self.round_start.is_none() && self.beacon_value(self.height).is_some() {
            self.round_start = Some(now);
        }
        changed |= self.propose(now, actions);
        changed |= self.share_notarization(now, actions);
        changed |= self.finalize(actions);
        changed |= self.combine_catch_up(actions);
        changed |= self.apply_catch_up(actions);
        changed
    }

    /// Height of the latest catch-up package (0 before the first).
    fn catch_up_height(&self) -> Height {
        self.pool.catch_up_height()
    }

    /// Shares a catch-up package for the latest interval height finalized
    /// between `previous` and the current finalized height (§ deployment: CUPs).
    fn share_catch_up(&mut self, previous: Height, actions: &mut Vec<Action>) {
        if !self.is_member() {
            return;
        }
        let interval = self.config.catch_up_interval;
        let height = self.finalized_height / interval * interval;
        if height <= previous || height == 0 {
            return;
        }
        let (Some(hash), Some((beacon, _))) =
            (self.delivered.get(&height), self.pool.beacons.get(&height))
        else {
            return;
        };
        let Some(block) = self.blocks.get(hash) else {
            return;
        };
        let content = CatchUpContent {
            block: block.clone(),
            beacon: beacon.clone(),
        };
        let share = Share {
            signer: self.me,
            signature: self.crypto.sign_beacon_share(&content.signed_bytes()),
        };
        let artifact = Artifact::CatchUpShare { content, share };
        self.insert_validated(artifact.clone());
        actions.push(Action::Broadcast(artifact));
    }

    /// Combines f + 1 shares of one catch-up content into a package.
    fn combine_catch_up(&mut self, actions: &mut Vec<Action>) -> bool {
        let threshold = self.crypto.beacon_threshold();
        let latest = self.catch_up_height();
        let ready = self
            .pool
            .catch_up_shares
            .range(latest + 1..)
            .flat_map(|(_, contents)| contents)
            .find(|(_, shares)| shares.len() >= threshold);
        let Some((content, shares)) = ready else {
            return false;
        };
        let shares = to_shares(shares);
        let signature = self.crypto.combine_beacon(&content.signed_bytes(), &shares);
        let package = CatchUpPackage {
            content: content.clone(),
            signature,
        };
        self.insert_validated(Artifact::CatchUpPackage(package.clone()));
        actions.push(Action::Broadcast(Artifact::CatchUpPackage(package)));
        true
    }

    /// Jumps to the latest catch-up package if it is ahead of what we finalized.
    fn apply_catch_up(&mut self, actions: &mut Vec<Action>) -> bool {
        let Some(package) = self.pool.catch_up.clone() else {
            return false;
        };
        if package.content.height() <= self.finalized_height {
            return false;
        }
        self.resume_from(
            package.content.block.clone(),
            package.content.beacon.clone(),
        );
        actions.push(Action::JumpedTo(package));
        true
    }

    /// Random beacon: share it for the current round once the previous beacon
    /// is known; combine f + 1 shares (§4, random beacon).
    fn share_and_combine_beacon(&mut self, actions: &mut Vec<Action>) -> bool {
        let height = self.height;
        let Some(previous) = self.beacon_value(height - 1) else {
            return false;
        };
        let message = signed::beacon(height, &previous);
        let mut changed = false;
        if self.is_member() && self.shared_beacon.insert(height) {
            let share = Share {
                signer: self.me,
                signature: self.crypto.sign_beacon_share(&message),
            };
            self.pool
                .beacon_shares
                .entry(height)
                .or_default()
                .insert(self.me, share.signature.clone());
            actions.push(Action::Broadcast(Artifact::BeaconShare { height, share }));
            changed = true;
        }
        let shares = self
            .pool
            .beacon_shares
            .get(&height)
            .map_or(0, BTreeMap::len);
        if !self.pool.beacons.contains_key(&height) && shares >= self.crypto.beacon_threshold() {
            let shares = to_shares(&self.pool.beacon_shares[&height]);
            let signature = self.crypto.combine_beacon(&message, &shares);
            let artifact = Artifact::Beacon { height, signature };
            self.insert_validated(artifact.clone());
            actions.push(Action::Broadcast(artifact));
            changed = true;
        }
        changed
    }

    /// Aggregates n − f notarization or finalization shares on one block into a certificate.
    fn aggregate_certificates(&mut self, actions: &mut Vec<Action>) -> bool {
        let quorum = self.config.quorum();
        let mut new = Vec::new();
        for (&(height, block), shares) in &self.pool.notarization_shares {
            if shares.len() >= quorum
                && !self
                    .pool
                    .notarizations
                    .get(&height)
                    .is_some_and(|n| n.contains_key(&block))
            {
                new.push(Artifact::Notarization(self.certificate(
                    height,
                    block,
                    shares,
                    signed::notarization(height, &block),
                )));
            }
        }
        for (&(height, block), shares) in &self.pool.finalization_shares {
            if shares.len() >= quorum && !self.pool.finalizations.contains_key(&height) {
                new.push(Artifact::Finalization(self.certificate(
                    height,
                    block,
                    shares,
                    signed::finalization(height, &block),
                )));
            }
        }
        let changed = !new.is_empty();
        for artifact in new {
            if self.insert_validated(artifact.clone()) {
                actions.push(Action::Broadcast(artifact));
            }
        }
        changed
    }

    fn certificate(
        &self,
        height: Height,
        block: Hash,
        shares: &Shares,
        message: Vec<u8>,
    ) -> Certificate {
        let shares = to_shares(shares);
        Certificate {
            height,
            block,
            signers: shares.iter().map(|share| share.signer).collect(),
            signature: self.crypto.aggregate(&message, &shares),
        }
    }

    /// A notarized block at the current height ends the round. A node that
    /// notarization-shared no other block of the round finalization-shares it (§4).
    fn advance_round(&mut self, actions: &mut Vec<Action>) -> bool {
        let mut changed = false;
        while let Some(notarized) = self.notarized_at(self.height) {
            let height = self.height;
            let shared = self.shared_notarization.get(&height);
            if shared.is_none_or(|blocks| blocks.iter().all(|block| *block == notarized))
                && self.is_member()
                && height > self.abstain_through
                && self.shared_finalization.insert(height)
            {
                let message = signed::finalization(height, &notarized);
                let share = Share {
                    signer: self.me,
                    signature: self.crypto.sign(&message),
                };
                self.pool
                    .finalization_shares
                    .entry((height, notarized))
                    .or_default()
                    .insert(self.me, share.signature.clone());
                actions.push(Action::Broadcast(Artifact::FinalizationShare {
                    height,
                    block: notarized,
                    share,
                }));
            }
            actions.extend(
                self.round_artifacts(height)
                    .into_iter()
                    .map(Action::Broadcast),
            );
            self.height += 1;
            self.round_start = None;
            changed = true;
        }
        changed
    }

    /// The block maker of rank r proposes once Δ_prop(r) has passed in the round (§4).
    fn propose(&mut self, now: Time, actions: &mut Vec<Action>) -> bool {
        let height = self.height;
        let (Some(start), Some(beacon)) = (self.round_start, self.beacon_value(height)) else {
            return false;
        };
        let rank = rank_of(&beacon, self.me, self.config.nodes);
        if !self.is_member()
            || self.holding_proposals
            || now < start + self.config.proposal_delay(rank)
            || self.proposed.contains(&height)
            || height <= self.abstain_through
        {
            return false;
        }
        let Some(parent) = self.notarized_at(height - 1) else {
            return false;
        };
        let Some(past) = past_payloads(&self.blocks, self.finalized_height, &parent, height) else {
            return false; // an unfinalized ancestor's contents are still missing
        };
        let Some(parent_time) = self.blocks.get(&parent).map(|block| block.time_ns) else {
            return false;
        };
        let time_ns = self.payloads.now_ns().max(parent_time + 1);
        self.proposed.insert(height);
        let block = Block {
            height,
            parent,
            rank,
            maker: self.me,
            time_ns,
            beacon,
            payload: self.payloads.build(height, &parent, &past, time_ns),
        };
        let hash = block.hash();
        let proposal = Proposal {
            signature: self.crypto.sign(&signed::proposal(&hash)),
            block,
        };
        self.insert_validated(Artifact::Proposal(proposal.clone()));
        actions.push(Action::Broadcast(Artifact::Proposal(proposal)));
        true
    }

    /// Notarization-share the valid blocks of the lowest rank seen, once
    /// Δ_ntry(r) has passed and no block of the round is notarized yet (§4).
    fn share_notarization(&mut self, now: Time, actions: &mut Vec<Action>) -> bool {
        if !self.is_member() {
            return false;
        }
        let height = self.height;
        let Some(start) = self.round_start else {
            return false;
        };
        let Some(best) = self.best_rank(height) else {
            return false;
        };
        let proposals = &self.pool.proposals[&height];
        if now < start + self.config.notary_delay(best) {
            return false;
        }
        let mut to_share: Vec<Hash> = proposals
            .iter()
            .filter(|(_, proposal)| proposal.block.rank == best)
            .map(|(hash, _)| *hash)
            .collect();
        to_share.sort_unstable();
        let shared = self.shared_notarization.entry(height).or_default();
        to_share.retain(|hash| !shared.contains(hash));
        for block in &to_share {
            shared.insert(*block);
            // Relay the block we vote for: a maker that showed it to only
            // some nodes (or whose forgeries made some drop its messages
            // at this height) cannot leave the others without it. Large
            // blocks go out as adverts, fetched only by peers lacking them.
            let proposal = &proposals[block];
            if proposal.block.maker != self.me {
                actions.push(Action::Broadcast(Artifact::Proposal(proposal.clone())));
            }
            let share = Share {
                signer: self.me,
                signature: self.crypto.sign(&signed::notarization(height, block)),
            };
            self.pool
                .notarization_shares
                .entry((height, *block))
                .or_default()
                .insert(self.me, share.signature.clone());
            actions.push(Action::Broadcast(Artifact::NotarizationShare {
                height,
                block: *block,
                share,
            }));
        }
        !to_share.is_empty()
    }

    /// A finalization at h finalizes its block and all ancestors; blocks are
    /// delivered in height order once their contents are known.
    fn finalize(&mut self, actions: &mut Vec<Action>) -> bool {
        let Some((&height, certificate)) = self.pool.finalizations.iter().next_back() else {
            return false;
        };
        if height <= self.finalized_height {
            return false;
        }
        // Walk back from the finalized block to what was already delivered.
        let mut chain = Vec::new();
        let mut hash = certificate.block;
        let mut at = height;
        while at > self.finalized_height {
            let Some(block) = self.blocks.get(&hash) else {
                return false;
            }; // contents still missing
            chain.push((at, hash, block.clone()));
            hash = block.parent;
            at -= 1;
        }
        if self.delivered.get(&self.finalized_height) != Some(&hash) {
            // Cannot happen with f < n/3 (safety); refuse to deliver a conflicting chain.
            return false;
        }
        for (at, hash, block) in chain.into_iter().rev() {
            self.payloads.on_finalized(at, &block.payload);
            self.delivered.insert(at, hash);
            actions.push(Action::Deliver(FinalizedBlock { block, hash }));
        }
        let previous = self.finalized_height;
        self.finalized_height = height;
        self.share_catch_up(previous, actions);
        self.purge();
        if self.height <= height {
            // A finalized block is notarized: jump ahead (catching up).
            self.height = height + 1;
            self.round_start = None;
        }
        true
    }

    /// Drops what finalization and the latest catch-up package made useless.
    fn purge(&mut self) {
        let cut = self.catch_up_height();
        if cut > 0 {
            self.delivered = self.delivered.split_off(&cut);
        }
        self.pool.purge(self.finalized_height, &self.delivered);
        let keep_from = self.finalized_height;
        let delivered = &self.delivered;
        self.blocks.retain(|hash, block| {
            block.height >= keep_from || delivered.get(&block.height) == Some(hash)
        });
        self.shared_finalization = self.shared_finalization.split_off(&keep_from);
        self.shared_beacon = self.shared_beacon.split_off(&keep_from);
        self.failed_checks = self.failed_checks.split_off(&(keep_from, 0));
        self.proposed = self.proposed.split_off(&keep_from);
        self.shared_notarization
            .retain(|height, _| *height >= keep_from);
        let cut = self.catch_up_height();
        self.unvalidated.retain(|queued| match &queued.artifact {
            Artifact::Beacon { .. } | Artifact::CatchUpShare { .. }
                if queued.artifact.height() > cut =>
            {
                true
            }
            _ => queued.artifact.height() >= keep_from,
        });
    }

    /// Re-sends this round's own shares and the latest round's artifacts.
    fn rebroadcast(&self, actions: &mut Vec<Action>) {
        let height = self.height;
        // Relay proof of equivocation (two blocks of one maker) so that every
        // node disqualifies that maker at this height.
        for proposal in self
            .pool
            .proposals
            .get(&height)
            .into_iter()
            .flat_map(HashMap::values)
        {
            if self.proposals_by(proposal.block.maker, height) > 1 {
                actions.push(Action::Broadcast(Artifact::Proposal(proposal.clone())));
            }
        }
        if let Some(signature) = self
            .pool
            .beacon_shares
            .get(&height)
            .and_then(|shares| shares.get(&self.me))
        {
            let share = Share {
                signer: self.me,
                signature: signature.clone(),
            };
            actions.push(Action::Broadcast(Artifact::BeaconShare { height, share }));
        }
        for block in self.shared_notarization.get(&height).into_iter().flatten() {
            if let Some(proposal) = self
                .pool
                .proposals
                .get(&height)
                .and_then(|proposals| proposals.get(block))
            {
                actions.push(Action::Broadcast(Artifact::Proposal(proposal.clone())));
            }
            if let Some(signature) = self
                .pool
                .notarization_shares
                .get(&(height, *block))
                .and_then(|s| s.get(&self.me))
            {
                let share = Share {
                    signer: self.me,
                    signature: signature.clone(),
                };
                actions.push(Action::Broadcast(Artifact::NotarizationShare {
                    height,
                    block: *block,
                    share,
                }));
            }
        }
        for (&(share_height, block), shares) in self
            .pool
            .finalization_shares
            .range((height.saturating_sub(1), Hash::default())..)
        {
            if let Some(signature) = shares.get(&self.me) {
                let share = Share {
                    signer: self.me,
                    signature: signature.clone(),
                };
                actions.push(Action::Broadcast(Artifact::FinalizationShare {
                    height: share_height,
                    block,
                    share,
                }));
            }
        }
        actions.extend(
            self.round_artifacts(height.saturating_sub(1))
                .into_iter()
                .map(Action::Broadcast),
        );
        let finalization_blocked = self
            .pool
            .finalizations
            .keys()
            .next_back()
            .is_some_and(|&h| h > self.finalized_height);
        if finalization_blocked || self.highest_seen > height + 1 {
            actions.push(Action::Broadcast(Artifact::CatchUpRequest {
                height: self.finalized_height + 1,
            }));
        }
    }

    /// The next time a rule may fire without new input.
    fn next_deadline(&self, now: Time) -> Time {
        let mut deadline = self.next_rebroadcast.max(now + 1);
        if let Some(at) = self.validate_at {
            deadline = deadline.min(at);
        }
        if let (Some(start), Some(beacon)) = (self.round_start, self.beacon_value(self.height)) {
            if !self.proposed.contains(&self.height) && !self.holding_proposals {
                let rank = rank_of(&beacon, self.me, self.config.nodes);
                deadline = deadline.min(start + self.config.proposal_delay(rank));
            }
            if let Some(best) = self.best_rank(self.height) {
                let at = start + self.config.notary_delay(best);
                if at > now {
                    deadline = deadline.min(at);
                }
            }
        }
        deadline.max(now + 1)
    }

    /// How many proposals a maker has at a height (two prove equivocation).
    fn proposals_by(&self, maker: NodeId, height: Height) -> usize {
        self.pool.proposals.get(&height).map_or(0, |proposals| {
            proposals
                .values()
                .filter(|proposal| proposal.block.maker == maker)
                .count()
        })
    }

    /// The lowest rank with a valid proposal at `height` whose maker did not
    /// equivocate (a maker with two blocks at a height is disqualified there).
    fn best_rank(&self, height: Height) -> Option<Rank> {
        let proposals = self.pool.proposals.get(&height)?;
        proposals
            .values()
            .filter(|proposal| self.proposals_by(proposal.block.maker, height) == 1)
            .map(|proposal| proposal.block.rank)
            .min()
    }

    /// The random beacon's value at `height`, if held.
    pub fn beacon_value(&self, height: Height) -> Option<Hash> {
        self.pool.beacons.get(&height).map(|(_, value)| *value)
    }

    /// Whether `block` at `height` is notarized (genesis and finalized blocks count).
    fn is_notarized(&self, height: Height, block: &Hash) -> bool {
        self.delivered.get(&height) == Some(block)
            || self
                .pool
                .notarizations
                .get(&height)
                .is_some_and(|n| n.contains_key(block))
            || self
                .pool
                .finalizations
                .get(&height)
                .is_some_and(|f| f.block == *block)
    }

    /// A notarized block at `height`, if any (the smallest hash if several).
    fn notarized_at(&self, height: Height) -> Option<Hash> {
        if let Some(hash) = self.delivered.get(&height) {
            return Some(*hash);
        }
        self.pool
            .notarizations
            .get(&height)
            .and_then(|n| n.keys().next().copied())
    }
}

/// The shares of a pool entry, as the crypto's aggregation functions take them.
fn to_shares(shares: &Shares) -> Vec<Share> {
    shares
        .iter()
        .map(|(signer, signature)| Share {
            signer: *signer,
            signature: signature.clone(),
        })
        .collect()
}

/// Artifacts of one height from one sender whose checks may fail before the
/// sender's further artifacts of that height are dropped unchecked: an
/// invalid share costs pairings to find, and honest nodes send none.
const MAX_FAILED_CHECKS: u32 = 2;

/// A received artifact waiting for validation, with what receiving it
/// computed once: it may wait through many validation passes, and a
/// proposal's hash covers a payload of megabytes.
struct Unvalidated {
    from: NodeId,
    artifact: Artifact,
    /// The block's hash, for a proposal.
    block_hash: Option<Hash>,
    /// [`Artifact::byte_len`].
    bytes: usize,
    /// A hash of the artifact (of a proposal: of its block hash and
    /// signature): copies are looked for among equal fingerprints only.
    fingerprint: u64,
}

impl Unvalidated {
    fn new(from: NodeId, artifact: Artifact, bytes: usize) -> Self {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let fingerprints = BuildHasherDefault::<DefaultHasher>::default();
        let (block_hash, fingerprint) = match &artifact {
            Artifact::Proposal(proposal) => {
                let hash = proposal.block.hash();
                (
                    Some(hash),
                    fingerprints.hash_one((hash, &proposal.signature)),
                )
            }
            _ => (None, fingerprints.hash_one(&artifact)),
        };
        Unvalidated {
            from,
            bytes,
            artifact,
            block_hash,
            fingerprint,
        }
    }

    /// Whether `other` is the same artifact (from whichever sender).
    fn is_copy_of(&self, other: &Unvalidated) -> bool {
        self.fingerprint == other.fingerprint && self.artifact == other.artifact
    }
}

/// Whether a pending artifact can be checked now.
enum Readiness {
    /// Check this message's signature.
    Ready(Vec<u8>),
    /// Prerequisites are missing: keep it.
    Waiting,
    /// Already known: drop it silently.
    Useless,
    /// Malformed: drop it and count the sender.
    Invalid,
}

/// The signature check an artifact needs, given the bytes it signs.
fn check_for<'a>(artifact: &'a Artifact, message: &'a [u8]) -> Check<'a> {
    match artifact {
        Artifact::Proposal(proposal) => Check::Node {
            signer: proposal.block.maker,
            message,
            signature: &proposal.signature,
        },
        Artifact::NotarizationShare { share, .. } | Artifact::FinalizationShare { share, .. } => {
            Check::Node {
                signer: share.signer,
                message,
                signature: &share.signature,
            }
        }
        Artifact::Notarization(certificate) | Artifact::Finalization(certificate) => {
            Check::Aggregate {
                signers: &certificate.signers,
                message,
                signature: &certificate.signature,
            }
        }
        Artifact::BeaconShare { share, .. } => Check::ThresholdShare {
            signer: share.signer,
            message,
            signature: &share.signature,
        },
        Artifact::Beacon { signature, .. } => Check::Threshold { message, signature },
        Artifact::CatchUpRequest { .. } => unreachable!("requests are never validated"),
        Artifact::CatchUpShare { share, .. } => Check::ThresholdShare {
            signer: share.signer,
            message,
            signature: &share.signature,
        },
        Artifact::CatchUpPackage(package) => Check::Threshold {
            message,
            signature: &package.signature,
        },
    }
}

/// The payloads of the blocks from `parent` (at `height − 1`) back to the
/// finalized tip at `finalized` (excluded), or `None` while one is unknown.
fn past_payloads<'a>(
    blocks: &'a HashMap<Hash, Block>,
    finalized: Height,
    parent: &Hash,
    height: Height,
) -> Option<Vec<&'a Payload>> {
    let mut past = Vec::new();
    let mut hash = *parent;
    let mut at = height - 1;
    while at > finalized {
        let block = blocks.get(&hash)?;
        past.push(&block.payload);
        hash = block.parent;
        at -= 1;
    }
    past.reverse();
    Some(past)
}

/// The rank of `node` at a height with beacon value `beacon`: its position
/// when nodes are sorted by H(beacon, node) (a permutation only the beacon decides).
pub fn rank_of(beacon: &Hash, node: NodeId, nodes: usize) -> Rank {
    let key =
        |candidate: NodeId| Hash::of(&[b"chainkey-rank", &beacon.0, &candidate.to_be_bytes()]);
    let mine = key(node);
    (0..nodes as NodeId)
        .filter(|&other| (key(other), other) < (mine, node))
        .count() as Rank
}
