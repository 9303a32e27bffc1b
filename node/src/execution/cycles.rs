//! Cycles: what every instruction, byte, message and stored byte costs
//! the canister that causes it, and the freezing threshold below which a
//! canister stops running (it keeps enough to pay for its storage for its
//! freezing period). Fees are the IC's for a 13-node application subnet,
//! scaled linearly with [`CyclesConfig::fee_nodes`].
//!
//! A message prepays its whole instruction limit before it runs and gets
//! back what it did not use, so a canister that cannot afford a message at
//! its limit runs none; storage is charged as block time passes, and a
//! canister that can no longer pay for it is uninstalled.

use crate::config::CyclesConfig;
use crate::ic::principal::Principal;

use std::sync::Arc;

use super::{reject_code, Canister, Executor, IngressCall, Reject, STORAGE_CHARGE_EVERY};

/// The IC's fees on a 13-node application subnet, in cycles.
mod thirteen_nodes {
    pub const CANISTER_CREATION: u128 = 500_000_000_000;
    pub const UPDATE_MESSAGE_EXECUTION: u128 = 5_000_000;
    pub const BILLION_INSTRUCTIONS: u128 = 1_000_000_000;
    pub const INGRESS_MESSAGE: u128 = 1_200_000;
    pub const INGRESS_BYTE: u128 = 2_000;
    pub const CALL: u128 = 260_000;
    pub const CALL_BYTE: u128 = 1_000;
    pub const GIB_STORAGE_PER_SECOND: u128 = 127_000;
    pub const SIGN_WITH_ECDSA: u128 = 26_153_846_153;
}

/// Default freezing threshold: 30 days, as on the IC.
pub const DEFAULT_FREEZING_THRESHOLD_SECONDS: u64 = 30 * 24 * 3600;

/// The fee schedule of this subnet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fees {
    /// Creating a canister.
    pub canister_creation: u128,
    /// Executing any update, callback, heartbeat or timer.
    pub message_execution: u128,
    /// A billion instructions.
    pub billion_instructions: u128,
    /// Inducting an ingress message, plus `ingress_byte` per byte.
    pub ingress_message: u128,
    /// Per byte of an ingress message (method name and argument).
    pub ingress_byte: u128,
    /// Sending an inter-canister call, plus `call_byte` per byte.
    pub call: u128,
    /// Per byte of an inter-canister call.
    pub call_byte: u128,
    /// Storing a GiB for a second.
    pub gib_storage_per_second: u128,
    /// A `sign_with_ecdsa` signature.
    pub sign_with_ecdsa: u128,
}

impl Default for Fees {
    fn default() -> Self {
        Fees::new(&CyclesConfig::default())
    }
}

impl Fees {
    /// The IC's 13-node fees scaled to `config.fee_nodes` nodes.
    pub fn new(config: &CyclesConfig) -> Fees {
        use thirteen_nodes::*;
        let nodes = u128::from(config.fee_nodes);
        let scale = |fee: u128| fee * nodes / 13;
        Fees {
            canister_creation: scale(CANISTER_CREATION),
            message_execution: scale(UPDATE_MESSAGE_EXECUTION),
            billion_instructions: scale(BILLION_INSTRUCTIONS),
            ingress_message: scale(INGRESS_MESSAGE),
            ingress_byte: scale(INGRESS_BYTE),
            call: scale(CALL),
            call_byte: scale(CALL_BYTE),
            gib_storage_per_second: scale(GIB_STORAGE_PER_SECOND),
            sign_with_ecdsa: scale(SIGN_WITH_ECDSA),
        }
    }

    /// Executing a message of `instructions` instructions.
    pub fn execution(&self, instructions: u64) -> u128 {
        self.message_execution
            + u128::from(instructions) * self.billion_instructions / 1_000_000_000
    }

    /// Inducting an ingress message of `bytes` bytes.
    pub fn ingress(&self, bytes: usize) -> u128 {
        self.ingress_message + bytes as u128 * self.ingress_byte
    }

    /// Sending a call of `bytes` bytes.
    pub fn call(&self, bytes: usize) -> u128 {
        self.call + bytes as u128 * self.call_byte
    }

    /// Storing `bytes` bytes for `nanoseconds`.
    pub fn storage(&self, bytes: u64, nanoseconds: u64) -> u128 {
        u128::from(bytes) * u128::from(nanoseconds) * self.gib_storage_per_second
            / ((1u128 << 30) * 1_000_000_000)
    }

    /// What `canister` burns per day at rest (its storage).
    pub fn idle_per_day(&self, canister: &Canister) -> u128 {
        self.storage(canister.memory_bytes(), 24 * 3600 * 1_000_000_000)
    }

    /// The balance below which `canister` is frozen: its storage for its
    /// freezing threshold.
    pub fn freezing_threshold(&self, canister: &Canister) -> u128 {
        self.storage(
            canister.memory_bytes(),
            canister
                .settings
                .freezing_threshold
                .saturating_mul(1_000_000_000),
        )
    }

    /// Takes `fee` from `canister` if it stays at or above its freezing
    /// threshold; otherwise the IC's out-of-cycles rejection.
    pub fn charge(&self, id: &[u8], canister: &mut Canister, fee: u128) -> Result<(), Reject> {
        let needed = self.freezing_threshold(canister) + fee;
        if canister.cycles < needed {
            return Err(out_of_cycles(id, needed - canister.cycles));
        }
        canister.cycles -= fee;
        Ok(())
    }
}

