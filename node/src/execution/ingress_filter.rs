//! The ingress filter: whether a user's update call may enter a block at
//! all, judged by the node that receives it on its latest executed state,
//! before the call is gossiped or ordered. A call that cannot run — its
//! canister is outside the subnet's range or was deleted, is stopped, or
//! cannot pay for the call at its instruction limit — is refused at once
//! with the IC's error, so it costs the subnet nothing. A canister this
//! node does not know yet (created in a block it has not executed) passes:
//! a node a few heights behind must not refuse what its peers accept.
//! Execution checks again when the call is inducted.

use super::cycles::{out_of_cycles, Fees};
use super::{Reject, ReplicatedState, RunStatus};

/// Refuses an update call of `method` with an argument of `arg_bytes`
/// bytes to `canister_id` that could not run on `state`.
pub fn check(
    state: &ReplicatedState,
    fees: &Fees,
    update_instructions: u64,
    canister_id: &[u8],
    method: &str,
    arg_bytes: usize,
) -> Result<(), Reject> {
    if canister_id.is_empty() || super::system_canisters::is_served_by_the_node(canister_id) {
        return Ok(()); // answered by the node itself
    }
    let Some(canister) = state.canisters.get(canister_id) else {
        let may_exist = super::management::canister_index(canister_id)
            .is_some_and(|index| index >= state.canisters_created);
        if may_exist {
            return Ok(());
        }
        return Err(Reject::not_found(canister_id));
    };
    if canister.status != RunStatus::Running {
        return Err(Reject::not_running(canister_id));
    }
    let needed = fees.freezing_threshold(canister)
        + fees.ingress(method.len() + arg_bytes)
        + fees.execution(update_instructions);
    if canister.cycles < needed {
        return Err(out_of_cycles(canister_id, needed - canister.cycles));
    }
    Ok(())
}
