//! The HTTP server under the router: connections bounded in number,
//! overall and per client address, and in time — a client has
//! [`HttpLimits::header_timeout_secs`] to send a request's headers (an
//! idle keep-alive connection too) and [`HttpLimits::body_timeout_secs`]
//! for its body — so slow or numerous clients cannot hold the node's
//! sockets, tasks and memory.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use crate::config::HttpLimits;

/// Why a connection is closed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefusal {
    /// [`HttpLimits::max_connections`] are open.
    #[error("too many open connections")]
    Full,
    /// [`HttpLimits::max_per_address`] are open from the client's address.
    #[error("too many open connections from one address")]
    AddressFull,
}

impl ConnectionRefusal {
    /// A metric label.
    pub fn label(self) -> &'static str {
        match self {
            ConnectionRefusal::Full => "connections_full",
            ConnectionRefusal::AddressFull => "address_full",
        }
    }
}

/// The open connections, counted per address: which to admit.
#[derive(Debug, Default)]
pub struct Connections {
    open: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Connections {
    /// Admits a connection from `address` under `limits` (and counts it
    /// until [`Connections::close`]).
    ///
    /// # Errors
    /// [`ConnectionRefusal`] when a limit is reached.
    pub fn open(&mut self, address: IpAddr, limits: &HttpLimits) -> Result<(), ConnectionRefusal> {
        if self.open >= limits.max_connections {
            return Err(ConnectionRefusal::Full);
        }
        let from_address = self.by_address.entry(address).or_default();
        if *from_address >= limits.max_per_address {
            return Err(ConnectionRefusal::AddressFull);
        }
        *from_address += 1;
        self.open += 1;
        Ok(())
    }

    /// A connection from `address` closed.
    pub fn close(&mut self, address: IpAddr) {
        if let Some(count) = self.by_address.get_mut(&address) {
            *count -= 1;
            self.open -= 1;
            if *count == 0 {
                self.by_address.remove(&address);
            }
        }
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.open
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.open == 0
    }
}

/// Counts a connection as closed when its task ends, however it ends.
struct Admitted {
    connections: Arc<Mutex<Connections>>,
    address: IpAddr,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections
            .lock()
            .expect("connection counts")
            .close(self.address);
    }
}

/// Serves `router` on `listener` under `limits`; `refused` is called with
/// each connection closed at once. Runs until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    refused: impl Fn(ConnectionRefusal),
) {
    let body_timeout = Duration::from_secs(limits.body_timeout_secs);
    let header_timeout = Duration::from_secs(limits.header_timeout_secs);
    let router = router.layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
        body_timeout,
    ));
    let connections = Arc::new(Mutex::new(Connections::default()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: let some close.
                tracing::warn!(%error, "cannot accept an HTTP connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let address = peer.ip();
        let admitted = connections
            .lock()
            .expect("connection counts")
            .open(address, &limits);
        if let Err(refusal) = admitted {
            refused(refusal);
            continue; // dropping the stream closes it
        }
        let admitted = Admitted {
            connections: Arc::clone(&connections),
            address,
        };
        let service = TowerToHyperService::new(router.clone());
        tokio::spawn(async move {
            let _admitted = admitted;
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "HTTP connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_are_admitted_up_to_the_limits_and_counted_until_closed() {
        let limits = HttpLimits {
            max_connections: 3,
            max_per_address: 2,
            ..HttpLimits::default()
        };
        let (a, b, c): (IpAddr, IpAddr, IpAddr) = (
            "127.0.0.1".parse().unwrap(),
            "127.0.0.2".parse().unwrap(),
            "127.0.0.3".parse().unwrap(),
        );
        let mut open = Connections::default();
        assert_eq!(open.open(a, &limits), Ok(()));
        assert_eq!(open.open(a, &limits), Ok(()));
        assert_eq!(open.open(a, &limits), Err(ConnectionRefusal::AddressFull));
        assert_eq!(open.open(b, &limits), Ok(()));
        assert_eq!(open.open(c, &limits), Err(ConnectionRefusal::Full));
        assert_eq!(open.len(), 3);
        open.close(a);
        assert_eq!(open.open(c, &limits), Ok(()));
        assert_eq!(open.open(a, &limits), Err(ConnectionRefusal::Full));
        for address in [a, b, c] {
            open.close(address);
        }
        assert!(open.is_empty());
    }
}
