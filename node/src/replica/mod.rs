//! One running node: the consensus state machine driven by the network,
//! a clock and ingress, with everything it decides made durable first.
//!
//! The event loop owns [`Consensus`]. Received artifacts go to it (it
//! verifies them in batches through the batch verifier); what it signs is
//! stored before it is sent; finalized blocks are stored (with their
//! ingress ids), then executed. A node that restarts reads its store: it
//! resumes after its last finalized block, puts back the proofs of its
//! last blocks (for peers that stopped lower), replays what it signed above
//! it and abstains from proposing or finalization-sharing there, remembers
//! the finalized ingress that has not expired, and catches up from peers.
//! Blocks a catch-up package jumped over are fetched from peers and
//! authenticated by their hash chain down from the package's block.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chainkey_consensus::{
    Action, Artifact, BlsCrypto, Consensus, Event, FinalizedBlock, Hash, Height, IngressQueue,
    NodeId, PayloadBuilder, PayloadLimits,
};
use chainkey_crypto::batch::{BatchVerifier, ServiceConfig, VerifyService};
use tokio::sync::mpsc;

mod bls_shares;
mod byzantine;
mod committee;
mod crypto;
mod durable;
mod feed;
mod gap;
mod penalties;
mod report;
mod signer_link;
mod stats;

use bls_shares::BlsShares;
use committee::Committee;
use crypto::MeteredCrypto;
use durable::{artifact_key, Durable};
use feed::ExecutionFeed;
use gap::{Answers, BlocksRequest, Gap, BLOCKS_PER_ANSWER};
use signer_link::SignerLink;
use stats::Stats;

use crate::api::{Shared, Status};
use crate::certification::Certifier;
use crate::chain_key::bls::BlsKeys;
use crate::chain_key::pool::ChainKeyPool;
use crate::chain_key::signer;
use crate::chain_key::state::{ChainKeyState, Setup};
use crate::config::{ConfigError, NodeConfig};
use crate::execution::service::{self, SubnetInfo};
use crate::execution::wasm::Runtime;
use crate::ingress::{expiries, unix_ms, Seen};
use crate::metrics::Metrics;
use crate::net::dissemination::Dissemination;
use crate::net::transport::{Identity, Received, Transport, TransportError};
use crate::net::wire::Message;
use crate::payload::{NodePayloads, QueryStatsSection};
use crate::query_stats;
use crate::store::{Store, StoreError, KEPT_PROOFS};
use chainkey_crypto::threshold::SecretKeyShare;

