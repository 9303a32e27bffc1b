//! The node's secret side of chain-key ECDSA, on its own thread (the
//! crypto is milliseconds per dealing; the event loop must not wait):
//! opens the node's shares of completed transcripts, deals into open
//! ones, verifies peers' dealings in batches, signs paired requests and
//! combines the subnet's signature shares.
//!
//! Commands arrive in the order the finalized chain produced them, so a
//! source's share is opened before the node deals from it. All commands
//! waiting are taken together, signing first: the node's dealings of one
//! batch share one ephemeral key (see [`chainkey_crypto::tecdsa::EphemeralKey`])
//! and peers' dealings are verified together.
//!
//! (Taking them in chunks of 16, so signing waits less, cut throughput by
//! a quarter: batches verify and deal more cheaply the larger they are.)
//!
//! A presignature's transcript needs only `min_dealings` dealings, so only
//! that many dealers, chosen by the transcript's id, deal at once; the
//! others deal only if it is still open after [`FALLBACK_DEALING_DELAY`]
//! (a first dealer is down, slow or faulty). Every node thus makes and
//! verifies about 40% fewer dealings, and while the first dealers are
//! honest, none in vain.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_consensus::NodeId;
use chainkey_crypto::tecdsa::{
    combine, verify_dealings_of, Complaint, DealerInput, Dealing, EphemeralKey, MegaSecretKey,
    Opening, Presignature, PresignatureShares, Share, SignatureShare, TecdsaError, Transcript,
    TranscriptParams,
};

use super::state::{Change, Setup};
use super::{Curve, SignJob, SignatureItem, SignedDealing, TranscriptRef};
use crate::peer_buffer::{PeerBudget, PeerBuffer, PeerQueue};

/// Work for the signer.
#[derive(Debug)]
pub enum Command {
    /// A change of the finalized chain-key state.
    Chain(Change),
    /// The subnet's membership changed: forget every share and transcript
    /// of the old one and work with `Setup` (the node then tells the
    /// signer what the new state holds).
    NewEpoch(Setup),
    /// A peer's dealing to verify against `params`.
    Verify {
        /// The sender (who must be the dealer).
        from: NodeId,
        /// The dealing.
        signed: SignedDealing,
        /// Its transcript's parameters.
        params: Arc<TranscriptParams<Curve>>,
    },
    /// A request paired with a presignature: sign it.
    Sign(SignJob),
    /// A peer's complaint about a dealing's ciphertext to it.
    Complaint {
        /// The complainer.
        from: NodeId,
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded complaint.
        bytes: Vec<u8>,
    },
    /// A peer's opening answering this node's complaint.
    Opening {
        /// The receiver opening its share.
        from: NodeId,
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded opening.
        bytes: Vec<u8>,
    },
    /// A peer's signature share.
    Share {
        /// The sender (who must be the signer).
        from: NodeId,
        /// The presignature of the request.
        presignature: u64,
        /// The encoded share.
        bytes: Vec<u8>,
    },
}

/// What the signer produced.
#[derive(Debug)]
pub enum Output {
    /// A verified dealing, this node's own (`own`: broadcast it) or a peer's.
    Dealing {
        /// The dealing as blocks carry it.
        signed: SignedDealing,
        /// The dealing.
        dealing: Arc<Dealing<Curve>>,
        /// Whether this node made it.
        own: bool,
    },
    /// This node's signature share, to broadcast.
    Share {
        /// The presignature of the request.
        presignature: u64,
        /// The encoded share.
        bytes: Vec<u8>,
    },
    /// A combined signature, for the next blocks.
    Signature(SignatureItem),
    /// This node rebuilt its share of a transcript from openings.
    Rebuilt(TranscriptRef),
    /// This node's complaint, to broadcast.
    Complaint {
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded complaint.
        bytes: Vec<u8>,
    },
    /// This node's opening, for the complainer `to`.
    Opening {
        /// The complainer.
        to: NodeId,
        /// The transcript.
        transcript: TranscriptRef,
        /// The encoded opening.
        bytes: Vec<u8>,
    },
    /// A node sent something invalid.
    Invalid {
        /// The culprit.
        node: NodeId,
        /// `dealing`, `ciphertext`, `complaint`, `opening` or `signature share`.
        kind: &'static str,
    },
}

