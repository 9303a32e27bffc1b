//! `chainkey subnet --bench --sign`: chain-key ECDSA signatures per second
//! and their latency from request to reply. A proxy canister forwards each
//! user's `sign` call to the management canister's `sign_with_ecdsa`;
//! client threads send signed synchronous (v3) calls to all nodes, time
//! each reply and check every signature with k256.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use candid::{Decode, Encode};
use ic_management_canister_types as types;
use k256::ecdsa::signature::hazmat::PrehashVerifier;

use super::calls::call_and_wait;
use chainkey_node::ic::client::Identity;

/// Forwards `sign` to `sign_with_ecdsa` and `public_key` to
/// `ecdsa_public_key` (argument in, reply or rejection out).
const PROXY: &str = r#"
(module
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reject_msg_size" (func $reject_size (result i32)))
  (import "ic0" "msg_reject_msg_copy" (func $reject_copy (param i32 i32 i32)))
  (import "ic0" "msg_reject" (func $reject (param i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_data_append" (func $call_append (param i32 i32)))
  (import "ic0" "call_perform" (func $perform (result i32)))
  (import "ic0" "call_cycles_add128" (func $add_cycles (param i64 i64)))
  (memory 1)
  (data (i32.const 0) "sign_with_ecdsa")
  (data (i32.const 16) "ecdsa_public_key")
  (table 2 funcref)
  (elem (i32.const 0) $on_reply $on_reject)
  (func $forward (param $name i32) (param $length i32)
    (call $call_new (i32.const 64) (i32.const 0) (local.get $name) (local.get $length)
      (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
    (call $arg_copy (i32.const 1024) (i32.const 0) (call $arg_size))
    (call $call_append (i32.const 1024) (call $arg_size))
    ;; The signing fee (26_153_846_153 on the IC); the rest comes back.
    (call $add_cycles (i64.const 0) (i64.const 30000000000))
    (drop (call $perform)))
  (func $on_reply (param i32)
    (call $arg_copy (i32.const 1024) (i32.const 0) (call $arg_size))
    (call $append (i32.const 1024) (call $arg_size))
    (call $reply))
  (func $on_reject (param i32)
    (call $reject_copy (i32.const 1024) (i32.const 0) (call $reject_size))
    (call $reject (i32.const 1024) (call $reject_size)))
  (func (export "canister_update sign") (call $forward (i32.const 0) (i32.const 15)))
  (func (export "canister_update public_key") (call $forward (i32.const 16) (i32.const 16))))
"#;

/// Client threads, each waiting for its answer (so at most this many in flight).
const CLIENTS: u64 = 200;

/// What the load produced.
#[derive(Debug, Default)]
pub struct SignStats {
    /// Signatures returned (and verified).
    pub returned: u64,
    /// Latencies of the signatures returned (and verified) for requests
    /// sent after the warm-up, seconds.
    pub latencies: Vec<f64>,
    /// Signatures returned (and verified) between the warm-up and the end
    /// of the load.
    pub steady: u64,
    /// Calls that failed or returned an invalid signature, with a sample reason.
    pub failed: u64,
    /// One failure's reason.
    pub failure: Option<String>,
}

fn key_id(name: &str) -> types::EcdsaKeyId {
    types::EcdsaKeyId {
        curve: types::EcdsaCurve::Secp256k1,
        name: name.into(),
    }
}

/// Installs the proxy canister; its id and the public key it signs under
/// (empty derivation path).
///
/// # Errors
/// If a management call fails.
pub fn install_proxy(
    http: SocketAddr,
    identity: &Identity,
    key_name: &str,
) -> Result<(Vec<u8>, k256::ecdsa::VerifyingKey), String> {
    let canister = super::calls::install_wat(http, identity, PROXY)?;
    let args = types::EcdsaPublicKeyArgs {
        canister_id: None,
        derivation_path: Vec::new(),
        key_id: key_id(key_name),
    };
    let reply = call_and_wait(
        http,
        identity,
        &canister,
        "public_key",
        Encode!(&args).expect("encodes"),
    )?;
    let reply = Decode!(&reply, types::EcdsaPublicKeyResult).map_err(|error| error.to_string())?;
    let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(&reply.public_key)
        .map_err(|error| error.to_string())?;
    Ok((canister, key))
}

/// Offers `rate` signing requests per second to `canister`, spread over
/// the nodes, until `until` (or `stop`); the statistics of the steady
/// state leave out what happens before `warm` (the pipeline filling up).
#[allow(clippy::too_many_arguments)]
pub fn load(
    http: &[SocketAddr],
    canister: &[u8],
    key: &k256::ecdsa::VerifyingKey,
    key_name: &str,
    rate: u64,
    warm: Instant,
    until: Instant,
    stop: &Arc<AtomicBool>,
) -> SignStats {
    let stats = Arc::new(Mutex::new(SignStats::default()));
    let handles: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (stats, stop) = (Arc::clone(&stats), Arc::clone(stop));
            let (http, canister, key, key_name) =
                (http.to_vec(), canister.to_vec(), *key, key_name.to_string());
            std::thread::spawn(move || {
                let identity =
                    Identity::new(ed25519_dalek::SigningKey::from_bytes(&rand::random()));
                let interval = Duration::from_secs_f64(CLIENTS as f64 / rate as f64);
                // Spread the clients' first calls over one interval.
                let mut next = Instant::now() + interval.mul_f64(client as f64 / CLIENTS as f64);
                let mut target = client as usize;
                loop {
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    if Instant::now() >= until || stop.load(Ordering::Relaxed) {
                        break;
                    }
                    next += interval;
                    target = (target + 1) % http.len();
                    let hash: [u8; 32] = rand::random();
                    let args = types::SignWithEcdsaArgs {
                        message_hash: hash.to_vec(),
                        derivation_path: Vec::new(),
                        key_id: key_id(&key_name),
                    };
                    let sent = Instant::now();
                    let result = call_and_wait(
                        http[target],
                        &identity,
                        &canister,
                        "sign",
                        Encode!(&args).expect("encodes"),
                    )
                    .and_then(|reply| {
                        let reply = Decode!(&reply, types::SignWithEcdsaResult)
                            .map_err(|error| error.to_string())?;
                        let signature = k256::ecdsa::Signature::from_slice(&reply.signature)
                            .map_err(|error| error.to_string())?;
                        key.verify_prehash(&hash, &signature)
                            .map_err(|_| "a signature does not verify".to_string())
                    });
                    let latency = sent.elapsed().as_secs_f64();
                    let mut stats = stats.lock().expect("stats");
                    match result {
                        Ok(()) => {
                            stats.returned += 1;
                            if sent >= warm {
                                stats.latencies.push(latency);
                            }
                            let now = Instant::now();
                            stats.steady += u64::from(warm <= now && now <= until);
                        }
                        Err(error) => {
                            stats.failed += 1;
                            stats.failure.get_or_insert(error);
                        }
                    }
                    if next < Instant::now() {
                        next = Instant::now(); // behind: do not burst to catch up
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        let _ = handle.join();
    }
    let mut stats = std::mem::take(&mut *stats.lock().expect("stats"));
    stats.latencies.sort_by(f64::total_cmp);
    stats
}
