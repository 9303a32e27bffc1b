//! Canister code run outside consensus, on one node, on a throwaway
//! instance whose changes are discarded: queries, and
//! `canister_inspect_message` deciding whether an ingress message may
//! enter a block.

use serde::{Deserialize, Serialize};

use super::pages::Pages;
use super::system_api::{Entry, Response, MAX_QUERY_REPLY_BYTES};
use super::wasm::{Instance, Ran, Runtime};
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

/// What one node counted of the queries it ran for one canister: the
/// canister's query statistics. Queries run outside blocks, so nodes
/// report their counts in blocks and execution adds them up
/// (`crate::query_stats`). Sums saturate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryCounts {
    /// Queries run.
    pub calls: u64,
    /// Instructions they used.
    pub instructions: u64,
    /// Bytes of their arguments.
    pub request_bytes: u64,
    /// Bytes of their replies (or reject messages, each counted up to a
    /// query reply's limit).
    pub response_bytes: u64,
}

impl QueryCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &QueryCounts) {
        self.calls = self.calls.saturating_add(other.calls);
        self.instructions = self.instructions.saturating_add(other.instructions);
        self.request_bytes = self.request_bytes.saturating_add(other.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(other.response_bytes);
    }
}

/// A query's answer, and what it counts toward its canister's statistics.
#[derive(Debug)]
pub struct QueryRun {
    /// The reply, or why there is none.
    pub result: Result<Vec<u8>, Reject>,
    /// This one query's counts.
    pub counts: QueryCounts,
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
) -> QueryRun {
    let request_bytes = arg.len() as u64;
    let ran = instantiate(runtime, id, canister).map(|(mut instance, stable)| {
        let mut api = canister.api(Entry::Query, id, time_ns, stable);
        api.arg = arg;
        api.caller = caller.to_vec();
        api.data_certificate = data_certificate;
        instance.run(export, api, fuel)
    });
    let (result, instructions) = match ran {
        Ok((api, ran)) => (answer(api.response, ran), api.instructions),
        Err(reject) => (Err(reject), 0),
    };
    // Every report this node makes must pass the others' bounds, which
    // allow a query reply's bytes per call: a reject counts as one at most.
    let response_bytes = match &result {
        Ok(reply) => reply.len(),
        Err(reject) => reject.message.len().min(MAX_QUERY_REPLY_BYTES),
    } as u64;
    let counts = QueryCounts {
        calls: 1,
        instructions,
        request_bytes,
        response_bytes,
    };
    QueryRun { result, counts }
}

/// A fresh instance of `canister`'s code, and its stable memory.
fn instantiate(
    runtime: &Runtime,
    id: &[u8],
    canister: &Canister,
) -> Result<(Instance, Pages), Reject> {
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
    let instance = runtime.resume(&compiled, id, &code.heap)?;
    Ok((instance, code.heap.stable.clone()))
}

/// A query's answer: its reply, or why it has none.
fn answer(response: Option<Response>, ran: Ran) -> Result<Vec<u8>, Reject> {
    if let Ran::Trapped(trap) = ran {
        return Err(trap.into());
    }
    match response {
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