/// What one peer's complaints kept until their transcript completes here may take.
const EARLY_COMPLAINTS: PeerBudget = PeerBudget {
    items: 1024,
    bytes: 4 << 20,
};

/// What one peer's complaints, openings and signature shares may take on
/// their way to the signer (beyond it they are dropped and counted). Its
/// dealings are not counted here: one per peer and open transcript goes.
pub const PEER_QUEUE: PeerBudget = PeerBudget {
    items: 4096,
    bytes: 16 << 20,
};

impl Command {
    /// The peer that sent it and its bytes, for what counts against the
    /// peer's [`PEER_QUEUE`].
    fn peer_item(&self) -> Option<(NodeId, usize)> {
        match self {
            Command::Complaint { from, bytes, .. }
            | Command::Opening { from, bytes, .. }
            | Command::Share { from, bytes, .. } => Some((*from, bytes.len())),
            _ => None,
        }
    }
}

/// The way to the signer thread: the node's own commands go unbounded
/// (they follow the finalized chain), each peer's within [`PEER_QUEUE`].
#[derive(Clone, Debug)]
pub struct Inbox {
    commands: std::sync::mpsc::Sender<Command>,
    peers: Arc<PeerQueue>,
}

impl Inbox {
    /// Sends `command`, unless it is a peer's over its budget: whether it
    /// went. (Sending fails only once the signer ended: the node is
    /// stopping, and what it sends no longer matters.)
    pub fn send(&self, command: Command) -> bool {
        if let Some((from, bytes)) = command.peer_item() {
            if !self.peers.admit(from, bytes) {
                return false;
            }
        }
        let _ = self.commands.send(command);
        true
    }

    /// An inbox whose commands go to `commands`, for tests of its senders.
    #[cfg(test)]
    pub fn detached(commands: std::sync::mpsc::Sender<Command>) -> Self {
        Inbox {
            commands,
            peers: Arc::new(PeerQueue::new(PEER_QUEUE)),
        }
    }
}

/// How long a dealer that is not among a transcript's first dealers waits
/// before dealing into it anyway (a few block times: a transcript whose
/// first dealers are honest completes well before).
pub const FALLBACK_DEALING_DELAY: Duration = Duration::from_millis(1500);

/// Whether dealer `me` (of `dealers`) is one of the `first` consecutive
/// dealers from a start the transcript id `id` gives.
fn is_first_dealer(id: &[u8; 32], me: NodeId, dealers: usize, first: usize) -> bool {
    let dealers = dealers.max(1) as u64;
    let start =
        u64::from_le_bytes([id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7]]) % dealers;
    (u64::from(me) + dealers - start) % dealers < first as u64
}

/// A dealing this node makes only if its transcript is still open at `due`.
struct LaterDeal {
    due: Instant,
    transcript: TranscriptRef,
    params: Arc<TranscriptParams<Curve>>,
    sources: Vec<TranscriptRef>,
}

/// The four transcripts of presignature `i`: `κ`, `λ`, `κ·λ`, `x·λ`.
fn presignature_parts(i: u64) -> [TranscriptRef; 4] {
    [
        TranscriptRef::Kappa(i),
        TranscriptRef::Lambda(i),
        TranscriptRef::KappaTimesLambda(i),
        TranscriptRef::KeyTimesLambda(i),
    ]
}

/// A presignature this node can sign with.
struct Ready {
    presignature: Arc<Presignature<Curve>>,
    /// Consumed by signing: a nonce is never used twice.
    shares: Option<PresignatureShares<Curve>>,
}

