//! The `ic0` functions themselves: each checks its arguments against the
//! message's [`Api`] state and the canister's memory, charges the
//! instructions it costs, and does its work. [`Linkers`] registers them.

use wasmtime::{Caller, Linker};

use super::*;

/// Bytes per page of stable memory.
const PAGE: u64 = 64 * 1024;

/// A pointer or size: `u32` in 32-bit memories, `u64` in 64-bit ones.
trait Ptr: wasmtime::WasmTy + Copy + 'static {
    fn to_u64(self) -> u64;
    fn from_u64(value: u64) -> Self;
}

impl Ptr for u32 {
    fn to_u64(self) -> u64 {
        u64::from(self)
    }
    fn from_u64(value: u64) -> Self {
        value as u32
    }
}

impl Ptr for u64 {
    fn to_u64(self) -> u64 {
        self
    }
    fn from_u64(value: u64) -> Self {
        value
    }
}

type Host<'a> = Caller<'a, Api>;
type Outcome<T = ()> = wasmtime::Result<T>;

/// A trap raised by the System API on a contract violation.
fn violation<T>(what: impl std::fmt::Display) -> Outcome<T> {
    Err(wasmtime::format_err!("{what}"))
}

fn require(condition: bool, what: &str) -> Outcome {
    if condition {
        Ok(())
    } else {
        violation(format!("{what} is not allowed here"))
    }
}

/// Takes `instructions` from the message's fuel, or traps as out of
/// instructions. Every byte the System API copies costs one instruction,
/// so a message cannot move gigabytes for the price of one call.
fn charge(caller: &mut Host<'_>, instructions: u64) -> Outcome {
    let left = caller.get_fuel()?;
    match left.checked_sub(instructions) {
        Some(rest) => caller.set_fuel(rest),
        None => {
            caller.set_fuel(0)?;
            Err(wasmtime::Trap::OutOfFuel.into())
        }
    }
}

/// Fails unless a buffer of `len` bytes may grow by `more` within `limit`.
fn within(len: usize, more: u64, limit: usize, what: &str) -> Outcome {
    if (len as u64).saturating_add(more) > limit as u64 {
        return violation(format!(
            "{what}: the payload would exceed its limit of {limit} bytes"
        ));
    }
    Ok(())
}

/// The range of `size` bytes at `at` in a memory of `len` bytes, if it is in it.
fn memory_range(at: u64, size: u64, len: usize) -> Option<std::ops::Range<usize>> {
    let at = usize::try_from(at).ok()?;
    let end = at.checked_add(usize::try_from(size).ok()?)?;
    (end <= len).then_some(at..end)
}

/// `size` bytes of the canister's memory at `at`, one instruction per byte.
fn read(caller: &mut Host<'_>, at: u64, size: u64) -> Outcome<Vec<u8>> {
    charge(caller, size)?;
    let memory = caller.data().memory.expect("memory set at instantiation");
    let data = memory.data(caller);
    match memory_range(at, size, data.len()) {
        Some(range) => Ok(data[range].to_vec()),
        None => violation("memory access out of bounds"),
    }
}

/// Writes `bytes` into the canister's memory at `at`, one instruction per byte.
fn write(caller: &mut Host<'_>, at: u64, bytes: &[u8]) -> Outcome {
    charge(caller, bytes.len() as u64)?;
    let memory = caller.data().memory.expect("memory set at instantiation");
    let data = memory.data_mut(caller);
    match memory_range(at, bytes.len() as u64, data.len()) {
        Some(range) => {
            data[range].copy_from_slice(bytes);
            Ok(())
        }
        None => violation("memory access out of bounds"),
    }
}

/// `source[offset..offset + size]` into memory at `dst` (the `*_copy` functions).
fn copy_out(caller: &mut Host<'_>, source: &[u8], dst: u64, offset: u64, size: u64) -> Outcome {
    let end = offset
        .checked_add(size)
        .filter(|&end| end <= source.len() as u64);
    let Some(end) = end else {
        return violation("copy beyond the end of the source");
    };
    write(caller, dst, &source[offset as usize..end as usize])
}

fn text(caller: &mut Host<'_>, at: u64, size: u64) -> Outcome<String> {
    Ok(String::from_utf8_lossy(&read(caller, at, size)?).into_owned())
}

