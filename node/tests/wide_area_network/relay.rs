//! A userspace relay standing in for a wide-area network: this kernel has
//! no `netem`, so every connection between two nodes runs through here
//! and gets the path's delay, jitter and loss, or is held while a
//! partition separates its ends.
//!
//! The relay forwards TCP streams, not packets, so it reproduces what the
//! conditions do to a stream: bytes arrive in order, `delay + jitter`
//! after they were sent; a lost segment holds its bytes and everything
//! behind them for a retransmission timeout (head-of-line blocking); a
//! partition holds the bytes in flight, up to a window, until it heals —
//! as TCP retransmits them when the path comes back.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// What the network between two nodes does to their traffic.
#[derive(Clone, Copy, Debug)]
pub struct Conditions {
    /// The shortest and longest one-way delay; each pair of nodes gets
    /// its own, spread evenly between them, the same both ways.
    pub delay_ms: (u64, u64),
    /// Extra delay drawn afresh for every chunk of bytes, up to this.
    pub jitter_ms: u64,
    /// Chance that a TCP segment (1,448 bytes) is lost.
    pub loss: f64,
}

/// What a lost segment costs: Linux's shortest retransmission timeout.
const RETRANSMISSION_TIMEOUT: Duration = Duration::from_millis(200);

/// The payload of one TCP segment on an Ethernet path.
const SEGMENT_BYTES: usize = 1448;

/// Bytes read and not yet delivered on one direction of a connection
/// before the relay stops reading (as a TCP receive window would).
const WINDOW_CHUNKS: usize = 64;
const CHUNK_BYTES: usize = 64 * 1024;

/// Node `id`'s address as its peers know it (the relay's side of its
/// network namespace).
pub fn public_address(id: usize, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 77, id as u8, 1)), port)
}

/// Node `id`'s address inside its network namespace.
pub fn private_address(id: usize, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 77, id as u8, 2)), port)
}

/// The node a connection comes from, by its namespace's address.
fn node_of(address: SocketAddr) -> Option<usize> {
    match address.ip() {
        IpAddr::V4(ip) if ip.octets()[..2] == [10, 77] && ip.octets()[3] == 2 => {
            Some(usize::from(ip.octets()[2]))
        }
        _ => None,
    }
}

/// The relay between `nodes` nodes, running on the caller's tokio runtime.
pub struct Relay {
    /// Each node's side of the current partition (`None`: no partition).
    sides: watch::Sender<Option<Vec<u8>>>,
    counts: Arc<Counts>,
}

/// What the relay has carried, to show the conditions were applied.
#[derive(Debug, Default)]
pub struct Counts {
    /// Connections between nodes.
    pub connections: AtomicU64,
    /// Segments carried (1,448 bytes each, the last of a chunk shorter).
    pub segments: AtomicU64,
    /// Segments lost (each held its stream for a retransmission timeout).
    pub lost: AtomicU64,
}

impl Relay {
    /// Listens on every node's public address and forwards to its
    /// private one under `conditions`.
    pub async fn start(nodes: usize, port: u16, conditions: Conditions) -> std::io::Result<Relay> {
        let (sides, _) = watch::channel(None);
        let counts = Arc::new(Counts::default());
        for to in 0..nodes {
            let listener = TcpListener::bind(public_address(to, port)).await?;
            let sides = sides.subscribe();
            let counts = Arc::clone(&counts);
            tokio::spawn(async move {
                while let Ok((inbound, peer)) = listener.accept().await {
                    let Some(from) = node_of(peer) else { continue };
                    let delay = one_way_delay(&conditions, nodes, from, to);
                    let (sides, counts) = (sides.clone(), Arc::clone(&counts));
                    tokio::spawn(async move {
                        let Ok(outbound) = TcpStream::connect(private_address(to, port)).await
                        else {
                            return;
                        };
                        counts.connections.fetch_add(1, Ordering::Relaxed);
                        let _ = (inbound.set_nodelay(true), outbound.set_nodelay(true));
                        let (in_read, in_write) = inbound.into_split();
                        let (out_read, out_write) = outbound.into_split();
                        let path = Path {
                            ends: (from, to),
                            delay,
                            conditions,
                            sides,
                            counts,
                        };
                        tokio::spawn(path.clone().carry(in_read, out_write));
                        tokio::spawn(
                            Path {
                                ends: (to, from),
                                ..path
                            }
                            .carry(out_read, in_write),
                        );
                    });
                }
            });
        }
        Ok(Relay { sides, counts })
    }