/// The signer's state.
struct Signer {
    me: NodeId,
    key: MegaSecretKey<Curve>,
    /// Signs this node's dealings.
    signing_key: ed25519_dalek::SigningKey,
    setup: Setup,
    /// The highest presignature ready here: shares for ones far above are
    /// refused, so peers cannot fill memory with made-up presignatures.
    highest_ready: Option<u64>,
    /// Presignatures used recently (their late shares are dropped).
    used: BTreeSet<u64>,
    /// Test hook: make this node's dealings and shares invalid.
    corrupt: Arc<AtomicBool>,
    /// Dealings corrupted so far.
    corrupted: u64,
    /// This node's shares of completed transcripts, until used.
    shares: HashMap<TranscriptRef, Share<Curve>>,
    /// Completed transcripts, until used (to answer complaints).
    transcripts: HashMap<TranscriptRef, Arc<Transcript<Curve>>>,
    /// Shares being rebuilt from peers' openings, with the openings so far.
    repairing: HashMap<TranscriptRef, Vec<Opening<Curve>>>,
    /// Peers' complaints about transcripts not complete here yet.
    early_complaints: PeerBuffer<(TranscriptRef, Vec<u8>)>,
    /// Dealings made only if the first dealers do not complete the transcript.
    later_deals: Vec<LaterDeal>,
    /// Dealings waiting for a source share being rebuilt.
    waiting_deals: Vec<(
        TranscriptRef,
        Arc<TranscriptParams<Curve>>,
        Vec<TranscriptRef>,
    )>,
    master: Option<Arc<Transcript<Curve>>>,
    ready: HashMap<u64, Ready>,
    jobs: HashMap<u64, SignJob>,
    /// Valid-looking shares received per presignature, by signer.
    received: BTreeMap<u64, BTreeMap<NodeId, SignatureShare<Curve>>>,
    /// Signers that sent an invalid signature share: theirs are tried last.
    bad_signers: HashSet<NodeId>,
    /// Presignatures whose signature this node combined (until finalized).
    combined: HashSet<u64>,
    output: tokio::sync::mpsc::UnboundedSender<Output>,
}

/// Starts the signer of node `me` (decrypting with `key`, signing its
/// dealings with `signing_key`); its results go to `output`.
pub fn spawn(
    me: NodeId,
    key: MegaSecretKey<Curve>,
    signing_key: ed25519_dalek::SigningKey,
    setup: Setup,
    corrupt: Arc<AtomicBool>,
    output: tokio::sync::mpsc::UnboundedSender<Output>,
) -> Inbox {
    let (sender, commands) = std::sync::mpsc::channel::<Command>();
    let peers = Arc::new(PeerQueue::new(PEER_QUEUE));
    let inbox = Inbox {
        commands: sender,
        peers: Arc::clone(&peers),
    };
    let mut signer = Signer {
        me,
        key,
        signing_key,
        setup,
        highest_ready: None,
        used: BTreeSet::new(),
        corrupt,
        corrupted: 0,
        shares: HashMap::new(),
        transcripts: HashMap::new(),
        repairing: HashMap::new(),
        waiting_deals: Vec::new(),
        later_deals: Vec::new(),
        early_complaints: PeerBuffer::new(EARLY_COMPLAINTS),
        master: None,
        ready: HashMap::new(),
        jobs: HashMap::new(),
        received: BTreeMap::new(),
        bad_signers: HashSet::new(),
        combined: HashSet::new(),
        output,
    };
    std::thread::Builder::new()
        .name("chain-key signer".into())
        .spawn(move || {
            loop {
                // Wakes for the next command, or for the next later dealing.
                let next_due = signer.later_deals.iter().map(|later| later.due).min();
                let first = match next_due {
                    None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(due) => {
                        commands.recv_timeout(due.saturating_duration_since(Instant::now()))
                    }
                };
                let first = match first {
                    Ok(command) => Some(command),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => break,
                };
                let batch: Vec<Command> = first
                    .into_iter()
                    .chain(std::iter::from_fn(|| commands.try_recv().ok()))
                    .collect();
                for (from, bytes) in batch.iter().filter_map(Command::peer_item) {
                    peers.release(from, bytes);
                }
                signer.run(batch);
            }
        })
        .expect("the signer thread starts");
    inbox
}

impl Signer {
    fn emit(&self, output: Output) {
        // Fails only when the node is stopping.
        let _ = self.output.send(output);
    }

