//! The low-wasm-memory hook: a canister exporting
//! `canister_on_low_wasm_memory` has it run once when the wasm memory it
//! may still grow falls below its `wasm_memory_threshold` setting, and
//! again only after that condition has ceased (as the interface
//! specification says). Here the decision; [`super::round`] queues the
//! hook.

use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

/// The hook's state, kept with the canister.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum HookStatus {
    /// The canister has room: nothing to run.
    #[default]
    ConditionNotSatisfied,
    /// The condition holds and the hook has not run since it began to.
    Ready,
    /// The hook ran; it runs again after the condition ceases and returns.
    Executed,
}

impl HookStatus {
    /// The status after a message left the canister's wasm memory at
    /// `used` bytes, of at most `cap`, with `threshold` (0: no hook).
    pub fn after(self, used: u64, cap: u64, threshold: u64) -> HookStatus {
        let low = threshold > 0 && cap.saturating_sub(used) < threshold;
        match (low, self) {
            (false, _) => HookStatus::ConditionNotSatisfied,
            (true, HookStatus::ConditionNotSatisfied) => HookStatus::Ready,
            (true, status) => status,
        }
    }

    /// As `canister_status` and snapshot metadata report it.
    pub fn record(self) -> types::OnLowWasmMemoryHookStatus {
        match self {
            HookStatus::ConditionNotSatisfied => {
                types::OnLowWasmMemoryHookStatus::ConditionNotSatisfied
            }
            HookStatus::Ready => types::OnLowWasmMemoryHookStatus::Ready,
            HookStatus::Executed => types::OnLowWasmMemoryHookStatus::Executed,
        }
    }
}

impl From<types::OnLowWasmMemoryHookStatus> for HookStatus {
    fn from(record: types::OnLowWasmMemoryHookStatus) -> HookStatus {
        match record {
            types::OnLowWasmMemoryHookStatus::ConditionNotSatisfied => {
                HookStatus::ConditionNotSatisfied
            }
            types::OnLowWasmMemoryHookStatus::Ready => HookStatus::Ready,
            types::OnLowWasmMemoryHookStatus::Executed => HookStatus::Executed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HookStatus::*;

    #[test]
    fn the_hook_is_due_once_per_spell_of_low_memory() {
        // 100 bytes of room at most; due when fewer than 30 are left.
        assert_eq!(
            ConditionNotSatisfied.after(60, 100, 30),
            ConditionNotSatisfied
        );
        assert_eq!(ConditionNotSatisfied.after(71, 100, 30), Ready);
        assert_eq!(Ready.after(80, 100, 30), Ready);
        assert_eq!(Executed.after(90, 100, 30), Executed, "not again while low");
        assert_eq!(Executed.after(50, 100, 30), ConditionNotSatisfied);
        assert_eq!(
            Executed.after(71, 200, 30),
            ConditionNotSatisfied,
            "a raised cap"
        );
        assert_eq!(
            ConditionNotSatisfied.after(100, 100, 0),
            ConditionNotSatisfied,
            "no threshold"
        );
    }
}
