//! The IC HTTP interface that agents (`ic-agent`, `@dfinity/agent`)
//! speak: update calls (v2 asynchronous, v3/v4 synchronous with a
//! certificate), queries answered from the latest certified state and
//! signed by this node, and `read_state` for certified paths. v2, v3 and
//! v4 are served by the same handlers: for a subnet without delegation
//! their answers are the same.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use chainkey_consensus::Hash;
use chainkey_crypto::batch::Job;
use ciborium::value::Value;
use ed25519_dalek::Signer as _;

use super::{read_state, Shared};
use crate::cbor::encode_described;
use crate::certification::Certified;
use crate::execution::{self, Reject};
use crate::ic::certificate::Certificate;
use crate::ic::envelope::{Authenticated, Envelope, RequestError};
use crate::ic::principal::Principal;
use crate::ic::request_id::hash_of_map;
use crate::ic::state_tree::RequestStatus;
use crate::ingress::{
    unix_ms, Admission, Ingress, Submission, UpdateCall, MAX_EXPIRY_MS, MAX_PENDING,
    VALIDATION_SLACK_MS,
};
use crate::query_stats::Collector;

/// The largest `read_state` request accepted: [`read_state::MAX_PATHS`]
/// paths of request statuses take some 60 KiB, so a larger body is
/// refused before it is read or decoded.
pub const MAX_READ_STATE_BYTES: usize = 256 << 10;
/// The largest request accepted (an install of a few MiB of code fits).
pub const MAX_REQUEST_BYTES: usize = 3 << 20;
/// How long a synchronous call waits for its certified answer.
pub const SYNC_CALL_WAIT: Duration = Duration::from_secs(10);
/// The domain node signatures on query responses are made under.
const RESPONSE_DOMAIN: &[u8] = b"\x0Bic-response";

/// The agent-facing routes.
pub fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new()
        .route("/api/v2/canister/{id}/call", post(call_async))
        .route("/api/v3/canister/{id}/call", post(call_sync))
        .route("/api/v4/canister/{id}/call", post(call_sync));
    for version in ["v2", "v3", "v4"] {
        router = router
            .route(
                &format!("/api/{version}/canister/{{id}}/query"),
                post(query),
            )
            .route(
                &format!("/api/{version}/canister/{{id}}/read_state"),
                post(read_state).layer(DefaultBodyLimit::max(MAX_READ_STATE_BYTES)),
            )
            .route(
                &format!("/api/{version}/subnet/{{id}}/read_state"),
                post(read_state).layer(DefaultBodyLimit::max(MAX_READ_STATE_BYTES)),
            );
    }
    router
}

/// Why a request is refused before it reaches a canister.
enum Refusal {
    /// A malformed, unauthorised or untimely request: an HTTP error.
    Http(StatusCode, String),
    /// A well-formed call that cannot run (the ingress filter): the
    /// spec's non-replicated rejection, which agents show as a reject.
    Rejected(Reject),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::Http(status, message) => (status, message).into_response(),
            Refusal::Rejected(reject) => cbor_response(Value::Map(vec![
                (text("status"), text("non_replicated_rejection")),
                (text("reject_code"), Value::Integer(reject.code.into())),
                (text("reject_message"), Value::Text(reject.message)),
                (text("error_code"), Value::Text(reject.error_code)),
            ])),
        }
    }
}

fn bad(message: impl std::fmt::Display) -> Refusal {
    Refusal::Http(StatusCode::BAD_REQUEST, message.to_string())
}

impl From<crate::api::canister_runs::RunError> for Refusal {
    fn from(error: crate::api::canister_runs::RunError) -> Refusal {
        let status = match error {
            crate::api::canister_runs::RunError::Busy => StatusCode::TOO_MANY_REQUESTS,
            crate::api::canister_runs::RunError::Failed => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Refusal::Http(status, error.to_string())
    }
}

impl From<RequestError> for Refusal {
    fn from(error: RequestError) -> Refusal {
        bad(error)
    }
}

fn now_ns() -> u64 {
    unix_ms().saturating_mul(1_000_000)
}

fn cbor_response(value: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/cbor")],
        encode_described(value),
    )
        .into_response()
}

fn text(key: &str) -> Value {
    Value::Text(key.into())
}