    /// Whether shares for presignature `i` are worth keeping: it is ready
    /// here and not combined yet, or — when this node lags — not used and
    /// not far above the highest ready one, while few such are kept.
    fn expects_shares(&self, i: u64) -> bool {
        if self.ready.contains_key(&i) {
            return !self.combined.contains(&i);
        }
        let window = 2 * self.setup.pool_size as u64;
        let known = self.received.contains_key(&i);
        !self.used.contains(&i)
            && i <= self.highest_ready.unwrap_or(0) + window
            && (known || self.received.len() < 2 * window as usize)
    }

    fn run(&mut self, mut batch: Vec<Command>) {
        // Signing first: a request waits on it, presignatures are made ahead.
        // (A job for a presignature not ready yet is kept until it is.)
        batch.sort_by_key(|command| !matches!(command, Command::Sign(_) | Command::Share { .. }));
        let mut rng = rand::thread_rng();
        let ephemeral = EphemeralKey::generate(&mut rng);
        let mut to_verify: Vec<(Arc<TranscriptParams<Curve>>, SignedDealing, Dealing<Curve>)> =
            Vec::new();
        let mut touched = Vec::new();
        let now = Instant::now();
        let (due, later) = std::mem::take(&mut self.later_deals)
            .into_iter()
            .partition(|later| later.due <= now);
        self.later_deals = later;
        for later in due {
            self.deal(later.transcript, &later.params, &later.sources, &ephemeral);
        }
        for command in batch {
            match command {
                Command::Chain(change) => self.on_change(change, &ephemeral),
                Command::NewEpoch(setup) => self.new_epoch(setup),
                Command::Verify {
                    from,
                    signed,
                    params,
                } => match Dealing::from_bytes(&signed.dealing) {
                    Ok(dealing)
                        if dealing.dealer == from
                            && self.setup.dealt_by(&signed, dealing.dealer) =>
                    {
                        to_verify.push((params, signed, dealing));
                    }
                    _ => self.emit(Output::Invalid {
                        node: from,
                        kind: "dealing",
                    }),
                },
                Command::Complaint {
                    from,
                    transcript,
                    bytes,
                } => self.on_complaint(from, transcript, &bytes),
                Command::Opening {
                    from,
                    transcript,
                    bytes,
                } => self.on_opening(from, transcript, &bytes),
                Command::Sign(job) => {
                    touched.push(job.presignature);
                    self.sign(job);
                }
                Command::Share {
                    from,
                    presignature,
                    bytes,
                } => match SignatureShare::<Curve>::from_bytes(&bytes) {
                    Ok(share) if share.signer == from => {
                        if self.expects_shares(presignature) {
                            touched.push(presignature);
                            self.received
                                .entry(presignature)
                                .or_default()
                                .insert(from, share);
                        }
                    }
                    _ => self.emit(Output::Invalid {
                        node: from,
                        kind: "signature share",
                    }),
                },
            }
        }
        // Every dealing of the batch in one check, whatever its transcript.
        let pairs: Vec<_> = to_verify
            .iter()
            .map(|(params, _, dealing)| (&**params, dealing))
            .collect();
        let verdicts = verify_dealings_of(&pairs);
        for ((_, signed, dealing), verdict) in to_verify.into_iter().zip(verdicts) {
            match verdict {
                Ok(()) => self.emit(Output::Dealing {
                    signed,
                    dealing: Arc::new(dealing),
                    own: false,
                }),
                Err(_) => self.emit(Output::Invalid {
                    node: dealing.dealer,
                    kind: "dealing",
                }),
            }
        }
        touched.sort_unstable();
        touched.dedup();
        for presignature in touched {
            self.try_combine(presignature);
        }
    }

    /// Drops what belongs to the old membership (its presignatures were
    /// retired with it); the used ids are kept (ids keep counting up).
    fn new_epoch(&mut self, setup: Setup) {
        self.setup = setup;
        self.shares.clear();
        self.transcripts.clear();
        self.repairing.clear();
        self.early_complaints.clear();
        self.later_deals.clear();
        self.waiting_deals.clear();
        self.master = None;
        self.ready.clear();
        self.jobs.clear();
        self.received.clear();
        self.combined.clear();
    }

