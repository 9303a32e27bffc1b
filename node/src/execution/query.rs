//! Canister code run outside consensus, on one node, on a throwaway
//! instance whose changes are discarded: queries, and
//! `canister_inspect_message` deciding whether an ingress message may
//! enter a block.

use super::system_api::{Entry, Response};
use super::wasm::{Ran, Runtime};
use super::{principal_text, reject_code, Canister, Reject};

/// The export that inspects ingress messages.
pub const INSPECT_MESSAGE: &str = "canister_inspect_message";

/// Runs `canister_inspect_message` of `canister`, if it exports one, on a
/// throwaway instance for an ingress call of `method` by `caller`: the
/// call may enter a block only if it accepts it (`ic0.accept_message`).
#[allow(clippy::too_many_arguments)]
pub fn inspect_message(
    runtime: &Runtime,
    id: &[u8],
    canister: &Canister,
    method: &str,
    caller: &[u8],
    arg: Vec<u8>,
    time_ns: u64,
    fuel: u64,
) -> Result<(), Reject> {
    let Some(code) = &canister.code else {
        return Ok(());
    };
    let compiled = runtime
        .load(&code.module, &code.module_hash)
        .map_err(|error| Reject::new(reject_code::CANISTER_ERROR, "IC0505", error.to_string()))?;
    if !compiled.exports_function(INSPECT_MESSAGE) {
        return Ok(());
    }
    let mut instance = runtime.resume(&compiled, id, &code.heap)?;
    let mut api = canister.api(Entry::InspectMessage, id, time_ns, code.heap.stable.clone());
    api.arg = arg;
    api.caller = caller.to_vec();
    api.method_name = method.to_string();
    let (api, ran) = instance.run(INSPECT_MESSAGE, api, fuel);
    if let Ran::Trapped(trap) = ran {
        return Err(trap.into());
    }
    if !api.accepted {
        let name = principal_text(id);
        return Err(Reject::new(
            reject_code::CANISTER_REJECT,
            "IC0406",
            format!("Canister {name} rejected the message"),
        ));
    }
    Ok(())
}

/// Runs `export` (a `canister_query` method) of `canister` on a throwaway
/// instance: its changes are discarded.
#[allow(clippy::too_many_arguments)]
pub fn query(
    runtime: &Runtime,
    id: &[u8],
    canister: &Canister,
    export: &str,
    caller: &[u8],
    arg: Vec<u8>,
    time_ns: u64,
    data_certificate: Option<Vec<u8>>,
    fuel: u64,
) -> Result<Vec<u8>, Reject> {
    let Some(code) = &canister.code else {
        return Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0537",
            "the canister contains no Wasm module",
        ));
    };
    let compiled = runtime
        .load(&code.module, &code.module_hash)
        .map_err(|error| Reject::new(reject_code::CANISTER_ERROR, "IC0505", error.to_string()))?;
    let mut instance = runtime.resume(&compiled, id, &code.heap)?;
    let mut api = canister.api(Entry::Query, id, time_ns, code.heap.stable.clone());
    api.arg = arg;
    api.caller = caller.to_vec();
    api.data_certificate = data_certificate;
    let (api, ran) = instance.run(export, api, fuel);
    if let Ran::Trapped(trap) = ran {
        return Err(trap.into());
    }
    match api.response {
        Some(Response::Reply(bytes)) => Ok(bytes),
        Some(Response::Reject(message)) => {
            Err(Reject::new(reject_code::CANISTER_REJECT, "IC0406", message))
        }
        None => Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0506",
            "Canister did not reply to the call",
        )),
    }
}