fn write_u128(caller: &mut Host<'_>, dst: u64, value: u128) -> Outcome {
    write(caller, dst, &value.to_le_bytes())
}

fn respond(caller: &mut Host<'_>, response: Response) -> Outcome {
    let api = caller.data_mut();
    require(api.entry.can_respond(), "replying")?;
    if api.responded {
        return violation("the call was already answered");
    }
    api.responded = true;
    api.response = Some(response);
    Ok(())
}

// The functions, each generic over the pointer width.

fn msg_arg_data_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    require(caller.data().entry.has_argument(), "msg_arg_data_size")?;
    Ok(P::from_u64(caller.data().arg.len() as u64))
}

fn msg_arg_data_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    require(caller.data().entry.has_argument(), "msg_arg_data_copy")?;
    let arg = std::mem::take(&mut caller.data_mut().arg);
    let result = copy_out(
        &mut caller,
        &arg,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    );
    caller.data_mut().arg = arg;
    result
}

fn msg_caller_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    Ok(P::from_u64(caller.data().caller.len() as u64))
}

fn msg_caller_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    let principal = caller.data().caller.clone();
    copy_out(
        &mut caller,
        &principal,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

fn msg_method_name_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    require(
        caller.data().entry == Entry::InspectMessage,
        "msg_method_name_size",
    )?;
    Ok(P::from_u64(caller.data().method_name.len() as u64))
}

fn msg_method_name_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    require(
        caller.data().entry == Entry::InspectMessage,
        "msg_method_name_copy",
    )?;
    let name = caller.data().method_name.clone().into_bytes();
    copy_out(
        &mut caller,
        &name,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

fn accept_message(mut caller: Host<'_>) -> Outcome {
    let api = caller.data_mut();
    require(api.entry == Entry::InspectMessage, "accept_message")?;
    if api.accepted {
        return violation("accept_message called twice");
    }
    api.accepted = true;
    Ok(())
}

fn msg_reject_code(caller: Host<'_>) -> Outcome<u32> {
    Ok(caller.data().reject.0)
}

fn msg_reject_msg_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    require(
        caller.data().entry == Entry::RejectCallback,
        "msg_reject_msg_size",
    )?;
    Ok(P::from_u64(caller.data().reject.1.len() as u64))
}

fn msg_reject_msg_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    require(
        caller.data().entry == Entry::RejectCallback,
        "msg_reject_msg_copy",
    )?;
    let message = caller.data().reject.1.clone().into_bytes();
    copy_out(
        &mut caller,
        &message,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

/// The most bytes a reply (or a reject message) of this message may hold.
fn reply_limit(caller: &Host<'_>) -> usize {
    if caller.data().entry.is_replicated() {
        MAX_REPLY_BYTES
    } else {
        MAX_QUERY_REPLY_BYTES
    }
}

fn msg_reply_data_append<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    let api = caller.data();
    require(api.entry.can_respond(), "msg_reply_data_append")?;
    within(
        api.reply_buffer.len(),
        size.to_u64(),
        reply_limit(&caller),
        "msg_reply_data_append",
    )?;
    let bytes = read(&mut caller, src.to_u64(), size.to_u64())?;
    caller.data_mut().reply_buffer.extend_from_slice(&bytes);
    Ok(())
}

fn msg_reply(mut caller: Host<'_>) -> Outcome {
    let reply = std::mem::take(&mut caller.data_mut().reply_buffer);
    respond(&mut caller, Response::Reply(reply))
}

/// A reject message is bounded like a reply and must be UTF-8, as on the IC.
fn msg_reject<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    within(0, size.to_u64(), reply_limit(&caller), "msg_reject")?;
    let bytes = read(&mut caller, src.to_u64(), size.to_u64())?;
    let Ok(message) = String::from_utf8(bytes) else {
        return violation("msg_reject: the message is not UTF-8");
    };
    respond(&mut caller, Response::Reject(message))
}

fn msg_cycles_available128<P: Ptr>(mut caller: Host<'_>, dst: P) -> Outcome {
    let available = caller.data().available;
    write_u128(&mut caller, dst.to_u64(), available)
}