    fn on_change(&mut self, change: Change, ephemeral: &EphemeralKey<Curve>) {
        if self.me as usize >= self.setup.receivers.len() {
            // A node that joined later: it has no part in the transcripts
            // of the members before it (until its membership takes over).
            return;
        }
        match change {
            Change::Opened {
                transcript,
                params,
                sources,
            } => {
                if self.deals_first(&transcript, &params) {
                    self.deal(transcript, &params, &sources, ephemeral);
                } else {
                    self.later_deals.push(LaterDeal {
                        due: Instant::now() + FALLBACK_DEALING_DELAY,
                        transcript,
                        params,
                        sources,
                    });
                }
            }
            Change::Completed(transcript, complete) => {
                self.later_deals
                    .retain(|later| later.transcript != transcript);
                // A reshare's receivers are the next membership's, at
                // positions of their own: they open their shares when that
                // membership takes over.
                if !matches!(transcript, TranscriptRef::KeyReshare(_)) {
                    self.open(transcript, complete);
                }
            }
            Change::KeyReshared(..) | Change::Bls(_) | Change::EpochStarted { .. } => {}
            Change::KeyReady(key) => {
                self.shares.remove(&TranscriptRef::KeyRandom);
                self.transcripts.remove(&TranscriptRef::KeyRandom);
                self.master = Some(key);
            }
            Change::PresignatureReady(i, presignature) => {
                self.highest_ready = Some(self.highest_ready.map_or(i, |highest| highest.max(i)));
                self.ready.insert(
                    i,
                    Ready {
                        presignature,
                        shares: None,
                    },
                );
                self.assemble(i);
            }
            Change::Signed(item) => {
                let i = item.job.presignature;
                for part in presignature_parts(i) {
                    self.transcripts.remove(&part);
                    self.shares.remove(&part);
                    self.repairing.remove(&part);
                }
                self.ready.remove(&i);
                self.jobs.remove(&i);
                self.received.remove(&i);
                self.combined.remove(&i);
                self.used.insert(i);
                if self.used.len() > 4 * self.setup.pool_size {
                    self.used.pop_first();
                }
            }
        }
    }

    /// Whether this node is among the `min_dealings` dealers expected to
    /// deal into `transcript` at once: consecutive dealers from a start
    /// derived from the transcript's id, so work spreads over all nodes.
    /// The master key's transcripts, made once, are dealt by everyone.
    fn deals_first(&self, transcript: &TranscriptRef, params: &TranscriptParams<Curve>) -> bool {
        transcript.presignature().is_none()
            || is_first_dealer(
                &transcript.id(&self.setup.key_name),
                self.me,
                params.dealers(),
                params.min_dealings(),
            )
    }

    /// Opens this node's share of a completed transcript. If a dealer's
    /// ciphertext to it does not open, names the dealer, publishes a
    /// complaint and rebuilds the share from the other receivers' openings.
    fn open(&mut self, transcript: TranscriptRef, complete: Arc<Transcript<Curve>>) {
        self.transcripts.insert(transcript, Arc::clone(&complete));
        let waiting = self
            .early_complaints
            .take_if(|_, (about, _)| *about == transcript);
        for (from, (_, bytes)) in waiting {
            self.on_complaint(from, transcript, &bytes);
        }
        match complete.open_share(self.me, &self.key) {
            Ok(share) => {
                self.shares.insert(transcript, share);
            }
            Err(TecdsaError::BadCiphertext { dealers }) => {
                tracing::warn!(?transcript, ?dealers, "bad ciphertexts: complaining");
                for dealer in dealers {
                    self.emit(Output::Invalid {
                        node: dealer,
                        kind: "ciphertext",
                    });
                }
                let complaints = complete
                    .complain(self.me, &self.key, &mut rand::thread_rng())
                    .unwrap_or_default();
                for complaint in complaints {
                    self.emit(Output::Complaint {
                        transcript,
                        bytes: complaint.to_bytes(),
                    });
                }
                self.repairing.insert(transcript, Vec::new());
            }
            Err(error) => tracing::error!(?transcript, %error, "cannot open a chain-key share"),
        }
    }

