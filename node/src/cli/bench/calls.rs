//! `chainkey subnet --bench --calls`: end-to-end update calls per second
//! through the IC HTTP interface. A counter canister is created and
//! installed through the management canister; client threads then send
//! `ic-agent`-style signed calls (Ed25519, one identity per thread, signed
//! before the load window) to all nodes, and the subnet's executed calls
//! are counted.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candid::{Decode, Encode, Principal as CandidPrincipal};
use ic_management_canister_types as types;

use chainkey_node::ic::client::{reply, Identity};
use chainkey_node::ic::principal::Principal;
use chainkey_node::ingress::unix_ms;

/// The canister the benchmark calls: `inc` counts and replies `()`.
const COUNTER: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (memory 1)
  (data (i32.const 0) "DIDL\00\00")
  (global $count (mut i64) (i64.const 0))
  (func (export "canister_update inc")
    (global.set $count (i64.add (global.get $count) (i64.const 1)))
    (call $append (i32.const 0) (i32.const 6))
    (call $reply)))
"#;

/// Client threads sending calls (each waits for its answer, about 2–10 ms).
const CLIENTS: u64 = 64;
/// How long a call stays valid (ic-agent's default is 3 minutes).
const EXPIRY_NS: u64 = 180_000_000_000;

fn expiry() -> u64 {
    unix_ms() * 1_000_000 + EXPIRY_NS
}

/// A synchronous (v3) call; its reply.
pub(crate) fn call_and_wait(
    http: SocketAddr,
    identity: &Identity,
    canister: &[u8],
    method: &str,
    arg: Vec<u8>,
) -> Result<Vec<u8>, String> {
    let effective = Principal::from_bytes(canister)
        .map_err(|error| error.to_string())?
        .to_text();
    let call = identity.call(canister, method, arg, expiry(), rand::random());
    let mut response = ureq::post(format!("http://{http}/api/v3/canister/{effective}/call"))
        .header("content-type", "application/cbor")
        .send(&call.envelope[..])
        .map_err(|error| format!("{method}: {error}"))?;
    let body = response
        .body_mut()
        .read_to_vec()
        .map_err(|error| error.to_string())?;
    reply(&body, &call.request_id).map_err(|error| format!("{method}: {error}"))
}

/// Creates and installs the counter canister; its id.
///
/// # Errors
/// If a management call fails.
pub fn install_counter(http: SocketAddr, identity: &Identity) -> Result<Vec<u8>, String> {
    install_wat(http, identity, COUNTER)
}

/// Creates a canister and installs the WebAssembly text `wat` in it; its id.
///
/// # Errors
/// If a management call fails.
pub(crate) fn install_wat(
    http: SocketAddr,
    identity: &Identity,
    wat: &str,
) -> Result<Vec<u8>, String> {
    // Enough cycles that a benchmark never runs short (the signing
    // benchmark pays some 26·10⁹ per signature).
    let create = types::ProvisionalCreateCanisterWithCyclesArgs {
        amount: Some(candid::Nat::from(10u128.pow(18))),
        settings: None,
        specified_id: None,
        sender_canister_version: None,
    };
    let created = call_and_wait(
        http,
        identity,
        &[],
        "provisional_create_canister_with_cycles",
        Encode!(&create).expect("encodes"),
    )?;
    let canister = Decode!(&created, types::CanisterIdRecord)
        .map_err(|error| error.to_string())?
        .canister_id;
    let install = types::InstallCodeArgs {
        mode: types::CanisterInstallMode::Install,
        canister_id: canister,
        wasm_module: wat::parse_str(wat).map_err(|error| error.to_string())?,
        arg: Vec::new(),
        sender_canister_version: None,
    };
    call_and_wait(
        http,
        identity,
        &[],
        "install_code",
        Encode!(&install).expect("encodes"),
    )?;
    Ok(canister.as_slice().to_vec())
}

/// The calls one load window sends, signed before it starts: client
/// threads send them one after another, each thread its own identity.
///
/// On the IC a load generator runs on machines of its own; here it shares
/// the nodes' two cores, and a profile found the clients in at least 13%
/// of the samples while they signed during the window (`BENCHMARKS.md`).
/// Sending, and the TCP and HTTP work of the clients, still happen in the
/// window.
pub struct SignedCalls {
    /// Each client's envelopes, in sending order.
    per_client: Vec<Vec<Vec<u8>>>,
    /// The canister's textual id (the calls' effective canister id).
    effective: String,
}

/// The longest load window whose presigned calls stay valid: the IC
/// accepts expiries at most 5 minutes ahead, and signing takes a while.
pub const MAX_WINDOW_SECONDS: u64 = 240;

/// Signs `rate × seconds` calls of `inc` on `canister`, spread over the
/// client threads, valid until 50 s after the window.
pub fn sign_calls(canister: &[u8], rate: u64, seconds: u64) -> SignedCalls {
    let per_client = (rate * seconds).div_ceil(CLIENTS) as usize;
    let valid_for_ns = (seconds.min(MAX_WINDOW_SECONDS) + 50) * 1_000_000_000;
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let canister = canister.to_vec();
            std::thread::spawn(move || {
                let identity =
                    Identity::new(ed25519_dalek::SigningKey::from_bytes(&rand::random()));
                (1..=per_client as u64)
                    .map(|nonce| {
                        identity
                            .call(
                                &canister,
                                "inc",
                                b"DIDL\0\0".to_vec(),
                                unix_ms() * 1_000_000 + valid_for_ns,
                                nonce,
                            )
                            .envelope
                    })
                    .collect()
            })
        })
        .collect();
    SignedCalls {
        per_client: threads
            .into_iter()
            .map(|thread| thread.join().expect("signing does not panic"))
            .collect(),
        effective: CandidPrincipal::from_slice(canister).to_text(),
    }
}

/// Offers `calls` at `rate` per second, spread over the nodes, until
/// `until` (or `stop`, or the calls run out); returns how many were
/// accepted (202).
pub fn load(
    http: &[SocketAddr],
    calls: SignedCalls,
    rate: u64,
    until: Instant,
    stop: &Arc<AtomicBool>,
) -> u64 {
    let accepted = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = calls
        .per_client
        .into_iter()
        .enumerate()
        .map(|(client, envelopes)| {
            let (accepted, stop) = (Arc::clone(&accepted), Arc::clone(stop));
            let urls: Vec<String> = http
                .iter()
                .map(|node| format!("http://{node}/api/v2/canister/{}/call", calls.effective))
                .collect();
            std::thread::spawn(move || {
                // One agent per client keeps its connections to the nodes
                // alive between calls, as ic-agent does.
                let agent = ureq::Agent::new_with_defaults();
                let interval = Duration::from_secs_f64(CLIENTS as f64 / rate as f64);
                let mut next = Instant::now();
                for (sent, envelope) in envelopes.iter().enumerate() {
                    if Instant::now() >= until || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let url = &urls[(client + sent) % urls.len()];
                    let response = agent
                        .post(url)
                        .header("content-type", "application/cbor")
                        .send(&envelope[..]);
                    if response.is_ok_and(|response| response.status() == 202) {
                        accepted.fetch_add(1, Ordering::Relaxed);
                    }
                    next += interval;
                    match next.checked_duration_since(Instant::now()) {
                        Some(wait) => std::thread::sleep(wait),
                        // Behind: do not burst to catch up.
                        None => next = Instant::now(),
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    accepted.load(Ordering::Relaxed)
}
