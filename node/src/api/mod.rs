//! The node's HTTP endpoint: ingress submission, `/status`, `/metrics`, and
//! (with `test_hooks`) the `/debug/*` switches tests use.
//!
//! `POST /api/v1/ingress` takes a CBOR array of [`SignedIngress`]; the
//! signatures are checked in one batch, duplicates and expired messages are
//! refused, and the answer names each refused message and why.

pub mod canister_runs;
pub mod ic;
pub mod read_state;
pub mod server;
mod shared;
mod status;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::ingress::{
    check, unix_ms, Admission, IngressError, SignedIngress, Submission, MAX_PENDING,
};
pub use server::ConnectionRefusal;
pub use shared::Shared;
pub use status::Status;

use ciborium::value::Value;

/// The most messages one submission may carry.
pub const MAX_SUBMISSION: usize = 10_000;

/// The answer to a submission.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubmitResponse {
    /// Messages queued for a block.
    pub accepted: usize,
    /// Refused messages: their position in the submission and why.
    pub rejected: Vec<(usize, String)>,
}

/// Serves until the process ends, under the node's [`HttpLimits`](crate::config::HttpLimits).
/// Threads serving HTTP clients.
const HTTP_THREADS: usize = 2;
/// How much lower than consensus the HTTP threads run (a nice value).
const HTTP_NICENESS: libc::c_int = 10;

/// Serves the HTTP API on `listener` from a runtime of its own, whose
/// threads (queries and witness building included) run at a lower OS
/// priority than the node's consensus and execution: a flood of hostile
/// clients takes the node's spare CPU, not its block rate.
///
/// # Errors
/// If the runtime or its thread cannot be made.
pub fn spawn(listener: std::net::TcpListener, shared: Arc<Shared>) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(HTTP_THREADS)
        .thread_name("http")
        .on_thread_start(|| {
            // SAFETY: gettid and setpriority only read their arguments; on
            // Linux a thread id names that one thread, whose nice value is
            // set. Failing (not permitted) leaves the priority as it was.
            unsafe {
                let thread = libc::gettid() as libc::id_t;
                libc::setpriority(libc::PRIO_PROCESS, thread, HTTP_NICENESS);
            }
        })
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("http-runtime".into())
        .spawn(move || {
            runtime.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => serve(listener, shared).await,
                    Err(error) => tracing::error!(%error, "the HTTP listener failed"),
                }
            })
        })?;
    Ok(())
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let router = Router::new()
        .route("/api/v1/ingress", post(submit))
        .route("/status", get(status))
        .route("/api/v2/status", get(ic_status))
        .route("/metrics", get(metrics))
        .route("/debug/isolate/{on}", post(isolate))
        .route("/debug/byzantine/{on}", post(byzantine))
        .route("/debug/corrupt_chain_key/{on}", post(corrupt_chain_key))
        .merge(crate::api::ic::routes())
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::api::ic::MAX_REQUEST_BYTES,
        ))
        .with_state(Arc::clone(&shared));
    let refused = |refusal: ConnectionRefusal| {
        let metric = shared
            .metrics
            .http_refused
            .with_label_values(&[refusal.label()]);
        metric.inc();
    };
    server::serve(listener, router, shared.http_limits, refused).await;
}