    /// A peer's complaint about a transcript this node holds: if it proves
    /// its dealer faulty, the dealer is named and this node's share of the
    /// dealing goes to the complainer.
    fn on_complaint(&mut self, from: NodeId, transcript: TranscriptRef, bytes: &[u8]) {
        let Some(complete) = self.transcripts.get(&transcript) else {
            // Not complete here yet (this node lags): answer when it is.
            self.early_complaints
                .push(from, bytes.len(), (transcript, bytes.to_vec()));
            return;
        };
        let complaint = match Complaint::<Curve>::from_bytes(bytes) {
            Ok(complaint) if complaint.complainer == from => complaint,
            _ => {
                return self.emit(Output::Invalid {
                    node: from,
                    kind: "complaint",
                })
            }
        };
        match complete.open_for(&complaint, self.me, &self.key) {
            Ok(opening) => {
                self.emit(Output::Invalid {
                    node: complaint.dealer,
                    kind: "ciphertext",
                });
                self.emit(Output::Opening {
                    to: from,
                    transcript,
                    bytes: opening.to_bytes(),
                });
            }
            Err(TecdsaError::InvalidComplaint { .. }) => self.emit(Output::Invalid {
                node: from,
                kind: "complaint",
            }),
            Err(error) => tracing::warn!(?transcript, %error, "cannot answer a complaint"),
        }
    }

    /// A peer's opening for a share this node is rebuilding.
    fn on_opening(&mut self, from: NodeId, transcript: TranscriptRef, bytes: &[u8]) {
        let (Some(openings), Some(complete)) = (
            self.repairing.get_mut(&transcript),
            self.transcripts.get(&transcript),
        ) else {
            return;
        };
        match Opening::<Curve>::from_bytes(bytes) {
            Ok(opening) if opening.share.index == from && complete.verify_opening(&opening) => {
                openings.push(opening);
            }
            _ => {
                return self.emit(Output::Invalid {
                    node: from,
                    kind: "opening",
                })
            }
        }
        if let Ok(share) = complete.open_share_with_openings(self.me, &self.key, openings) {
            self.emit(Output::Rebuilt(transcript));
            self.repairing.remove(&transcript);
            self.shares.insert(transcript, share);
            for (transcript, params, sources) in std::mem::take(&mut self.waiting_deals) {
                let ephemeral = EphemeralKey::generate(&mut rand::thread_rng());
                self.deal(transcript, &params, &sources, &ephemeral);
            }
            if let Some(i) = transcript.presignature() {
                self.assemble(i);
            }
        }
    }

    /// Presignature `i`'s shares, once it is ready and this node holds its
    /// shares of `λ`, `κ·λ` and `x·λ`.
    fn assemble(&mut self, i: u64) {
        let Some(ready) = self.ready.get_mut(&i) else {
            return;
        };
        let [kappa, lambda, kl, xl] = presignature_parts(i);
        if ready.shares.is_some() {
            return;
        }
        let (Some(lambda_share), Some(kl_share), Some(xl_share)) = (
            self.shares.get(&lambda),
            self.shares.get(&kl),
            self.shares.get(&xl),
        ) else {
            return; // a share is being rebuilt
        };
        match PresignatureShares::new(
            &ready.presignature,
            lambda_share.clone(),
            kl_share.clone(),
            xl_share.clone(),
        ) {
            Ok(shares) => ready.shares = Some(shares),
            Err(error) => tracing::error!(i, %error, "presignature shares do not fit"),
        }
        for part in [kappa, lambda, kl, xl] {
            self.shares.remove(&part);
        }
        self.try_combine(i);
    }