fn msg_cycles_refunded128<P: Ptr>(mut caller: Host<'_>, dst: P) -> Outcome {
    let refunded = caller.data().refunded;
    write_u128(&mut caller, dst.to_u64(), refunded)
}

fn msg_cycles_accept128<P: Ptr>(mut caller: Host<'_>, high: u64, low: u64, dst: P) -> Outcome {
    let wanted = (u128::from(high) << 64) | u128::from(low);
    let api = caller.data_mut();
    let accepted = wanted.min(api.available);
    api.available -= accepted;
    api.balance = api.balance.saturating_add(accepted);
    write_u128(&mut caller, dst.to_u64(), accepted)
}

fn canister_cycle_balance128<P: Ptr>(mut caller: Host<'_>, dst: P) -> Outcome {
    let balance = caller.data().balance;
    write_u128(&mut caller, dst.to_u64(), balance)
}

/// The balance above the freezing threshold: what the canister may spend.
fn liquid(api: &Api) -> u128 {
    api.balance.saturating_sub(api.freezing_threshold)
}

fn canister_liquid_cycle_balance128<P: Ptr>(mut caller: Host<'_>, dst: P) -> Outcome {
    let liquid = liquid(caller.data());
    write_u128(&mut caller, dst.to_u64(), liquid)
}

fn cycles_burn128<P: Ptr>(mut caller: Host<'_>, high: u64, low: u64, dst: P) -> Outcome {
    require(caller.data().entry.is_replicated(), "cycles_burn128")?;
    let wanted = (u128::from(high) << 64) | u128::from(low);
    let api = caller.data_mut();
    let burned = wanted.min(liquid(api));
    api.balance -= burned;
    write_u128(&mut caller, dst.to_u64(), burned)
}

fn canister_self_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    Ok(P::from_u64(caller.data().canister_id.len() as u64))
}

fn canister_self_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    let id = caller.data().canister_id.clone();
    copy_out(
        &mut caller,
        &id,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

fn canister_status(caller: Host<'_>) -> Outcome<u32> {
    Ok(caller.data().status)
}

#[allow(clippy::too_many_arguments)]
fn call_new<P: Ptr>(
    mut caller: Host<'_>,
    callee_src: P,
    callee_size: P,
    name_src: P,
    name_size: P,
    reply_fun: P,
    reply_env: P,
    reject_fun: P,
    reject_env: P,
) -> Outcome {
    require(caller.data().entry.can_call(), "call_new")?;
    if callee_size.to_u64() > 29 {
        return violation("call_new: the callee is not a principal");
    }
    let callee = read(&mut caller, callee_src.to_u64(), callee_size.to_u64())?;
    let method = text(&mut caller, name_src.to_u64(), name_size.to_u64())?;
    caller.data_mut().pending_call = Some(OutgoingCall {
        callee,
        method,
        arg: Vec::new(),
        cycles: 0,
        on_reply: (reply_fun.to_u64(), reply_env.to_u64()),
        on_reject: (reject_fun.to_u64(), reject_env.to_u64()),
        on_cleanup: None,
    });
    Ok(())
}

fn pending<'a>(caller: &'a mut Host<'_>) -> Outcome<&'a mut OutgoingCall> {
    match caller.data_mut().pending_call.as_mut() {
        Some(call) => Ok(call),
        None => violation("no call is being built (call_new first)"),
    }
}

fn call_data_append<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    let built = pending(&mut caller)?.arg.len();
    within(built, size.to_u64(), MAX_CALL_ARG_BYTES, "call_data_append")?;
    let bytes = read(&mut caller, src.to_u64(), size.to_u64())?;
    pending(&mut caller)?.arg.extend_from_slice(&bytes);
    Ok(())
}

fn call_on_cleanup<P: Ptr>(mut caller: Host<'_>, fun: P, env: P) -> Outcome {
    let call = pending(&mut caller)?;
    if call.on_cleanup.is_some() {
        return violation("call_on_cleanup called twice");
    }
    call.on_cleanup = Some((fun.to_u64(), env.to_u64()));
    Ok(())
}

fn call_cycles_add128(mut caller: Host<'_>, high: u64, low: u64) -> Outcome {
    let amount = (u128::from(high) << 64) | u128::from(low);
    pending(&mut caller)?;
    let api = caller.data_mut();
    if amount > liquid(api) {
        return violation("call_cycles_add128: not enough cycles above the freezing threshold");
    }
    api.balance -= amount;
    let call = api.pending_call.as_mut().expect("checked above");
    call.cycles += amount;
    Ok(())
}