/// Checks the type, expiry and signatures (through the node's batching
/// verify service) of request `request_id` for canister `target`; returns
/// who sent it.
async fn authenticate(
    shared: &Shared,
    envelope: &Envelope,
    request_id: [u8; 32],
    kind: &str,
    target: &[u8],
) -> Result<Authenticated, Refusal> {
    if envelope.text("request_type")? != kind {
        return Err(bad(format!("expected a {kind} request")));
    }
    let now = now_ns();
    let expiry = envelope.expiry_ns()?;
    let latest = now + (MAX_EXPIRY_MS + VALIDATION_SLACK_MS) * 1_000_000;
    if expiry < now || expiry > latest {
        return Err(bad(format!(
            "ingress_expiry {expiry} is outside the accepted window [{now}, {latest}]"
        )));
    }
    let (authenticated, checks) = envelope.claims_for(request_id, target)?;
    authenticated.check_time(now)?;
    let (signers, jobs): (Vec<_>, Vec<_>) = checks
        .into_iter()
        .map(|(signer, claim)| (signer, Job::new(claim)))
        .unzip();
    let verdicts = shared.verify_service.verify_all(jobs).await;
    for (signer, verdict) in signers.into_iter().zip(verdicts) {
        match verdict {
            Some(true) => {}
            Some(false) => return Err(RequestError::InvalidSignature(signer).into()),
            None => {
                return Err(Refusal::Http(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "signature verification is overloaded, retry later".into(),
                ))
            }
        }
    }
    Ok(authenticated)
}

/// The principal in a URL path.
fn effective_id(text: &str) -> Result<Vec<u8>, Refusal> {
    Principal::from_text(text)
        .map(|principal| principal.as_bytes().to_vec())
        .map_err(|_| bad(format!("{text} is not a principal")))
}

/// Validates an update call and queues it for a block; its request id.
async fn accept_call(shared: &Shared, id: &str, body: &Bytes) -> Result<[u8; 32], Refusal> {
    if body.len() > MAX_REQUEST_BYTES {
        return Err(Refusal::Http(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("requests are limited to {MAX_REQUEST_BYTES} bytes"),
        ));
    }
    let effective = effective_id(id)?;
    let call = UpdateCall::parse(body)?;
    if !call.canister_id.is_empty() && call.canister_id != effective {
        return Err(bad(
            "the canister id does not match the effective canister id",
        ));
    }
    let (id, canister) = (call.request_id, &call.canister_id);
    let authenticated = authenticate(shared, &call.envelope, id, "call", canister).await?;
    let sender = &authenticated.sender;
    let executed = shared.executed.borrow().clone();
    if let Some(state) = executed {
        execution::ingress_filter::check(
            &state,
            &shared.fees,
            shared.execution.update_instructions,
            &call.canister_id,
            &call.method,
            call.arg.len(),
        )
        .map_err(Refusal::Rejected)?;
        let canister = state.canisters.get(&call.canister_id).cloned();
        // Only a module known to lack the export skips the pool.
        let inspects = canister
            .as_ref()
            .and_then(|c| c.code.as_ref())
            .is_some_and(|code| {
                shared
                    .runtime
                    .cached(&code.module_hash)
                    .is_none_or(|compiled| {
                        compiled.exports_function(execution::query::INSPECT_MESSAGE)
                    })
            });
        if let (true, Some(canister)) = (inspects, canister) {
            // The canister's own filter, off the event loop.
            let runtime = Arc::clone(&shared.runtime);
            let fuel = shared.execution.inspect_message_instructions;
            let (id, method, sender, arg) = (
                call.canister_id.clone(),
                call.method.clone(),
                sender.as_bytes().to_vec(),
                call.arg.clone(),
            );
            let time_ns = state.time_ns;
            shared
                .canister_runs
                .run(move || {
                    execution::inspect_message(
                        &runtime, &id, &canister, &method, &sender, arg, time_ns, fuel,
                    )
                })
                .await
                .map_err(Refusal::from)?
                .map_err(Refusal::Rejected)?;
        }
    }
    let request_id = call.request_id;
    let expiry_ms = call.expiry_ns / 1_000_000;
    if shared.pending.load(Ordering::Relaxed) >= MAX_PENDING {
        return Err(Refusal::Http(
            StatusCode::TOO_MANY_REQUESTS,
            "the ingress queue is full, retry later".into(),
        ));
    }
    let new = (shared.seen.lock().expect("seen ids")).insert(Hash(request_id), expiry_ms);
    if !new {
        return Ok(request_id); // submitted before: answered as the first time
    }
    shared.pending.fetch_add(1, Ordering::Relaxed);
    let submission = Submission {
        admission: Admission {
            id: Hash(request_id),
            expiry_ms,
            delegation_expiry_ns: authenticated.delegation_expiry.map(|(_, at)| at),
        },
        message: Ingress::Call {
            expiry_ms,
            envelope: body.to_vec(),
        },
        call: call.into_execution().ok(),
    };
    if shared.ingress.send(vec![submission]).await.is_err() {
        return Err(Refusal::Http(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is stopping".into(),
        ));
    }
    Ok(request_id)
}