/// Why a node stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// Its configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Its store.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Its network.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// Its execution checkpoint.
    #[error(transparent)]
    Checkpoint(#[from] crate::execution::service::CheckpointError),
    /// The HTTP endpoint.
    #[error("HTTP endpoint on {address}: {source}")]
    Http {
        /// The address.
        address: std::net::SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A membership change removed this node from the subnet.
    #[error("this node is not a member of the subnet from registry version {0} on")]
    NotAMember(u64),
    /// This node is a member but could not decrypt its key shares.
    #[error("this node could not decrypt its key shares for registry version {0}")]
    MissingShares(u64),
}

/// The event loop's state: consensus and the parts of the node it drives.
struct Node {
    me: NodeId,
    consensus: Consensus<MeteredCrypto, NodePayloads>,
    /// What this node decided, made durable before it acts on it.
    durable: Durable,
    /// The connections to the other nodes.
    peers: Peers,
    /// Finalized blocks on their way to execution.
    feed: ExecutionFeed,
    certifier: Certifier,
    shared: Arc<Shared>,
    clock: Clock,
    /// Finalized heights missing below a catch-up package.
    gap: Gap,
    stats: Stats,
    /// The consensus committee in force, and what starts the next one.
    committee: Committee,
    /// This node's shares of the subnet's threshold BLS keys.
    bls: BlsShares,
    /// Where shares decrypted off the event loop come back.
    bls_decrypted: mpsc::UnboundedSender<bls_shares::Decrypted>,
    /// The chain-key signer thread and what is on its way to it.
    signer: SignerLink,
}

/// The network and which artifacts were advertised on it.
struct Peers {
    transport: Arc<Transport>,
    dissemination: Dissemination,
    /// How many nodes this node knows (members and joined nodes).
    nodes: usize,
    /// Peers cut off for sending invalid artifacts.
    penalties: penalties::Penalties,
    /// Each peer's allowance of answers to its block requests.
    answers: Answers,
}

/// The node's sense of time: consensus counts milliseconds since start.
struct Clock {
    start: Instant,
    /// When consensus wants its next tick (ms since start).
    wake: Time,
    /// Housekeeping rounds so far.
    ticks: u64,
}

type Time = u64;

/// Runs the node of `config` until `shutdown` completes.
///
/// # Errors
/// [`NodeError`] when it cannot start, or when its store fails or refuses
/// a conflicting finalized block.
pub async fn run(config: NodeConfig, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    let secrets = config.load_secrets()?;
    let query_keys = config.query_keys()?;
    let node_principal = query_keys
        .get(config.id as usize)
        .ok_or(ConfigError::NodeOrder)?
        .0
        .clone();
    let subnet = Arc::new(config.subnet_keys()?);
    let store = Store::open(&config.data_dir)?;
    let metrics = Metrics::new();
    let verifier = Arc::new(BatchVerifier::new(chainkey_crypto::batch::VerifierConfig {
        threads: config.verify_threads,
        ..Default::default()
    }));
    let (verify_service, _collector) =
        VerifyService::spawn(Arc::clone(&verifier), ServiceConfig::default());
    let (inbound_sender, mut inbound) = mpsc::channel(16 * 1024);
    let identity = Identity {
        me: config.id,
        certificates: config.certificates()?,
        addresses: config
            .nodes
            .iter()
            .map(|node| node.address.clone())
            .collect(),
        key: secrets.tls_key,
    };
    let transport = Arc::new(Transport::start(identity, config.listen, inbound_sender).await?);
    let (ingress_sender, mut ingress) = mpsc::channel(1024);
    let certification_key = config.certification_key()?;
    let root_key = crate::ic::certificate::key_to_der(&certification_key.public_key());
    let subnet_info = SubnetInfo {
        subnet_id: crate::ic::principal::Principal::self_authenticating(&root_key)
            .as_bytes()
            .to_vec(),
        public_key: root_key.clone(),
        node_keys: query_keys,
    };
    let chain_key_setup = Setup {
        key_name: config.chain_key.key_name.clone(),
        receivers: config.mega_keys()?,
        threshold: (config.genesis_nodes().len() - 1) / 3 + 1,
        pool_size: config.chain_key.presignature_pool,
        first_pool_size: config.chain_key.first_presignature_pool,
        dealer_keys: config.node_ed25519_keys()?,
    };
    let corrupt_chain_key = Arc::new(AtomicBool::new(false));
    let (signer_sender, mut signer_output) = mpsc::unbounded_channel();
    let signer = signer::spawn(
        config.id,
        secrets.mega_key,
        secrets.query_key.clone(),
        chain_key_setup.clone(),
        Arc::clone(&corrupt_chain_key),
        signer_sender,
    );
    let runtime = Arc::new(Runtime::new());
    let state = match service::load_checkpoint(&config.data_dir)? {
        Some(state) => state,
        None => crate::execution::ReplicatedState {
            governance: config.genesis_governance()?,
            ..Default::default()
        },
    };
    let sent_for_execution = state.height;
    let (executed_sender, mut executed) = mpsc::unbounded_channel();
    let (bls_decrypted, mut decrypted) = mpsc::unbounded_channel();
    let execution = service::spawn(
        crate::execution::Executor::new(Arc::clone(&runtime), state)
            .with_chain_key(config.chain_key.clone())
            .with_limits(config.execution.clone())
            .with_cycles(&config.cycles)
            .with_subnet_id(subnet_info.subnet_id.clone()),
        subnet_info,
        config.data_dir.clone(),
        executed_sender,
    );
    let query_counts = Arc::default();
    let shared = Arc::new(Shared {
        status: Mutex::new(Status::default()),
        ingress: ingress_sender,
        seen: Mutex::new(Seen::default()),
        pending: AtomicUsize::new(0),
        verify_service,
        metrics: metrics.clone(),
        transport: Arc::clone(&transport),
        byzantine: AtomicBool::new(false),
        corrupt_chain_key,
        test_hooks: config.test_hooks,
        root_key,
        runtime,
        execution: config.execution.clone(),
        fees: crate::execution::cycles::Fees::new(&config.cycles),
        cycles: config.cycles.clone(),
        executed: tokio::sync::watch::channel(None).0,
        canister_runs: crate::api::canister_runs::CanisterRuns::new(),
        certified: tokio::sync::watch::channel(None).0,
        query_key: secrets.query_key.clone(),
        node_principal,
        http_limits: config.http_limits,
        query_stats: Arc::clone(&query_counts),
    });
    let http_error = |source| NodeError::Http {
        address: config.http,
        source,
    };
    let listener = std::net::TcpListener::bind(config.http).map_err(http_error)?;
    crate::api::spawn(listener, Arc::clone(&shared)).map_err(http_error)?;

    let stats = Stats::default();
    let gap = store.first_gap()?;
    // A node that joined after genesis has no share of the genesis beacon
    // key: its consensus core is not in the genesis committee and never
    // signs, so a throwaway share stands in until it joins the committee.
    let beacon_share = secrets.beacon_share.clone().unwrap_or_else(|| {
        SecretKeyShare::new(
            config.id + 1,
            chainkey_crypto::SecretKey::generate(&mut rand::thread_rng()),
        )
        .expect("ids + 1 are valid share indices")
    });
    let crypto = MeteredCrypto {
        inner: BlsCrypto::new(
            secrets.node_key.clone(),
            beacon_share,
            Arc::clone(&subnet),
            Arc::clone(&verifier),
        ),
        metrics: metrics.clone(),
        batches: stats.batch_log(),
    };
    let payloads = NodePayloads::new(
        IngressQueue::new(PayloadLimits::default()),
        Arc::clone(&verifier),
        ChainKeyPool::new(ChainKeyState::genesis(chain_key_setup).with_bls(
            BlsKeys {
                beacon: subnet.beacon.clone(),
                certification: certification_key.clone(),
            },
            config.genesis_nodes().len(),
        )),
        QueryStatsSection {
            me: config.id,
            collector: query_counts,
            bounds: query_stats::Bounds::of(&config.execution, crate::api::ic::MAX_REQUEST_BYTES),
        },
    );
    let consensus = Consensus::new(config.id, config.consensus(), crypto, payloads);
    let mut node = Node {
        me: config.id,
        consensus,
        durable: Durable {
            signed_through: store.signed_through()?,
            stored_catch_up: 0,
            recorded: HashSet::new(),
            store: Arc::new(store),
        },
        peers: Peers {
            transport,
            dissemination: Dissemination::default(),
            nodes: config.nodes.len(),
            penalties: penalties::Penalties::default(),
            answers: Answers::default(),
        },
        feed: ExecutionFeed {
            sender: execution,
            sent: sent_for_execution,
            executed: sent_for_execution,
        },
        certifier: Certifier::new(certification_key, secrets.certification_share.clone()),
        shared,
        clock: Clock {
            start: Instant::now(),
            wake: 0,
            ticks: 0,
        },
        gap: Gap::new(gap),
        stats,
        committee: Committee::genesis(
            config.consensus(),
            secrets.node_key.clone(),
            Arc::clone(&verifier),
        ),
        bls: BlsShares::genesis(
            secrets.beacon_share.clone(),
            secrets.certification_share.clone(),
            secrets.dkg_key.clone(),
        ),
        signer: SignerLink::new(signer),
        bls_decrypted,
    };
    node.restore()?;
    node.feed_execution()?;
    tracing::info!(
        node = config.id,
        signed_through = node.durable.signed_through,
        stored = node.durable.store.top_finalized()?,
        "node started"
    );

    let mut housekeeping = tokio::time::interval(Duration::from_millis(250));
    tokio::pin!(shutdown);
    loop {
        let wake_at = node.clock.start + Duration::from_millis(node.clock.wake);
        tokio::select! {
            () = &mut shutdown => break,
            Some(received) = inbound.recv() => {
                node.on_received(received)?;
                // Take what else arrived, so it is validated as one batch.
                for _ in 0..512 {
                    let Ok(received) = inbound.try_recv() else { break };
                    node.on_received(received)?;
                }
            }
            Some(batch) = ingress.recv() => {
                let payloads = node.consensus.payloads_mut();
                let refused = batch
                    .into_iter()
                    .map(|submission| payloads.submit(submission))
                    .filter(|queued| !queued)
                    .count();
                node.shared.pending.store(payloads.pending(), Ordering::Relaxed);
                if refused > 0 {
                    node.shared
                        .metrics
                        .ingress
                        .with_label_values(&[crate::ingress::IngressError::QueueFull.label()])
                        .inc_by(refused as u64);
                }
            }
            Some(done) = executed.recv() => node.on_executed(done),
            Some(output) = signer_output.recv() => node.on_signer(output),
            Some((version, shares)) = decrypted.recv() => node.bls.decrypted(node.me, version, shares),
            () = tokio::time::sleep_until(wake_at.into()) => node.step(Event::Tick)?,
            _ = housekeeping.tick() => node.housekeeping()?,
        }
    }
    tracing::info!(node = node.me, "node stopped");
    Ok(())
}

impl Node {
    fn now(&self) -> Time {
        self.clock.start.elapsed().as_millis() as Time
    }

    /// Resumes from the store: abstain where we may have signed, continue
    /// after the last block we finalized, and replay (to ourselves and our
    /// peers) what we signed above it — the rounds we signed in can only
    /// finish with those shares, since we will not sign there again.
    fn restore(&mut self) -> Result<(), NodeError> {
        self.consensus.abstain_through(self.durable.signed_through);
        let mut resumed_at = 0;
        if let Some((finalized, beacon)) = self.durable.store.resume_point()? {
            resumed_at = finalized.block.height;
            self.consensus.resume_from(finalized.block, beacon);
            // Peers that stopped a little lower finish their rounds with these.
            for (height, proof) in self.durable.store.finality_proofs()? {
                if height + KEPT_PROOFS > resumed_at {
                    if let Some(block) = self.durable.store.finalized(height)? {
                        self.consensus.restore_finalized(block.block, proof);
                    }
                }
            }
        }
        self.catch_up_chain_key()?;
        self.resync_signer();
        self.resync_bls();
        let finalized_ingress = self.durable.store.finalized_ingress()?;
        {
            let mut seen = self.shared.seen.lock().expect("seen ids");
            for &(id, expiry) in &finalized_ingress {
                seen.insert(id, expiry);
            }
        }
        self.consensus
            .payloads_mut()
            .restore_finalized(finalized_ingress);
        self.step(Event::Start)?;
        if let Some(package) = self.durable.store.catch_up()? {
            // Kept for peers that need it; we resume from later, below.
            self.durable.stored_catch_up = package.content.height();
            self.step(Event::Artifact {
                from: self.me,
                artifact: Artifact::CatchUpPackage(package),
            })?;
        }
        for artifact in self.durable.store.signed_above(resumed_at)? {
            self.durable.recorded.insert(artifact_key(&artifact));
            self.peers
                .transport
                .broadcast(self.peers.dissemination.outgoing(artifact.clone()));
            self.step(Event::Artifact {
                from: self.me,
                artifact,
            })?;
        }
        Ok(())
    }

    fn step(&mut self, event: Event) -> Result<(), NodeError> {
        let now = self.now();
        let actions = self.consensus.on_event(event, now);
        for action in actions {
            self.act(action)?;
        }
        self.forward_chain_key_changes();
        // After a jump to a catch-up package with no gap below, its block
        // is stored but was not applied: apply it (until then this node
        // withholds its signatures, see `withheld`).
        let lagging = self.consensus.payloads().chain_key.state().height()
            < self.consensus.finalized_height();
        if lagging && !self.gap.is_open() && self.catch_up_chain_key()? {
            self.resync_signer();
            self.resync_bls();
        }
        self.follow_membership();
        self.switch_committee_if_due()?;
        // A finalized block may wait for the next beacon (below a gap, the
        // blocks wait for the gap to be filled instead).
        if !self.gap.is_open() && self.feed.sent < self.consensus.finalized_height() {
            self.feed_execution()?;
        }
        self.hold_proposals_while_execution_lags();
        Ok(())
    }

    fn on_received(&mut self, received: Received) -> Result<(), NodeError> {
        match received.message {
            // Catch-up requests look alike from every peer but are answered per peer.
            Message::Artifact(Artifact::CatchUpRequest { .. }) => {}
            Message::Artifact(_) if !self.peers.dissemination.is_new(received.digest) => {
                return Ok(())
            }
            _ => {}
        }
        match received.message {
            Message::Artifact(artifact)
                if !matches!(artifact, Artifact::CatchUpPackage(_))
                    && self
                        .committee_switch()
                        .is_some_and(|after| artifact.height() > after) =>
            {
                self.hold_for_next_committee(received.from, artifact);
                Ok(())
            }
            Message::Artifact(artifact) => {
                if let Artifact::Proposal(proposal) = &artifact {
                    // Only heights consensus would keep: peers cannot grow this map.
                    if proposal.block.height <= self.consensus.height() + self.committee.window() {
                        self.stats
                            .proposal_seen(proposal.block.height, Instant::now());
                    }
                }
                self.step(Event::Artifact {
                    from: received.from,
                    artifact,
                })
            }
            Message::BlocksRequest { from, to } => {
                if self.peers.answers.admit(received.from, Instant::now()) {
                    self.answer_blocks(received.from, from, to);
                }
                Ok(())
            }
            Message::Blocks(blocks) => self.fill_gap(blocks),
            Message::Advert { id, height } => {
                if height > self.consensus.finalized_height()
                    && self.peers.dissemination.should_fetch(id)
                {
                    let frame = Arc::new(Message::Fetch { id }.to_frame());
                    self.peers.transport.send(received.from, frame);
                }
                Ok(())
            }
            Message::Fetch { id } => {
                if let Some(frame) =
                    self.peers
                        .dissemination
                        .fetch(received.from, &id, Instant::now())
                {
                    self.peers.transport.send(received.from, frame);
                }
                Ok(())
            }
            Message::CertificationShare(share) => {
                if let Some(certified) = self.certifier.on_share(received.from, share) {
                    self.publish(certified);
                }
                Ok(())
            }
            Message::ChainKey(message) => {
                self.on_chain_key_message(received.from, message);
                Ok(())
            }
        }
    }

    /// Sends `peer` the finalized blocks `from..=to` it asked for (as many
    /// as one answer holds), read and encoded off the event loop.
    fn answer_blocks(&self, peer: NodeId, from: Height, to: Height) {
        let store = Arc::clone(&self.durable.store);
        let transport = Arc::clone(&self.peers.transport);
        tokio::task::spawn_blocking(move || {
            match store.finalized_range(from, to, BLOCKS_PER_ANSWER) {
                Ok(stored) => {
                    let blocks = gap::answer(stored);
                    if !blocks.is_empty() {
                        transport.send(peer, Arc::new(Message::Blocks(blocks).to_frame()));
                    }
                }
                Err(error) => tracing::warn!(%error, peer, "reading blocks a peer asked for"),
            }
        });
    }

    fn act(&mut self, action: Action) -> Result<(), NodeError> {
        match action {
            Action::Broadcast(artifact) | Action::Send { artifact, .. }
                if self.withheld(&artifact) => {}
            Action::Broadcast(artifact) => {
                self.before_sending(&artifact)?;
                self.peers
                    .transport
                    .broadcast(self.peers.dissemination.outgoing(artifact));
            }
            Action::Send { to, artifact } => {
                self.before_sending(&artifact)?;
                self.peers
                    .transport
                    .send(to, self.peers.dissemination.outgoing(artifact));
            }
            Action::WakeAt(at) => self.clock.wake = at,
            Action::Deliver(block) => self.deliver(block)?,
            Action::JumpedTo(package) => {
                let height = package.content.height();
                let block = package.content.block.clone();
                let top = self.durable.store.top_finalized()?;
                self.deliver(FinalizedBlock {
                    hash: block.hash(),
                    block,
                })?;
                self.persist_catch_up()?;
                self.gap.jumped(top, height);
                tracing::info!(node = self.me, height, "jumped to a catch-up package");
            }
        }
        Ok(())
    }

    /// Stores blocks from a peer that link, by hash, to the block above the gap.
    fn fill_gap(&mut self, blocks: Vec<FinalizedBlock>) -> Result<(), NodeError> {
        let Some(top) = self.gap.top() else {
            return Ok(());
        };
        let Some(above) = self.durable.store.finalized(top + 1)? else {
            return Ok(());
        };
        let linked = self.gap.link(&above, blocks);
        if linked.is_empty() {
            return Ok(());
        }
        // Their messages were ordered: never order them again.
        let ingress: Vec<(Hash, u64)> = linked
            .iter()
            .flat_map(|block| expiries(&block.block.payload))
            .collect();
        self.durable.store.put_finalized(&linked, &ingress)?;
        for block in &linked {
            self.consensus
                .payloads_mut()
                .on_finalized(block.block.height, &block.block.payload);
        }
        if self.catch_up_chain_key()? {
            self.resync_signer();
            self.resync_bls();
            self.follow_membership();
            self.switch_committee_if_due()?;
        }
        self.feed_execution()?;
        if !self.gap.is_open() {
            tracing::info!(
                node = self.me,
                "filled the finalized chain below the catch-up package"
            );
        }
        Ok(())
    }

    fn housekeeping(&mut self) -> Result<(), NodeError> {
        // Adverts stay fetchable for a catch-up window below the finalized height.
        let window = self.committee.window();
        self.peers
            .dissemination
            .prune(self.consensus.finalized_height().saturating_sub(window));
        tracing::debug!(node = self.me, state = %self.consensus.describe());
        self.persist_catch_up()?;
        if let Some(BlocksRequest { peer, from, to }) =
            self.gap.next_request(self.me, self.peers.nodes)
        {
            let frame = Arc::new(Message::BlocksRequest { from, to }.to_frame());
            self.peers.transport.send(peer, frame);
        }
        self.clock.ticks += 1;
        if self.clock.ticks.is_multiple_of(20) {
            // Every 5 s: forget expired ingress (the store's copy every minute).
            let now_ms = unix_ms();
            self.consensus.payloads_mut().prune(now_ms);
            self.shared.seen.lock().expect("seen ids").prune(now_ms);
            if self.clock.ticks.is_multiple_of(240) {
                self.durable
                    .store
                    .prune_ingress(now_ms.saturating_sub(crate::ingress::VALIDATION_SLACK_MS))?;
            }
        }
        if self.shared.byzantine.load(Ordering::Relaxed) {
            self.behave_byzantine();
        }
        self.report();
        Ok(())
    }

    /// Test hook: what a Byzantine node sends ([`byzantine::frames`]), to every peer.
    fn behave_byzantine(&self) {
        let now_ns = unix_ms() * 1_000_000;
        let frames = byzantine::frames(self.me, self.consensus.height(), self.clock.ticks, now_ns);
        for frame in frames {
            self.peers.transport.broadcast(frame);
        }
    }
}