fn call_with_best_effort_response(mut caller: Host<'_>, _timeout_seconds: u32) -> Outcome {
    // Every response here is delivered: a deadline changes nothing.
    pending(&mut caller).map(|_| ())
}

/// What sending a call of `bytes` bytes (method name and argument) costs.
fn call_cost(api: &Api, bytes: u64) -> u128 {
    let (per_call, per_byte) = api.call_fees;
    per_call.saturating_add(u128::from(bytes).saturating_mul(per_byte))
}

fn cost_call<P: Ptr>(mut caller: Host<'_>, method_size: u64, payload_size: u64, dst: P) -> Outcome {
    let cost = call_cost(caller.data(), method_size.saturating_add(payload_size));
    write_u128(&mut caller, dst.to_u64(), cost)
}

/// Sends the call being built: its fee is taken from the balance; if the
/// canister cannot pay it above its freezing threshold, the call is not
/// sent, the cycles attached come back, and a non-zero code (the reject
/// code `SYS_TRANSIENT`) says so.
fn call_perform(mut caller: Host<'_>) -> Outcome<u32> {
    let call = pending(&mut caller)?.clone();
    let api = caller.data_mut();
    api.pending_call = None;
    let fee = call_cost(api, (call.method.len() + call.arg.len()) as u64);
    if fee > liquid(api) {
        api.balance += call.cycles;
        return Ok(crate::execution::reject_code::SYS_TRANSIENT);
    }
    api.balance -= fee;
    api.calls.push(call);
    Ok(0)
}

fn stable64_size(caller: Host<'_>) -> Outcome<u64> {
    Ok(caller.data().stable.len() as u64 / PAGE)
}

fn stable64_grow(mut caller: Host<'_>, new_pages: u64) -> Outcome<u64> {
    let api = caller.data_mut();
    let old = api.stable.len() as u64 / PAGE;
    match old
        .checked_add(new_pages)
        .and_then(|pages| pages.checked_mul(PAGE))
        .filter(|&bytes| bytes <= api.caps.stable)
    {
        Some(bytes) => {
            api.stable.grow_to(bytes as usize);
            Ok(old)
        }
        None => Ok(u64::MAX),
    }
}

/// The start of `size` bytes at `offset` of stable memory, if they are in it.
fn stable_range(stable: &Pages, offset: u64, size: u64) -> Outcome<usize> {
    match offset.checked_add(size) {
        Some(end) if end <= stable.len() as u64 => Ok(offset as usize),
        _ => violation("stable memory access out of bounds"),
    }
}

/// Checks `size` bytes at `offset` of stable memory and at `at` of the
/// wasm memory, charges one instruction per byte, and hands both to `copy`
/// (stable memory, the start in it, the wasm memory's bytes).
fn stable_copy(
    mut caller: Host<'_>,
    offset: u64,
    at: u64,
    size: u64,
    copy: impl FnOnce(&mut Pages, usize, &mut [u8]),
) -> Outcome {
    let start = stable_range(&caller.data().stable, offset, size)?;
    charge(&mut caller, size)?;
    let memory = caller.data().memory.expect("memory set at instantiation");
    let (data, api) = memory.data_and_store_mut(&mut caller);
    let Some(range) = memory_range(at, size, data.len()) else {
        return violation("memory access out of bounds");
    };
    copy(&mut api.stable, start, &mut data[range]);
    Ok(())
}

fn stable64_write(caller: Host<'_>, offset: u64, src: u64, size: u64) -> Outcome {
    stable_copy(caller, offset, src, size, |stable, start, bytes| {
        stable.write(start, bytes)
    })
}

fn stable64_read(caller: Host<'_>, dst: u64, offset: u64, size: u64) -> Outcome {
    stable_copy(caller, offset, dst, size, |stable, start, bytes| {
        stable.read(start, bytes)
    })
}

fn certified_data_set<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    require(
        caller.data().entry.is_replicated(),
        "certified_data_set in a query",
    )?;
    if size.to_u64() > 32 {
        return violation("certified data is at most 32 bytes");
    }
    let data = read(&mut caller, src.to_u64(), size.to_u64())?;
    caller.data_mut().certified_data = data;
    Ok(())
}