async fn submit(State(shared): State<Arc<Shared>>, body: Bytes) -> impl IntoResponse {
    let Ok(messages) = ciborium::from_reader::<Vec<SignedIngress>, _>(body.as_ref()) else {
        return (
            StatusCode::BAD_REQUEST,
            "expected a CBOR array of signed messages",
        )
            .into_response();
    };
    if messages.len() > MAX_SUBMISSION {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too many messages in one submission",
        )
            .into_response();
    }
    if shared.pending.load(Ordering::Relaxed) + messages.len() > MAX_PENDING {
        return (StatusCode::SERVICE_UNAVAILABLE, "ingress queue full").into_response();
    }
    let started = std::time::Instant::now();
    let verdicts = check(&shared.verify_service, &messages, unix_ms()).await;
    let metrics = &shared.metrics;
    // Per submission (the service cuts its own batches across submissions).
    metrics
        .verification_seconds
        .with_label_values(&["ingress submission"])
        .observe(started.elapsed().as_secs_f64());
    metrics
        .batch_size
        .with_label_values(&["ingress submission"])
        .observe(messages.len() as f64);
    let mut accepted = Vec::new();
    let mut rejected = Vec::new();
    {
        let mut seen = shared.seen.lock().expect("seen ids");
        for (position, (message, verdict)) in messages.into_iter().zip(verdicts).enumerate() {
            let verdict = verdict.and_then(|id| {
                if seen.insert(id, message.expiry_ms) {
                    Ok(id)
                } else {
                    Err(IngressError::Duplicate)
                }
            });
            match verdict {
                Ok(id) => {
                    let admission = Admission {
                        id,
                        expiry_ms: message.expiry_ms,
                        delegation_expiry_ns: None,
                    };
                    accepted.push(Submission {
                        admission,
                        message: crate::ingress::Ingress::Signed(message),
                        call: None,
                    });
                }
                Err(error) => rejected.push((position, error)),
            }
        }
    }
    let count = accepted.len();
    if count > 0 {
        if let Err(full) = shared.ingress.try_send(accepted) {
            // Not queued after all: forget them, so a retry is no duplicate.
            let mut seen = shared.seen.lock().expect("seen ids");
            for submission in full.into_inner() {
                seen.remove(&submission.admission.id);
            }
            shared
                .metrics
                .ingress
                .with_label_values(&[IngressError::QueueFull.label()])
                .inc_by(count as u64);
            return (StatusCode::SERVICE_UNAVAILABLE, "ingress queue full").into_response();
        }
    }
    metrics
        .ingress
        .with_label_values(&["accepted"])
        .inc_by(count as u64);
    for (_, error) in &rejected {
        metrics.ingress.with_label_values(&[error.label()]).inc();
    }
    Json(SubmitResponse {
        accepted: count,
        rejected: rejected
            .into_iter()
            .map(|(position, error)| (position, error.to_string()))
            .collect(),
    })
    .into_response()
}

/// The IC's `/api/v2/status` body: a self-described CBOR map with the
/// subnet's root key (DER), the implementation and its health.
pub fn ic_status_body(root_key: &[u8], healthy: bool) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.to_string());
    let health = if healthy { "healthy" } else { "starting" };
    let map = Value::Map(vec![
        (text("root_key"), Value::Bytes(root_key.to_vec())),
        (
            text("impl_version"),
            text(concat!("chainkey-", env!("CARGO_PKG_VERSION"))),
        ),
        (text("replica_health_status"), text(health)),
    ]);
    crate::cbor::encode_described(map)
}

async fn ic_status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let healthy = shared.status.lock().expect("status").finalized_height > 0;
    (
        [(axum::http::header::CONTENT_TYPE, "application/cbor")],
        ic_status_body(&shared.root_key, healthy),
    )
}

async fn status(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    Json(shared.status.lock().expect("status").clone())
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    shared.metrics.render()
}

fn switch(shared: &Shared, on: &str, set: impl FnOnce(bool)) -> StatusCode {
    if !shared.test_hooks {
        return StatusCode::NOT_FOUND;
    }
    match on {
        "on" => set(true),
        "off" => set(false),
        _ => return StatusCode::BAD_REQUEST,
    }
    StatusCode::OK
}

async fn isolate(State(shared): State<Arc<Shared>>, Path(on): Path<String>) -> StatusCode {
    switch(&shared, &on, |isolated| {
        shared.transport.set_isolated(isolated)
    })
}

async fn byzantine(State(shared): State<Arc<Shared>>, Path(on): Path<String>) -> StatusCode {
    switch(&shared, &on, |byzantine| {
        shared.byzantine.store(byzantine, Ordering::Relaxed)
    })
}

async fn corrupt_chain_key(
    State(shared): State<Arc<Shared>>,
    Path(on): Path<String>,
) -> StatusCode {
    switch(&shared, &on, |corrupt| {
        shared.corrupt_chain_key.store(corrupt, Ordering::Relaxed)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ic_status_is_self_described_cbor_with_the_root_key() {
        let body = ic_status_body(b"DER key", true);
        assert_eq!(&body[..3], &[0xd9, 0xd9, 0xf7], "self-describe tag");
        let Value::Tag(55799, map) = ciborium::from_reader(body.as_slice()).unwrap() else {
            panic!("tagged");
        };
        let Value::Map(entries) = *map else {
            panic!("a map");
        };
        let field = |name: &str| {
            entries
                .iter()
                .find(|(key, _)| key == &Value::Text(name.into()))
                .map(|(_, value)| value.clone())
        };
        assert_eq!(field("root_key"), Some(Value::Bytes(b"DER key".to_vec())));
        assert_eq!(
            field("replica_health_status"),
            Some(Value::Text("healthy".into()))
        );
    }
}
