//! Authenticated, encrypted connections between the nodes of a subnet.
//!
//! Every node has a self-signed TLS certificate listed in the subnet's
//! configuration; connections are TLS 1.3 with both sides authenticated by
//! exactly those certificates (pinned, no certificate authority), so a
//! peer's identity is the certificate it proved it holds the key of.
//!
//! A node dials every peer and sends on that connection only; what it
//! receives arrives on the connections peers dialed. Each peer has a bounded
//! outgoing queue (when full, new frames are dropped and counted) and a
//! dialer that reconnects with exponential backoff. Each incoming
//! connection is rate-limited; frames over the limit and frames that do not
//! decode are dropped and counted against the peer, never fatal.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chainkey_consensus::NodeId;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::ingress::unix_ms;
use crate::net::rate::TokenBucket;
use crate::net::tls::{PinnedClients, PinnedServer};
use crate::net::wire::{read_frame, write_frame, Message};

/// Frames waiting for one peer; beyond this, new frames are dropped.
pub const QUEUE_CAPACITY: usize = 8192;
/// Bytes waiting for one peer; beyond this, new frames are dropped.
pub const QUEUE_BYTES: u64 = 64 << 20;
/// Frames per second accepted from one peer, over all its connections
/// (with a burst of twice as many); more are dropped and counted.
pub const RATE_LIMIT: f64 = 4000.0;
/// Bytes per second read from one peer, over all its connections (with a
/// burst of twice as many); beyond it, reading from the peer waits.
pub const BYTE_RATE_LIMIT: f64 = (32 << 20) as f64;
/// Connections one peer may hold open to this node at once.
pub const MAX_CONNECTIONS_PER_PEER: usize = 4;
/// TLS handshakes in progress at once (before a connection is known to
/// be a peer's); more connections are closed at once.
pub const MAX_HANDSHAKES: usize = 64;
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A message and the peer it came from.
#[derive(Debug)]
pub struct Received {
    /// The authenticated sender.
    pub from: NodeId,
    /// What it sent.
    pub message: Message,
    /// The [`digest`](crate::net::wire::digest) of its encoding.
    pub digest: chainkey_consensus::Hash,
}

/// Counters for one peer.
#[derive(Debug, Default)]
pub struct PeerStats {
    /// Whether our connection to it is up.
    pub connected: AtomicBool,
    /// Frames received from it.
    pub received: AtomicU64,
    /// Frames to it dropped because its queue was full.
    pub queue_full: AtomicU64,
    /// Frames from it dropped by the rate limit.
    pub rate_limited: AtomicU64,
    /// Times reading from it waited for its byte budget.
    pub throttled: AtomicU64,
    /// Frames and connections from it refused while it was cut off.
    pub cut_off: AtomicU64,
    /// Until when (Unix ms) its connections are refused (see
    /// [`Transport::cut_off`]).
    cut_off_until: AtomicU64,
    /// Its connections to this node open now.
    connections: std::sync::atomic::AtomicUsize,
    /// Frames from it that did not decode.
    pub malformed: AtomicU64,
    /// Frames waiting in its queue.
    pub queued: AtomicU64,
    /// Bytes waiting in its queue.
    pub queued_bytes: AtomicU64,
    /// Raised when the peer is removed or its id is taken by another
    /// node: its dialer and its connections of an older generation end.
    generation: AtomicU64,
    /// Its frame and byte rate limits, shared by all its connections.
    limit: std::sync::Mutex<Option<Budget>>,
}

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// TLS configuration (a bad key or certificate).
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// The listening socket.
    #[error("listen on {address}: {source}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// What went wrong.
        source: std::io::Error,
    },
    /// More than [`MAX_PEERS`] nodes, or a new peer neither taking the
    /// next id nor one of a removed peer.
    #[error("peers are numbered 0 to {MAX_PEERS} - 1 in order")]
    TooManyPeers,
}

/// The node's side of the subnet's connections.
pub struct Transport {
    me: NodeId,
    /// Each peer's outgoing queue, by id (none: this node).
    queues: std::sync::Mutex<Vec<Option<Queue>>>,
    /// Per-peer counters for [`MAX_PEERS`] ids; the first `peers` are in use.
    stats: Arc<Vec<PeerStats>>,
    peers: std::sync::atomic::AtomicUsize,
    /// Every node's certificate, by id (shared with the accepting side).
    known: Arc<std::sync::RwLock<Vec<Vec<u8>>>>,
    isolated: Arc<AtomicBool>,
    dialer: Dialer,
}