    /// What the relay has carried so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Separates the nodes: node `i` hears only nodes on the same side,
    /// `sides[i]`.
    pub fn partition(&self, sides: &[u8]) {
        self.sides.send_replace(Some(sides.to_vec()));
    }

    /// Ends the partition; what it held is delivered.
    pub fn heal(&self) {
        self.sides.send_replace(None);
    }
}

/// The one-way delay between `a` and `b`: the pairs' delays are spread
/// evenly over the range.
pub fn one_way_delay(conditions: &Conditions, nodes: usize, a: usize, b: usize) -> Duration {
    let (low, high) = (a.min(b), a.max(b));
    let pairs = nodes * (nodes - 1) / 2;
    // Pairs numbered (0,1), (0,2), …, (1,2), …
    let pair = (0..low).map(|i| nodes - 1 - i).sum::<usize>() + (high - low - 1);
    let (shortest, longest) = conditions.delay_ms;
    let spread = (longest - shortest) * pair as u64 / (pairs.max(2) - 1) as u64;
    Duration::from_millis(shortest + spread)
}

/// One direction of one connection.
#[derive(Clone)]
struct Path {
    /// (sender, receiver).
    ends: (usize, usize),
    delay: Duration,
    conditions: Conditions,
    sides: watch::Receiver<Option<Vec<u8>>>,
    counts: Arc<Counts>,
}

impl Path {
    /// Reads from the sender, stamps each chunk with the time it arrives
    /// at the receiver, and delivers it then.
    async fn carry(
        self,
        mut from: impl AsyncReadExt + Unpin,
        to: impl AsyncWrite + Unpin + Send + 'static,
    ) {
        let (chunks, in_flight) = mpsc::channel(WINDOW_CHUNKS);
        tokio::spawn(self.clone().deliver(in_flight, to));
        let mut rng = StdRng::from_entropy();
        let mut last_arrival = Instant::now();
        loop {
            let mut chunk = vec![0; CHUNK_BYTES];
            let read = match from.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            chunk.truncate(read);
            let jitter = Duration::from_millis(rng.gen_range(0..=self.conditions.jitter_ms));
            let mut arrival = Instant::now() + self.delay + jitter;
            let segments = read.div_ceil(SEGMENT_BYTES) as u64;
            self.counts.segments.fetch_add(segments, Ordering::Relaxed);
            let lost = (0..segments)
                .filter(|_| rng.gen_bool(self.conditions.loss))
                .count() as u32;
            if lost > 0 {
                // Retransmissions of one window overlap: one timeout.
                self.counts
                    .lost
                    .fetch_add(u64::from(lost), Ordering::Relaxed);
                arrival += RETRANSMISSION_TIMEOUT;
            }
            // A stream delivers in order: jitter never reorders bytes.
            last_arrival = arrival.max(last_arrival);
            if chunks.send((last_arrival, chunk)).await.is_err() {
                return;
            }
        }
    }

    async fn deliver(
        mut self,
        mut in_flight: mpsc::Receiver<(Instant, Vec<u8>)>,
        mut to: impl AsyncWrite + Unpin,
    ) {
        while let Some((arrival, chunk)) = in_flight.recv().await {
            tokio::time::sleep_until(arrival).await;
            while self.cut() {
                if self.sides.changed().await.is_err() {
                    return;
                }
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    }

    /// Whether a partition separates the path's ends.
    fn cut(&self) -> bool {
        let (a, b) = self.ends;
        self.sides
            .borrow()
            .as_ref()
            .is_some_and(|sides| sides[a] != sides[b])
    }
}

#[test]
fn the_pairs_delays_spread_evenly_over_the_range_and_are_symmetric() {
    let conditions = Conditions {
        delay_ms: (50, 150),
        jitter_ms: 0,
        loss: 0.0,
    };
    let pairs = [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)];
    let delays: Vec<u128> = pairs
        .iter()
        .map(|&(a, b)| one_way_delay(&conditions, 4, a, b).as_millis())
        .collect();
    assert_eq!(delays, [50, 70, 90, 110, 130, 150]);
    for (a, b) in pairs {
        assert_eq!(
            one_way_delay(&conditions, 4, a, b),
            one_way_delay(&conditions, 4, b, a)
        );
    }
}