/// A Candid `nat` amount (of cycles or tokens) as a `u128`, saturating:
/// no balance or transfer can exceed that anyway.
pub fn saturating_u128(amount: &candid::Nat) -> u128 {
    u128::try_from(amount.0.clone()).unwrap_or(u128::MAX)
}

/// The IC's rejection of a message its canister cannot pay for.
pub fn out_of_cycles(id: &[u8], missing: u128) -> Reject {
    let name = Principal::from_bytes(id)
        .map(|p| p.to_text())
        .unwrap_or_default();
    Reject::new(
        reject_code::SYS_TRANSIENT,
        "IC0207",
        format!(
            "Canister {name} is out of cycles: please top up the canister with at least \
             {missing} additional cycles"
        ),
    )
}

/// Whether `caller` may mint cycles under `config`.
pub fn may_mint(config: &CyclesConfig, caller: &[u8]) -> bool {
    config.provisional
        && (config.provisional_principals.is_empty()
            || Principal::from_bytes(caller).is_ok_and(|principal| {
                config
                    .provisional_principals
                    .iter()
                    .any(|allowed| *allowed == principal.to_text())
            }))
}

impl Executor {
    /// Charges a user's call to its canister's balance: the ingress fee,
    /// refused if that would take it below its freezing threshold. Calls
    /// to the management and governance canisters, and to canisters that
    /// do not exist (rejected when they run), cost nothing here.
    pub(super) fn induct(&mut self, call: &IngressCall) -> Result<(), Reject> {
        let Some(canister) = self.state.canisters.get_mut(&call.canister_id) else {
            return Ok(());
        };
        let fee = self.fees.ingress(call.method.len() + call.arg.len());
        self.fees
            .charge(&call.canister_id, Arc::make_mut(canister), fee)
    }

    /// Charges every canister for its storage since the last charge, every
    /// [`STORAGE_CHARGE_EVERY`] heights; one that cannot pay is uninstalled.
    pub(super) fn charge_storage(&mut self) {
        let now = self.state.time_ns;
        if self.state.storage_charged_ns == 0 {
            self.state.storage_charged_ns = now;
        }
        if !self.state.height.is_multiple_of(STORAGE_CHARGE_EVERY) {
            return;
        }
        let elapsed = now.saturating_sub(self.state.storage_charged_ns);
        self.state.storage_charged_ns = now;
        let mut broke = Vec::new();
        for (id, canister) in self.state.canisters.iter_mut() {
            let fee = self.fees.storage(canister.memory_bytes(), elapsed);
            if fee == 0 {
                continue;
            }
            let canister = Arc::make_mut(canister);
            if canister.cycles >= fee {
                canister.cycles -= fee;
            } else {
                canister.cycles = 0;
                broke.push(id.clone());
            }
        }
        for id in broke {
            self.uninstall(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fees_are_the_ics_and_scale_with_the_subnet() {
        let thirteen = Fees::default();
        // A billion instructions cost a billion cycles plus the base fee.
        assert_eq!(thirteen.execution(1_000_000_000), 1_005_000_000);
        assert_eq!(thirteen.ingress(100), 1_400_000);
        // A GiB for a day: 127,000 · 86,400 cycles.
        assert_eq!(
            thirteen.storage(1 << 30, 86_400 * 1_000_000_000),
            10_972_800_000
        );
        let four = Fees::new(&CyclesConfig {
            fee_nodes: 4,
            ..CyclesConfig::default()
        });
        assert_eq!(four.canister_creation, 500_000_000_000 * 4 / 13);
        // Each fee scales on its own: 260,000 · 4/13 + 10 · ⌊1,000 · 4/13⌋.
        assert_eq!(four.call(10), 80_000 + 10 * 307);
    }

    #[test]
    fn charging_keeps_the_freezing_threshold() {
        let fees = Fees::default();
        let mut canister = Canister::new(Vec::new(), 1_000_000);
        // No memory: nothing to keep back.
        assert_eq!(fees.freezing_threshold(&canister), 0);
        fees.charge(b"c", &mut canister, 600_000).unwrap();
        assert_eq!(canister.cycles, 400_000);
        let reject = fees.charge(b"c", &mut canister, 500_000).unwrap_err();
        assert_eq!(reject.error_code, "IC0207");
        assert!(
            reject.message.contains("at least 100000"),
            "{}",
            reject.message
        );
        assert_eq!(canister.cycles, 400_000);
    }

    #[test]
    fn minting_follows_the_configuration() {
        let alice = Principal::from_text("2vxsx-fae").unwrap();
        let mut config = CyclesConfig::default();
        assert!(!may_mint(&config, alice.as_bytes()));
        config.provisional = true;
        assert!(may_mint(&config, alice.as_bytes()));
        config.provisional_principals = vec!["aaaaa-aa".into()];
        assert!(!may_mint(&config, alice.as_bytes()));
        config.provisional_principals.push("2vxsx-fae".into());
        assert!(may_mint(&config, alice.as_bytes()));
    }
}