/// Frames waiting to be sent to one peer.
type Queue = mpsc::Sender<Arc<Vec<u8>>>;

/// Most nodes a subnet may grow to (the IC's largest subnets have 40).
pub const MAX_PEERS: usize = 64;

/// What dialing a peer needs: this node's certificate and key.
struct Dialer {
    provider: Arc<rustls::crypto::CryptoProvider>,
    own_certificate: CertificateDer<'static>,
    key: zeroize::Zeroizing<Vec<u8>>,
}

/// Who this node is and who its peers are.
pub struct Identity {
    /// This node's id.
    pub me: NodeId,
    /// Every node's certificate (DER), by id.
    pub certificates: Vec<Vec<u8>>,
    /// Every node's peer address, by id.
    pub addresses: Vec<String>,
    /// This node's TLS key (PKCS#8 DER).
    pub key: zeroize::Zeroizing<Vec<u8>>,
}

impl Transport {
    /// Listens on `listen`, dials every peer, and delivers what peers send to `inbound`.
    ///
    /// # Errors
    /// [`TransportError`] for an unusable key or address, or more than [`MAX_PEERS`] nodes.
    pub async fn start(
        identity: Identity,
        listen: SocketAddr,
        inbound: mpsc::Sender<Received>,
    ) -> Result<Transport, TransportError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let algorithms = provider.signature_verification_algorithms;
        let own_certificate =
            CertificateDer::from(identity.certificates[identity.me as usize].clone());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.to_vec()));
        let known = Arc::new(std::sync::RwLock::new(identity.certificates.clone()));
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(Arc::new(PinnedClients {
                known: Arc::clone(&known),
                algorithms,
            }))
            .with_single_cert(vec![own_certificate.clone()], key)?;
        let listener =
            TcpListener::bind(listen)
                .await
                .map_err(|source| TransportError::Listen {
                    address: listen,
                    source,
                })?;
        if identity.certificates.len() > MAX_PEERS {
            return Err(TransportError::TooManyPeers);
        }
        let stats: Arc<Vec<PeerStats>> =
            Arc::new((0..MAX_PEERS).map(|_| PeerStats::default()).collect());
        let isolated = Arc::new(AtomicBool::new(false));
        tokio::spawn(accept_loop(
            listener,
            TlsAcceptor::from(Arc::new(server)),
            Arc::clone(&known),
            inbound,
            Arc::clone(&stats),
            Arc::clone(&isolated),
        ));
        let transport = Transport {
            me: identity.me,
            queues: std::sync::Mutex::new(Vec::new()),
            stats,
            peers: std::sync::atomic::AtomicUsize::new(0),
            known,
            isolated,
            dialer: Dialer {
                provider,
                own_certificate,
                key: identity.key,
            },
        };
        for (peer, address) in identity.addresses.iter().enumerate() {
            transport.dial(peer as NodeId, address, identity.certificates[peer].clone())?;
        }
        Ok(transport)
    }

    /// Connects to a node that joined the subnet as `id`: the next id, or
    /// one whose node was removed or whose certificate changed.
    ///
    /// # Errors
    /// [`TransportError`] for an unusable certificate, another id, or more
    /// than [`MAX_PEERS`] nodes.
    pub fn add_peer(
        &self,
        id: NodeId,
        address: &str,
        certificate: Vec<u8>,
    ) -> Result<(), TransportError> {
        if id as usize > self.peers.load(Ordering::Relaxed) || id == self.me {
            return Err(TransportError::TooManyPeers);
        }
        self.dial(id, address, certificate.clone())?;
        let mut known = self.known.write().expect("known certificates");
        match known.get_mut(id as usize) {
            Some(slot) => *slot = certificate,
            None => known.push(certificate),
        }
        Ok(())
    }

    /// Disconnects from a node that left the subnet: its certificate is no
    /// longer accepted, its queue and dialer stop, and its connections
    /// close at their next frame.
    pub fn remove_peer(&self, id: NodeId) {
        if id == self.me || id as usize >= self.peers.load(Ordering::Relaxed) {
            return;
        }
        if let Some(certificate) = self
            .known
            .write()
            .expect("known certificates")
            .get_mut(id as usize)
        {
            certificate.clear();
        }
        if let Some(queue) = self.queues.lock().expect("queues").get_mut(id as usize) {
            *queue = None;
        }
        self.stats[id as usize].next_generation();
    }

    /// Refuses `peer`'s connections for `duration` (it kept sending
    /// invalid artifacts); this node still sends to it.
    pub fn cut_off(&self, peer: NodeId, duration: Duration) {
        if let Some(stats) = self.stats.get(peer as usize) {
            let until = unix_ms().saturating_add(duration.as_millis() as u64);
            stats.cut_off_until.fetch_max(until, Ordering::Relaxed);
        }
    }

    /// The certificate pinned for each id (empty: a removed peer).
    pub fn certificates(&self) -> Vec<Vec<u8>> {
        self.known.read().expect("known certificates").clone()
    }

    /// Starts the queue and dialer of peer `peer` (nothing for this node).
    fn dial(
        &self,
        peer: NodeId,
        address: &str,
        certificate: Vec<u8>,
    ) -> Result<(), TransportError> {
        if peer as usize >= MAX_PEERS {
            return Err(TransportError::TooManyPeers);
        }
        if peer == self.me {
            self.queues.lock().expect("queues").push(None);
            self.peers.store(peer as usize + 1, Ordering::Relaxed);
            return Ok(());
        }
        let dialer = &self.dialer;
        let algorithms = dialer.provider.signature_verification_algorithms;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(dialer.key.to_vec()));
        let client = rustls::ClientConfig::builder_with_provider(dialer.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(PinnedServer {
                expected: certificate,
                algorithms,
            }))
            .with_client_auth_cert(vec![dialer.own_certificate.clone()], key)?;
        // Only once nothing can fail: queue indices stay peer ids. A peer
        // taking over an id ends the generation of the one before.
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let mut queues = self.queues.lock().expect("queues");
        match queues.get_mut(peer as usize) {
            Some(queue) => *queue = Some(sender),
            None => queues.push(Some(sender)),
        }
        let peers = queues.len();
        drop(queues);
        self.peers.store(peers, Ordering::Relaxed);
        let generation = self.stats[peer as usize].next_generation();
        tokio::spawn(dial_loop(
            peer,
            address.to_string(),
            TlsConnector::from(Arc::new(client)),
            receiver,
            Arc::clone(&self.stats),
            (Arc::clone(&self.isolated), generation),
        ));
        Ok(())
    }

    /// Queues a frame for `to` (dropped and counted if its queue is full).
    pub fn send(&self, to: NodeId, frame: Arc<Vec<u8>>) {
        let queues = self.queues.lock().expect("queues");
        if let Some(Some(queue)) = queues.get(to as usize) {
            self.enqueue(to, queue, frame);
        }
    }

    /// Queues a frame for every peer (one lock for all of them).
    pub fn broadcast(&self, frame: Arc<Vec<u8>>) {
        let queues = self.queues.lock().expect("queues");
        for (peer, queue) in queues.iter().enumerate() {
            if let Some(queue) = queue {
                self.enqueue(peer as NodeId, queue, Arc::clone(&frame));
            }
        }
    }

    fn enqueue(&self, to: NodeId, queue: &Queue, frame: Arc<Vec<u8>>) {
        let stats = &self.stats[to as usize];
        let size = frame.len() as u64;
        if stats.queued_bytes.load(Ordering::Relaxed) + size <= QUEUE_BYTES
            && queue.try_send(frame).is_ok()
        {
            stats.queued.fetch_add(1, Ordering::Relaxed);
            stats.queued_bytes.fetch_add(size, Ordering::Relaxed);
        } else {
            stats.queue_full.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Per-peer counters, by id.
    pub fn stats(&self) -> &[PeerStats] {
        &self.stats[..self.peers.load(Ordering::Relaxed)]
    }

    /// Test hook: while isolated, nothing is sent or accepted (a network partition).
    pub fn set_isolated(&self, isolated: bool) {
        self.isolated.store(isolated, Ordering::Relaxed);
    }
}

async fn dial_loop(
    peer: NodeId,
    address: String,
    connector: TlsConnector,
    mut queue: mpsc::Receiver<Arc<Vec<u8>>>,
    stats: Arc<Vec<PeerStats>>,
    (isolated, generation): (Arc<AtomicBool>, u64),
) {
    let stats = &stats[peer as usize];
    let name = ServerName::try_from(format!("chainkey-node-{peer}")).expect("a valid DNS name");
    let mut backoff = Duration::from_millis(50);
    // Until the peer is removed or replaced (its queue then ends too).
    while stats.generation.load(Ordering::Relaxed) == generation {
        if !isolated.load(Ordering::Relaxed) {
            if let Ok(Ok(tcp)) =
                tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&address)).await
            {
                let _ = tcp.set_nodelay(true);
                if let Ok(mut tls) = connector.connect(name.clone(), tcp).await {
                    stats.connected.store(true, Ordering::Relaxed);
                    backoff = Duration::from_millis(50);
                    loop {
                        let Some(frame) = queue.recv().await else {
                            return; // shutting down
                        };
                        if stats.generation.load(Ordering::Relaxed) != generation {
                            return; // the peer is gone: its frames with it
                        }
                        stats.dequeued(frame.len());
                        if isolated.load(Ordering::Relaxed) {
                            break;
                        }
                        if write_frame(&mut tls, &frame).await.is_err() {
                            break;
                        }
                    }
                    stats.connected.store(false, Ordering::Relaxed);
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    certificates: Arc<std::sync::RwLock<Vec<Vec<u8>>>>,
    inbound: mpsc::Sender<Received>,
    stats: Arc<Vec<PeerStats>>,
    isolated: Arc<AtomicBool>,
) {
    let handshakes = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        // Anyone can connect: handshakes are bounded before anything else.
        let Ok(handshake) = Arc::clone(&handshakes).try_acquire_owned() else {
            continue; // dropping the socket closes it
        };
        let acceptor = acceptor.clone();
        let certificates = Arc::clone(&certificates);
        let inbound = inbound.clone();
        let stats = Arc::clone(&stats);
        let isolated = Arc::clone(&isolated);
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(Ok(mut tls)) =
                tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await
            else {
                return;
            };
            drop(handshake);
            // The verifier accepted only known certificates: find whose.
            let Some(from) = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|chain| chain.first())
                .and_then(|presented| {
                    certificates
                        .read()
                        .expect("known certificates")
                        .iter()
                        .position(|known| known.as_slice() == presented.as_ref())
                })
            else {
                return;
            };
            let stats = &stats[from];
            let Some(_open) = stats.open_connection() else {
                return; // the peer holds enough connections already
            };
            if stats.is_cut_off() {
                return;
            }
            let generation = stats.generation.load(Ordering::Relaxed);
            while let Ok(body) = read_frame(&mut tls).await {
                stats.received.fetch_add(1, Ordering::Relaxed);
                // A removed, replaced or cut-off peer's connection ends here.
                if isolated.load(Ordering::Relaxed)
                    || stats.generation.load(Ordering::Relaxed) != generation
                    || stats.is_cut_off()
                {
                    return;
                }
                let (admitted, wait) = stats.admit(body.len());
                if !wait.is_zero() {
                    stats.throttled.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(wait).await;
                }
                if !admitted {
                    stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                match Message::from_body(&body) {
                    Ok(message) => {
                        let received = Received {
                            from: from as NodeId,
                            message,
                            digest: crate::net::wire::digest(&body),
                        };
                        if inbound.send(received).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => {
                        stats.malformed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
}

/// One of a peer's open connections, counted until it closes.
struct OpenConnection<'a>(&'a PeerStats);

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PeerStats {
    /// Whether its connections are refused now (counted when they are).
    fn is_cut_off(&self) -> bool {
        let cut_off = self.cut_off_until.load(Ordering::Relaxed) > unix_ms();
        if cut_off {
            self.cut_off.fetch_add(1, Ordering::Relaxed);
        }
        cut_off
    }

    /// A frame of `bytes` left the queue.
    fn dequeued(&self, bytes: usize) {
        let less = |by: u64| move |count: u64| Some(count.saturating_sub(by));
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, less(1));
        let _ = self.queued_bytes.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            less(bytes as u64),
        );
    }

    /// A new generation of the peer: an empty queue, not connected yet.
    fn next_generation(&self) -> u64 {
        self.queued.store(0, Ordering::Relaxed);
        self.queued_bytes.store(0, Ordering::Relaxed);
        self.connected.store(false, Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Counts a new connection from the peer, unless it holds
    /// [`MAX_CONNECTIONS_PER_PEER`] already.
    fn open_connection(&self) -> Option<OpenConnection<'_>> {
        let open = self.connections.fetch_add(1, Ordering::Relaxed);
        let connection = OpenConnection(self);
        (open < MAX_CONNECTIONS_PER_PEER).then_some(connection)
    }

    /// Takes a frame of `bytes` from the peer's budget: whether the frame
    /// rate admits it, and how long to wait before reading on so the
    /// peer stays within its byte rate.
    fn admit(&self, bytes: usize) -> (bool, Duration) {
        let mut limit = self.limit.lock().expect("rate limit");
        let budget = limit.get_or_insert_with(|| Budget {
            frames: TokenBucket::new(RATE_LIMIT),
            bytes: TokenBucket::new(BYTE_RATE_LIMIT),
        });
        let now = Instant::now();
        let admitted = budget.frames.try_take(1.0, now);
        (admitted, budget.bytes.take(bytes as f64, now))
    }
}

/// A peer's frame and byte rate limits.
#[derive(Debug)]
struct Budget {
    frames: TokenBucket,
    bytes: TokenBucket,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainkey_consensus::Height;

    /// A TLS identity for node `id`: its certificate and key.
    fn tls(id: NodeId) -> (Vec<u8>, zeroize::Zeroizing<Vec<u8>>) {
        let tls = rcgen::generate_simple_self_signed(vec![format!("chainkey-node-{id}")]).unwrap();
        let key = zeroize::Zeroizing::new(tls.key_pair.serialize_der());
        (tls.cert.der().to_vec(), key)
    }

    fn free_address() -> SocketAddr {
        let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        socket.local_addr().unwrap()
    }

    async fn start(
        me: NodeId,
        identities: &[(Vec<u8>, zeroize::Zeroizing<Vec<u8>>)],
        addresses: &[SocketAddr],
    ) -> (Transport, mpsc::Receiver<Received>) {
        let (inbound, received) = mpsc::channel(64);
        let identity = Identity {
            me,
            certificates: identities.iter().map(|(cert, _)| cert.clone()).collect(),
            addresses: addresses.iter().map(ToString::to_string).collect(),
            key: identities[me as usize].1.clone(),
        };
        let transport = Transport::start(identity, addresses[me as usize], inbound)
            .await
            .unwrap();
        (transport, received)
    }

    fn frame(from: Height) -> Arc<Vec<u8>> {
        Arc::new(Message::BlocksRequest { from, to: from }.to_frame())
    }

    /// Sends `frame(n)` from `sender` to `to` until `inbox` gets one from
    /// `from`, or gives up after two seconds.
    async fn reaches(
        sender: &Transport,
        to: NodeId,
        inbox: &mut mpsc::Receiver<Received>,
        from: NodeId,
    ) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            sender.send(to, frame(1));
            if let Ok(Some(received)) =
                tokio::time::timeout(Duration::from_millis(100), inbox.recv()).await
            {
                if received.from == from {
                    return true;
                }
            }
        }
        false
    }

    #[tokio::test]
    async fn a_cut_off_peer_is_refused_until_its_time_is_up() {
        let identities: Vec<_> = (0..2).map(tls).collect();
        let addresses = [free_address(), free_address()];
        let (zero, mut zero_inbox) = start(0, &identities, &addresses).await;
        let (one, _) = start(1, &identities, &addresses).await;
        assert!(reaches(&one, 0, &mut zero_inbox, 1).await, "connected");
        zero.cut_off(1, Duration::from_secs(3));
        while zero_inbox.try_recv().is_ok() {}
        assert!(!reaches(&one, 0, &mut zero_inbox, 1).await, "refused");
        assert!(zero.stats()[1].cut_off.load(Ordering::Relaxed) > 0);
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            reaches(&one, 0, &mut zero_inbox, 1).await,
            "back after the cut-off"
        );
    }

    #[tokio::test]
    async fn a_removed_peer_is_cut_off_and_its_id_can_come_back_as_another_node() {
        let identities: Vec<_> = (0..2).map(tls).collect();
        let addresses = [free_address(), free_address()];
        let (zero, mut zero_inbox) = start(0, &identities, &addresses).await;
        let (one, _) = start(1, &identities, &addresses).await;
        assert!(reaches(&one, 0, &mut zero_inbox, 1).await, "connected");

        // Node 1 leaves: node 0 no longer accepts it, nor dials it.
        zero.remove_peer(1);
        assert!(zero.certificates()[1].is_empty());
        while zero_inbox.try_recv().is_ok() {}
        assert!(!reaches(&one, 0, &mut zero_inbox, 1).await, "cut off");
        drop(one);

        // Id 1 comes back as another node, at another address.
        let newcomer = tls(1);
        let new_address = free_address();
        let mut identities = identities;
        identities[1] = newcomer;
        let (again, mut again_inbox) = start(1, &identities, &[addresses[0], new_address]).await;
        zero.add_peer(1, &new_address.to_string(), identities[1].0.clone())
            .unwrap();
        assert!(
            reaches(&again, 0, &mut zero_inbox, 1).await,
            "the newcomer is accepted"
        );
        assert!(
            reaches(&zero, 1, &mut again_inbox, 0).await,
            "node 0 dials the newcomer with its new certificate"
        );
    }
}