    fn deal(
        &mut self,
        transcript: TranscriptRef,
        params: &TranscriptParams<Curve>,
        sources: &[TranscriptRef],
        ephemeral: &EphemeralKey<Curve>,
    ) {
        let share = |source: &TranscriptRef| self.shares.get(source);
        let input = match sources {
            [] => Some(DealerInput::Fresh),
            [source] => share(source).map(DealerInput::Reshare),
            [a, b] => share(a)
                .zip(share(b))
                .map(|(a, b)| DealerInput::Product(a, b)),
            _ => None,
        };
        let Some(input) = input else {
            // A source share is being rebuilt from openings: deal then.
            self.waiting_deals
                .push((transcript, Arc::new(params.clone()), sources.to_vec()));
            return;
        };
        let mut rng = rand::thread_rng();
        match Dealing::create_with_ephemeral(params, self.me, input, ephemeral, &mut rng) {
            Ok(mut dealing) => {
                if self.corrupt.load(Ordering::Relaxed) {
                    // Alternately a dealing that fails verification, and one
                    // that passes but whose ciphertext to the next node is garbage.
                    self.corrupted += 1;
                    if self.corrupted.is_multiple_of(2) {
                        dealing.ciphertexts.ephemeral += k256::ProjectivePoint::GENERATOR;
                    } else {
                        let victim = (self.me as usize + 1) % dealing.ciphertexts.shares.len();
                        dealing.ciphertexts.shares[victim][0] += k256::Scalar::ONE;
                    }
                }
                let signed = SignedDealing::sign(
                    transcript,
                    &self.setup.key_name,
                    dealing.to_bytes(),
                    &self.signing_key,
                );
                self.emit(Output::Dealing {
                    signed,
                    dealing: Arc::new(dealing),
                    own: true,
                });
            }
            Err(error) => tracing::error!(?transcript, %error, "cannot deal"),
        }
    }

    fn sign(&mut self, job: SignJob) {
        let i = job.presignature;
        let (Some(ready), Some(master)) = (self.ready.get_mut(&i), self.master.as_ref()) else {
            // Not ready here: the chain says it is, so this node lags; keep the job.
            self.jobs.insert(i, job);
            return;
        };
        if let Some(shares) = ready.shares.take() {
            let mut request = job.request();
            if self.corrupt.load(Ordering::Relaxed) {
                request.randomness = [0xff; 32]; // a share for another session
            }
            match SignatureShare::create(shares, &ready.presignature, master, &request) {
                Ok(share) => {
                    self.emit(Output::Share {
                        presignature: i,
                        bytes: share.to_bytes(),
                    });
                    self.received.entry(i).or_default().insert(self.me, share);
                }
                Err(error) => tracing::error!(i, %error, "cannot sign"),
            }
        }
        self.jobs.insert(i, job);
    }

    /// Combines presignature `i`'s shares once there are enough; names
    /// and drops invalid ones.
    fn try_combine(&mut self, i: u64) {
        if self.combined.contains(&i) {
            return;
        }
        if self
            .ready
            .get(&i)
            .is_some_and(|ready| ready.shares.is_some())
        {
            if let Some(job) = self.jobs.get(&i).cloned() {
                self.sign(job); // paired before the presignature was ready here
            }
        }
        let (Some(job), Some(ready), Some(master)) =
            (self.jobs.get(&i), self.ready.get(&i), self.master.as_ref())
        else {
            return;
        };
        let Some(received) = self.received.get(&i) else {
            return;
        };
        if received.len() < self.setup.threshold {
            return;
        }
        // Combining tries the first `threshold` shares: those of signers
        // known bad go last.
        let (bad, mut shares): (Vec<_>, Vec<_>) = received
            .values()
            .cloned()
            .partition(|share| self.bad_signers.contains(&share.signer));
        shares.extend(bad);
        let request = job.request();
        let invalid = match combine(&ready.presignature, master, &request, &shares) {
            Ok(combined) => {
                let item = SignatureItem {
                    job: job.clone(),
                    signature: combined.signature.to_bytes(),
                };
                self.emit(Output::Signature(item));
                self.combined.insert(i);
                combined.invalid_signers
            }
            Err(TecdsaError::NotEnoughShares {
                invalid_signers, ..
            }) => invalid_signers,
            Err(error) => {
                tracing::error!(i, %error, "cannot combine signature shares");
                Vec::new()
            }
        };
        for signer in invalid {
            if let Some(received) = self.received.get_mut(&i) {
                received.remove(&signer);
            }
            self.bad_signers.insert(signer);
            self.emit(Output::Invalid {
                node: signer,
                kind: "signature share",
            });
        }
    }
}

#[cfg(test)]
mod tests;