async fn call_async(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, Refusal> {
    accept_call(&shared, &id, &body).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn call_sync(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let request_id = accept_call(&shared, &id, &body).await?;
    let mut certified = shared.certified.subscribe();
    let answered = tokio::time::timeout(SYNC_CALL_WAIT, async {
        loop {
            if let Some(state) = certified.borrow_and_update().clone() {
                let status = state.state.request_status.get(&request_id);
                if status.is_some_and(|s| !matches!(s.status, RequestStatus::Processing)) {
                    return Some(state);
                }
            }
            if certified.changed().await.is_err() {
                return None;
            }
        }
    })
    .await;
    let Ok(Some(state)) = answered else {
        return Ok(StatusCode::ACCEPTED.into_response());
    };
    let paths: [&[&[u8]]; 2] = [&[b"request_status", &request_id], &[b"time"]];
    Ok(cbor_response(Value::Map(vec![
        (text("status"), text("replied")),
        (
            text("certificate"),
            Value::Bytes(certificate(&state, &paths)),
        ),
    ])))
}

/// The CBOR certificate of `state` revealing `paths`.
fn certificate(state: &Certified, paths: &[&[&[u8]]]) -> Vec<u8> {
    Certificate {
        tree: state.tree.witness(paths),
        signature: state.signature.clone(),
        delegation: None,
    }
    .to_cbor()
}

fn latest(shared: &Shared) -> Result<Arc<Certified>, Refusal> {
    shared.certified.borrow().clone().ok_or_else(|| {
        Refusal::Http(
            StatusCode::SERVICE_UNAVAILABLE,
            "no certified state yet: the subnet is starting".into(),
        )
    })
}

async fn read_state(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let effective = effective_id(&id)?;
    let envelope = Envelope::from_cbor(&body)?;
    let request_id = envelope.request_id()?;
    let refused = |error: read_state::PathError| Refusal::Http(error.status(), error.to_string());
    let paths = envelope.paths()?;
    let asked_status = read_state::check_paths(&paths, &effective).map_err(refused)?;
    let sender = authenticate(&shared, &envelope, request_id, "read_state", &effective)
        .await?
        .sender;
    let state = latest(&shared)?;
    let statuses = &state.state.request_status;
    read_state::check_sender(asked_status, sender.as_bytes(), statuses).map_err(refused)?;
    read_state::check_metadata(&paths, sender.as_bytes(), &state.state).map_err(refused)?;
    let mut wanted: Vec<Vec<&[u8]>> = paths
        .iter()
        .map(|path| path.iter().map(Vec::as_slice).collect())
        .collect();
    wanted.push(vec![b"time"]);
    let wanted: Vec<&[&[u8]]> = wanted.iter().map(Vec::as_slice).collect();
    Ok(cbor_response(Value::Map(vec![(
        text("certificate"),
        Value::Bytes(certificate(&state, &wanted)),
    )])))
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Refusal> {
    let effective = effective_id(&id)?;
    let envelope = Envelope::from_cbor(&body)?;
    let request_id = envelope.request_id()?;
    let canister_id = envelope.blob("canister_id")?.to_vec();
    let arg = envelope.blob("arg")?.to_vec();
    // A query to the management canister is routed by the canister its
    // argument names.
    let routed_by = match canister_id.is_empty() {
        true => execution::management::target(&arg).unwrap_or_default(),
        false => canister_id.clone(),
    };
    if routed_by != effective {
        return Err(bad(
            "the canister id does not match the effective canister id",
        ));
    }
    let sender = authenticate(&shared, &envelope, request_id, "query", &effective)
        .await?
        .sender;
    let method = envelope.text("method_name")?.to_string();
    let state = latest(&shared)?;
    let runtime = Arc::clone(&shared.runtime);
    let query_instructions = shared.execution.query_instructions;
    let cycles = shared.cycles.clone();
    let query_stats = Arc::clone(&shared.query_stats);
    let result = shared
        .canister_runs
        .run(move || {
            let call = QueryCall {
                canister_id: &canister_id,
                method: &method,
                caller: sender.as_bytes(),
                arg,
            };
            run_query(
                &runtime,
                query_instructions,
                &cycles,
                &query_stats,
                &state,
                call,
            )
        })
        .await?;
    Ok(cbor_response(signed_query_response(
        &shared, request_id, result,
    )))
}

/// A query: to which canister, which method, from whom, with what.
struct QueryCall<'a> {
    canister_id: &'a [u8],
    method: &'a str,
    caller: &'a [u8],
    arg: Vec<u8>,
}

/// Answers a query: the management canister's, the system canisters'
/// (natively), or a canister's code run on a throwaway instance — which
/// counts toward the canister's query statistics.
fn run_query(
    runtime: &execution::wasm::Runtime,
    query_instructions: u64,
    cycles: &crate::config::CyclesConfig,
    query_stats: &Mutex<Collector>,
    state: &Certified,
    call: QueryCall,
) -> Result<Vec<u8>, Reject> {
    let QueryCall {
        canister_id,
        method,
        caller,
        arg,
    } = call;
    if canister_id.is_empty() {
        return execution::management::query(&state.state, caller, method, &arg);
    }
    if canister_id == execution::governance_canister::id() {
        return execution::governance_canister::query(&state.state.governance, method, &arg);
    }
    if execution::system_canisters::is_system_canister(canister_id) {
        let subnet = &state.tree.subnet_id;
        let replicated = &state.state;
        return execution::system_canisters::query(
            replicated,
            cycles,
            subnet,
            canister_id,
            method,
            &arg,
        );
    }
    let name = Principal::from_bytes(canister_id)
        .map(|p| p.to_text())
        .unwrap_or_default();
    let Some(canister) = state.state.canisters.get(canister_id) else {
        return Err(Reject::new(
            execution::reject_code::DESTINATION_INVALID,
            "IC0301",
            format!("Canister {name} not found"),
        ));
    };
    let export = format!("canister_query {method}");
    let exported = canister.code.as_ref().is_some_and(|code| {
        runtime
            .load(&code.module, &code.module_hash)
            .is_ok_and(|compiled| compiled.exports_function(&export))
    });
    if canister.code.is_some() && !exported {
        return Err(Reject::new(
            execution::reject_code::CANISTER_ERROR,
            "IC0536",
            format!("Canister {name} has no query method '{method}'"),
        ));
    }
    let paths: [&[&[u8]]; 2] = [&[b"canister", canister_id, b"certified_data"], &[b"time"]];
    let data_certificate = certificate(state, &paths);
    let run = execution::query(
        runtime,
        canister_id,
        canister,
        &export,
        caller,
        arg,
        state.state.time_ns,
        Some(data_certificate),
        query_instructions,
    );
    query_stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record(canister_id, &run.counts);
    run.result
}

/// A query's answer with this node's signature over it.
fn signed_query_response(
    shared: &Shared,
    request_id: [u8; 32],
    result: Result<Vec<u8>, Reject>,
) -> Value {
    let timestamp = now_ns();
    let mut fields = match result {
        Ok(reply) => vec![
            (text("status"), text("replied")),
            (
                text("reply"),
                Value::Map(vec![(text("arg"), Value::Bytes(reply))]),
            ),
        ],
        Err(reject) => vec![
            (text("status"), text("rejected")),
            (text("reject_code"), Value::Integer(reject.code.into())),
            (text("reject_message"), Value::Text(reject.message)),
            (text("error_code"), Value::Text(reject.error_code)),
        ],
    };
    let mut signed = fields.clone();
    signed.push((text("timestamp"), Value::Integer(timestamp.into())));
    signed.push((text("request_id"), Value::Bytes(request_id.to_vec())));
    let hash = hash_of_map(&signed).expect("a response of blobs, texts and numbers hashes");
    let signature = shared
        .query_key
        .sign(&[RESPONSE_DOMAIN, hash.as_slice()].concat());
    fields.push((
        text("signatures"),
        Value::Array(vec![Value::Map(vec![
            (text("timestamp"), Value::Integer(timestamp.into())),
            (
                text("signature"),
                Value::Bytes(signature.to_bytes().to_vec()),
            ),
            (
                text("identity"),
                Value::Bytes(shared.node_principal.clone()),
            ),
        ])]),
    ));
    Value::Map(fields)
}