fn data_certificate_present(caller: Host<'_>) -> Outcome<u32> {
    Ok(u32::from(caller.data().data_certificate.is_some()))
}

fn data_certificate_size<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    match &caller.data().data_certificate {
        Some(certificate) => Ok(P::from_u64(certificate.len() as u64)),
        None => violation("no data certificate outside queries"),
    }
}

fn data_certificate_copy<P: Ptr>(mut caller: Host<'_>, dst: P, offset: P, size: P) -> Outcome {
    let Some(certificate) = caller.data().data_certificate.clone() else {
        return violation("no data certificate outside queries");
    };
    copy_out(
        &mut caller,
        &certificate,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

fn time(caller: Host<'_>) -> Outcome<u64> {
    Ok(caller.data().time_ns)
}

fn global_timer_set(mut caller: Host<'_>, deadline: u64) -> Outcome<u64> {
    require(caller.data().entry.is_replicated(), "global_timer_set")?;
    Ok(std::mem::replace(
        &mut caller.data_mut().global_timer,
        deadline,
    ))
}

fn performance_counter(caller: Host<'_>, _kind: u32) -> Outcome<u64> {
    let left = caller.get_fuel().unwrap_or(0);
    Ok(caller.data().fuel_at_start.saturating_sub(left))
}

fn is_controller<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome<u32> {
    if size.to_u64() > 29 {
        return violation("is_controller: not a principal");
    }
    let principal = read(&mut caller, src.to_u64(), size.to_u64())?;
    Ok(u32::from(caller.data().controllers.contains(&principal)))
}

fn in_replicated_execution(caller: Host<'_>) -> Outcome<u32> {
    Ok(u32::from(caller.data().entry.is_replicated()))
}

/// The name of environment variable `index`, or a trap.
fn env_var_name_at(api: &Api, index: u64) -> Outcome<Vec<u8>> {
    match api.environment.get(index as usize) {
        Some((name, _)) => Ok(name.as_bytes().to_vec()),
        None => violation(format!("environment variable index {index} out of range")),
    }
}

/// The value of the environment variable named at `src`, if it exists
/// (a name too long or not UTF-8 traps).
fn env_var_value(caller: &mut Host<'_>, src: u64, size: u64) -> Outcome<Option<Vec<u8>>> {
    if size > crate::execution::settings::MAX_ENVIRONMENT_TEXT as u64 {
        return violation("environment variable name is too long");
    }
    let name = read(caller, src, size)?;
    let Ok(name) = std::str::from_utf8(&name) else {
        return violation("environment variable name is not valid UTF-8");
    };
    let environment = &caller.data().environment;
    let value = environment.iter().find(|(n, _)| n == name);
    Ok(value.map(|(_, value)| value.as_bytes().to_vec()))
}

fn env_var_count<P: Ptr>(caller: Host<'_>) -> Outcome<P> {
    Ok(P::from_u64(caller.data().environment.len() as u64))
}

fn env_var_name_size<P: Ptr>(caller: Host<'_>, index: P) -> Outcome<P> {
    let name = env_var_name_at(caller.data(), index.to_u64())?;
    Ok(P::from_u64(name.len() as u64))
}

fn env_var_name_copy<P: Ptr>(
    mut caller: Host<'_>,
    index: P,
    dst: P,
    offset: P,
    size: P,
) -> Outcome {
    let name = env_var_name_at(caller.data(), index.to_u64())?;
    copy_out(
        &mut caller,
        &name,
        dst.to_u64(),
        offset.to_u64(),
        size.to_u64(),
    )
}

fn env_var_name_exists<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome<u32> {
    let value = env_var_value(&mut caller, src.to_u64(), size.to_u64())?;
    Ok(u32::from(value.is_some()))
}

fn env_var_value_size<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome<P> {
    match env_var_value(&mut caller, src.to_u64(), size.to_u64())? {
        Some(value) => Ok(P::from_u64(value.len() as u64)),
        None => violation("no environment variable of that name"),
    }
}

fn env_var_value_copy<P: Ptr>(
    mut caller: Host<'_>,
    src: P,
    size: P,
    dst: P,
    offset: P,
    length: P,
) -> Outcome {
    let Some(value) = env_var_value(&mut caller, src.to_u64(), size.to_u64())? else {
        return violation("no environment variable of that name");
    };
    copy_out(
        &mut caller,
        &value,
        dst.to_u64(),
        offset.to_u64(),
        length.to_u64(),
    )
}

fn debug_print<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    let message = text(&mut caller, src.to_u64(), size.to_u64().min(64 * 1024))?;
    let canister = crate::ic::principal::Principal::from_bytes(&caller.data().canister_id)
        .map(|principal| principal.to_text())
        .unwrap_or_default();
    tracing::debug!(target: "canister", %canister, "{message}");
    let api = caller.data_mut();
    let logged: usize = api.logs.iter().map(Vec::len).sum();
    if api.entry.is_replicated() && logged + message.len() <= super::MAX_LOGGED_BYTES {
        api.logs.push(message.into_bytes());
    }
    Ok(())
}

fn trap<P: Ptr>(mut caller: Host<'_>, src: P, size: P) -> Outcome {
    let message = text(&mut caller, src.to_u64(), size.to_u64().min(64 * 1024))?;
    caller.data_mut().trap_message = Some(message.clone());
    violation(format!("canister called trap: {message}"))
}

/// Defines [`PROVIDED`] and the linker from one list of the functions.
macro_rules! system_api {
    ($($name:ident $(::<$p:ident>)?),* $(,)?) => {
        /// Every `ic0` function this subnet provides.
        pub const PROVIDED: &[&str] = &[$(stringify!($name)),*];

        /// A linker with the System API for memories whose pointers are `P`
        /// (`u32`: 32-bit, `u64`: 64-bit).
        fn linker_for<P: Ptr>(engine: &wasmtime::Engine) -> Outcome<Linker<Api>> {
            let mut linker = Linker::new(engine);
            $( linker.func_wrap("ic0", stringify!($name), $name $(::<$p>)?)?; )*
            Ok(linker)
        }
    };
}

system_api!(
    msg_arg_data_size::<P>,
    msg_arg_data_copy::<P>,
    msg_caller_size::<P>,
    msg_caller_copy::<P>,
    msg_reject_code,
    msg_method_name_size::<P>,
    msg_method_name_copy::<P>,
    accept_message,
    msg_reject_msg_size::<P>,
    msg_reject_msg_copy::<P>,
    msg_reply_data_append::<P>,
    msg_reply,
    msg_reject::<P>,
    msg_cycles_available128::<P>,
    msg_cycles_refunded128::<P>,
    msg_cycles_accept128::<P>,
    canister_cycle_balance128::<P>,
    canister_liquid_cycle_balance128::<P>,
    cycles_burn128::<P>,
    canister_self_size::<P>,
    canister_self_copy::<P>,
    canister_status,
    call_new::<P>,
    call_data_append::<P>,
    call_on_cleanup::<P>,
    call_cycles_add128,
    call_with_best_effort_response,
    call_perform,
    cost_call::<P>,
    stable64_size,
    stable64_grow,
    stable64_write,
    stable64_read,
    certified_data_set::<P>,
    data_certificate_present,
    data_certificate_size::<P>,
    data_certificate_copy::<P>,
    time,
    global_timer_set,
    performance_counter,
    is_controller::<P>,
    in_replicated_execution,
    env_var_count::<P>,
    env_var_name_size::<P>,
    env_var_name_copy::<P>,
    env_var_name_exists::<P>,
    env_var_value_size::<P>,
    env_var_value_copy::<P>,
    debug_print::<P>,
    trap::<P>,
);

/// The linkers for 32-bit and 64-bit modules.
pub struct Linkers {
    /// For modules with a 32-bit memory.
    pub memory32: Linker<Api>,
    /// For modules with a 64-bit memory.
    pub memory64: Linker<Api>,
}

impl Linkers {
    /// Both linkers for `engine`.
    pub fn new(engine: &wasmtime::Engine) -> Linkers {
        Linkers {
            memory32: linker_for::<u32>(engine).expect("distinct System API names"),
            memory64: linker_for::<u64>(engine).expect("distinct System API names"),
        }
    }
}
