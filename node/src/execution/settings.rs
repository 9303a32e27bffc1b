//! Canister settings: the `settings` record of `create_canister` and
//! `update_settings`, checked against the interface specification's
//! bounds before any of it applies, kept with the canister, and reported
//! by `canister_status` as the definite record.
//!
//! Where each setting is enforced: controllers in every controller-only
//! method; the freezing threshold in the cycles accounting ([`super::cycles`]);
//! the wasm memory limit and the memory allocation in the memory caps of
//! every message; the minimum incoming call cycles when a canister's call
//! arrives; log, snapshot and status visibility in the methods that read
//! them; the compute allocation against the subnet's capacity; environment
//! variables are what `ic0.env_var_*` reads. The reserved cycles limit holds
//! trivially (this subnet reserves no cycles), and the wasm memory
//! threshold is kept and reported (no low-memory hook runs yet).

use candid::{Nat, Principal as CandidPrincipal};
use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use super::cycles;

/// Most controllers a canister may have (as on the IC).
pub const MAX_CONTROLLERS: usize = 10;
/// Most principals an allowed-viewers list may name (as on the IC).
pub const MAX_ALLOWED_VIEWERS: usize = 10;
/// Largest memory allocation: 2⁴⁸ bytes.
pub const MAX_MEMORY_ALLOCATION: u64 = 1 << 48;
/// Largest wasm memory limit or threshold: 2⁴⁸ bytes.
pub const MAX_WASM_MEMORY: u64 = 1 << 48;
/// Compute allocation all canisters together may hold, in percent of one
/// core: the IC leaves one of a subnet's cores to canisters without one.
pub const SUBNET_COMPUTE_CAPACITY: u64 = 300;
/// The default and the largest log memory limit, bytes.
pub const DEFAULT_LOG_MEMORY_LIMIT: u64 = 4096;
/// The largest log memory limit a canister may ask for, bytes.
pub const MAX_LOG_MEMORY_LIMIT: u64 = 2 << 20;
/// The IC's default reserved cycles limit: 5·10¹² cycles.
pub const DEFAULT_RESERVED_CYCLES_LIMIT: u128 = 5_000_000_000_000;
/// Most environment variables, and the longest name or value, bytes.
pub const MAX_ENVIRONMENT_VARIABLES: usize = 20;
/// The longest environment variable name or value, bytes.
pub const MAX_ENVIRONMENT_TEXT: usize = 128;

/// Who may read something of a canister (its logs, snapshots or status).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Visibility {
    /// Its controllers only.
    #[default]
    Controllers,
    /// Anyone.
    Public,
    /// Its controllers and these principals.
    AllowedViewers(Vec<Vec<u8>>),
}

impl Visibility {
    /// Whether `caller` may read, for a canister controlled by `controllers`.
    pub fn allows(&self, controllers: &[Vec<u8>], caller: &[u8]) -> bool {
        let controller = controllers.iter().any(|c| c == caller);
        match self {
            Visibility::Controllers => controller,
            Visibility::Public => true,
            Visibility::AllowedViewers(viewers) => {
                controller || viewers.iter().any(|v| v == caller)
            }
        }
    }
}

/// A canister's settings, controllers aside.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Seconds of storage its balance must keep paying for; below that it
    /// is frozen.
    #[serde(default = "default_freezing_threshold")]
    pub freezing_threshold: u64,
    /// Largest wasm memory its messages may grow to, bytes.
    #[serde(default = "default_wasm_memory_limit")]
    pub wasm_memory_limit: u64,
    /// Guaranteed share of a core, percent.
    #[serde(default)]
    pub compute_allocation: u64,
    /// Bytes reserved for it, which its memory may not exceed (0: none).
    #[serde(default)]
    pub memory_allocation: u64,
    /// Upper bound of its reserved cycles.
    #[serde(default = "default_reserved_cycles_limit", with = "u128_bytes")]
    pub reserved_cycles_limit: u128,
    /// Cycles a call from another canister must carry to be accepted.
    #[serde(default, with = "u128_bytes")]
    pub minimum_incoming_canister_call_cycles: u128,
    /// Who may fetch its logs.
    #[serde(default)]
    pub log_visibility: Visibility,
    /// Bytes of log records it keeps.
    #[serde(default = "default_log_memory_limit")]
    pub log_memory_limit: u64,
    /// Who may list and read its snapshots.
    #[serde(default)]
    pub snapshot_visibility: Visibility,
    /// Who may read its status.
    #[serde(default)]
    pub status_visibility: Visibility,
    /// Free wasm memory below which its low-memory hook is due, bytes.
    #[serde(default)]
    pub wasm_memory_threshold: u64,
    /// Its environment variables, by name.
    #[serde(default)]
    pub environment_variables: Vec<(String, String)>,
}

/// A `u128` stored as 16 big-endian bytes: the settings are flattened
/// into the canister's record (where checkpoints written before they were
/// grouped keep two of them), and serde's flattening cannot carry `u128`.
mod u128_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&value.to_be_bytes())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u128, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        let array = <[u8; 16]>::try_from(bytes.as_slice())
            .map_err(|_| serde::de::Error::invalid_length(bytes.len(), &"16 bytes"))?;
        Ok(u128::from_be_bytes(array))
    }
}

fn default_freezing_threshold() -> u64 {
    cycles::DEFAULT_FREEZING_THRESHOLD_SECONDS
}

/// The IC's default `wasm_memory_limit`: 3 GiB.
fn default_wasm_memory_limit() -> u64 {
    3 << 30
}

fn default_reserved_cycles_limit() -> u128 {
    DEFAULT_RESERVED_CYCLES_LIMIT
}

fn default_log_memory_limit() -> u64 {
    DEFAULT_LOG_MEMORY_LIMIT
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            freezing_threshold: default_freezing_threshold(),
            wasm_memory_limit: default_wasm_memory_limit(),
            compute_allocation: 0,
            memory_allocation: 0,
            reserved_cycles_limit: default_reserved_cycles_limit(),
            minimum_incoming_canister_call_cycles: 0,
            log_visibility: Visibility::default(),
            log_memory_limit: default_log_memory_limit(),
            snapshot_visibility: Visibility::default(),
            status_visibility: Visibility::default(),
            wasm_memory_threshold: 0,
            environment_variables: Vec::new(),
        }
    }
}

/// Why a settings record was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// A number outside its allowed range.
    #[error("{name} must be at most {max}, got {value}")]
    TooLarge {
        /// The setting.
        name: &'static str,
        /// Its largest value.
        max: u128,
        /// What was asked.
        value: Nat,
    },
    /// Too many entries in a list.
    #[error("{name} may have at most {max} entries, got {count}")]
    TooMany {
        /// The setting.
        name: &'static str,
        /// Its most entries.
        max: usize,
        /// What was asked.
        count: usize,
    },
    /// An environment variable named twice, or a name or value too long.
    #[error("invalid environment variable {0:?}")]
    EnvironmentVariable(String),
    /// The canister's memory already exceeds the asked memory allocation.
    #[error("memory allocation {allocation} is below the {used} bytes the canister uses")]
    AllocationBelowUsage {
        /// What was asked.
        allocation: u64,
        /// What the canister uses.
        used: u64,
    },
    /// The subnet cannot give that much compute allocation.
    #[error("compute allocation {asked}% exceeds what the subnet has left ({left}%)")]
    ComputeCapacity {
        /// What was asked.
        asked: u64,
        /// What other canisters leave.
        left: u64,
    },
}

fn bounded(name: &'static str, value: &Nat, max: u128) -> Result<u128, SettingsError> {
    u128::try_from(value.0.clone())
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| SettingsError::TooLarge {
            name,
            max,
            value: value.clone(),
        })
}

fn bounded_u64(name: &'static str, value: &Nat, max: u64) -> Result<u64, SettingsError> {
    bounded(name, value, u128::from(max)).map(|v| v as u64)
}

fn visibility(
    name: &'static str,
    value: types::LogVisibility,
) -> Result<Visibility, SettingsError> {
    Ok(match value {
        types::LogVisibility::Controllers => Visibility::Controllers,
        types::LogVisibility::Public => Visibility::Public,
        types::LogVisibility::AllowedViewers(viewers) => viewer_list(name, viewers)?,
    })
}

fn viewer_list(
    name: &'static str,
    viewers: Vec<CandidPrincipal>,
) -> Result<Visibility, SettingsError> {
    if viewers.len() > MAX_ALLOWED_VIEWERS {
        return Err(SettingsError::TooMany {
            name,
            max: MAX_ALLOWED_VIEWERS,
            count: viewers.len(),
        });
    }
    Ok(Visibility::AllowedViewers(
        viewers.iter().map(|v| v.as_slice().to_vec()).collect(),
    ))
}

/// The controllers asked for, if within bounds.
pub fn controllers(list: &[CandidPrincipal]) -> Result<Vec<Vec<u8>>, SettingsError> {
    if list.len() > MAX_CONTROLLERS {
        return Err(SettingsError::TooMany {
            name: "controllers",
            max: MAX_CONTROLLERS,
            count: list.len(),
        });
    }
    Ok(list.iter().map(|c| c.as_slice().to_vec()).collect())
}

/// What a canister's surroundings allow a new settings record to ask.
pub struct Room {
    /// Bytes the canister uses now.
    pub memory_used: u64,
    /// Compute allocation the other canisters hold, percent.
    pub others_compute: u64,
}

impl Settings {
    /// These settings with `asked` applied, or why `asked` is refused (then
    /// nothing of it applies). Controllers are checked by [`controllers`].
    pub fn with(
        &self,
        asked: types::CanisterSettings,
        room: &Room,
    ) -> Result<Settings, SettingsError> {
        let mut next = self.clone();
        if let Some(value) = asked.freezing_threshold {
            next.freezing_threshold = bounded_u64("freezing_threshold", &value, u64::MAX)?;
        }
        if let Some(value) = asked.wasm_memory_limit {
            next.wasm_memory_limit = bounded_u64("wasm_memory_limit", &value, MAX_WASM_MEMORY)?;
        }
        if let Some(value) = asked.wasm_memory_threshold {
            next.wasm_memory_threshold =
                bounded_u64("wasm_memory_threshold", &value, MAX_WASM_MEMORY)?;
        }
        if let Some(value) = asked.compute_allocation {
            let asked = bounded_u64("compute_allocation", &value, 100)?;
            let left = SUBNET_COMPUTE_CAPACITY.saturating_sub(room.others_compute);
            if asked > left {
                return Err(SettingsError::ComputeCapacity { asked, left });
            }
            next.compute_allocation = asked;
        }
        if let Some(value) = asked.memory_allocation {
            let allocation = bounded_u64("memory_allocation", &value, MAX_MEMORY_ALLOCATION)?;
            if allocation != 0 && allocation < room.memory_used {
                return Err(SettingsError::AllocationBelowUsage {
                    allocation,
                    used: room.memory_used,
                });
            }
            next.memory_allocation = allocation;
        }
        if let Some(value) = asked.reserved_cycles_limit {
            next.reserved_cycles_limit = bounded("reserved_cycles_limit", &value, u128::MAX)?;
        }
        if let Some(value) = asked.minimum_incoming_canister_call_cycles {
            next.minimum_incoming_canister_call_cycles =
                bounded("minimum_incoming_canister_call_cycles", &value, u128::MAX)?;
        }
        if let Some(value) = asked.log_memory_limit {
            next.log_memory_limit = bounded_u64("log_memory_limit", &value, MAX_LOG_MEMORY_LIMIT)?;
        }
        if let Some(value) = asked.log_visibility {
            next.log_visibility = visibility("log_visibility", value)?;
        }
        if let Some(value) = asked.snapshot_visibility {
            next.snapshot_visibility = match value {
                types::SnapshotVisibility::Controllers => Visibility::Controllers,
                types::SnapshotVisibility::Public => Visibility::Public,
                types::SnapshotVisibility::AllowedViewers(viewers) => {
                    viewer_list("snapshot_visibility", viewers)?
                }
            };
        }
        if let Some(value) = asked.status_visibility {
            next.status_visibility = match value {
                types::StatusVisibility::Controllers => Visibility::Controllers,
                types::StatusVisibility::Public => Visibility::Public,
                types::StatusVisibility::AllowedViewers(viewers) => {
                    viewer_list("status_visibility", viewers)?
                }
            };
        }
        if let Some(variables) = asked.environment_variables {
            next.environment_variables = environment(variables)?;
        }
        Ok(next)
    }

    /// The definite record `canister_status` reports.
    pub fn definite(&self, controllers: &[Vec<u8>]) -> types::DefiniteCanisterSettings {
        let principals = |list: &[Vec<u8>]| -> Vec<CandidPrincipal> {
            list.iter()
                .map(|p| CandidPrincipal::from_slice(p))
                .collect()
        };
        types::DefiniteCanisterSettings {
            controllers: principals(controllers),
            compute_allocation: Nat::from(self.compute_allocation),
            memory_allocation: Nat::from(self.memory_allocation),
            freezing_threshold: Nat::from(self.freezing_threshold),
            reserved_cycles_limit: Nat::from(self.reserved_cycles_limit),
            minimum_incoming_canister_call_cycles: Nat::from(
                self.minimum_incoming_canister_call_cycles,
            ),
            log_visibility: match &self.log_visibility {
                Visibility::Controllers => types::LogVisibility::Controllers,
                Visibility::Public => types::LogVisibility::Public,
                Visibility::AllowedViewers(v) => {
                    types::LogVisibility::AllowedViewers(principals(v))
                }
            },
            log_memory_limit: Nat::from(self.log_memory_limit),
            snapshot_visibility: match &self.snapshot_visibility {
                Visibility::Controllers => types::SnapshotVisibility::Controllers,
                Visibility::Public => types::SnapshotVisibility::Public,
                Visibility::AllowedViewers(v) => {
                    types::SnapshotVisibility::AllowedViewers(principals(v))
                }
            },
            status_visibility: match &self.status_visibility {
                Visibility::Controllers => types::StatusVisibility::Controllers,
                Visibility::Public => types::StatusVisibility::Public,
                Visibility::AllowedViewers(v) => {
                    types::StatusVisibility::AllowedViewers(principals(v))
                }
            },
            wasm_memory_limit: Nat::from(self.wasm_memory_limit),
            wasm_memory_threshold: Nat::from(self.wasm_memory_threshold),
            environment_variables: self
                .environment_variables
                .iter()
                .map(|(name, value)| types::EnvironmentVariable {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }

    /// Largest bytes of wasm memory a message may grow to.
    pub fn heap_cap(&self) -> u64 {
        match self.memory_allocation {
            0 => self.wasm_memory_limit,
            allocation => self.wasm_memory_limit.min(allocation),
        }
    }
}

fn environment(
    variables: Vec<types::EnvironmentVariable>,
) -> Result<Vec<(String, String)>, SettingsError> {
    if variables.len() > MAX_ENVIRONMENT_VARIABLES {
        return Err(SettingsError::TooMany {
            name: "environment_variables",
            max: MAX_ENVIRONMENT_VARIABLES,
            count: variables.len(),
        });
    }
    let mut list: Vec<(String, String)> = Vec::with_capacity(variables.len());
    for variable in variables {
        let too_long = variable.name.len() > MAX_ENVIRONMENT_TEXT
            || variable.value.len() > MAX_ENVIRONMENT_TEXT;
        if too_long || list.iter().any(|(name, _)| *name == variable.name) {
            return Err(SettingsError::EnvironmentVariable(variable.name));
        }
        list.push((variable.name, variable.value));
    }
    list.sort();
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Room {
        Room {
            memory_used: 1000,
            others_compute: 250,
        }
    }

    #[test]
    fn a_refused_record_changes_nothing() {
        let settings = Settings::default();
        let asked = types::CanisterSettings {
            freezing_threshold: Some(Nat::from(7u8)),
            compute_allocation: Some(Nat::from(101u8)),
            ..Default::default()
        };
        assert!(matches!(
            settings.with(asked, &room()),
            Err(SettingsError::TooLarge {
                name: "compute_allocation",
                ..
            })
        ));
    }

    #[test]
    fn compute_allocation_is_bounded_by_what_the_subnet_has_left() {
        let asked = |percent: u8| types::CanisterSettings {
            compute_allocation: Some(Nat::from(percent)),
            ..Default::default()
        };
        let settings = Settings::default();
        assert_eq!(
            settings
                .with(asked(50), &room())
                .unwrap()
                .compute_allocation,
            50
        );
        assert_eq!(
            settings.with(asked(51), &room()),
            Err(SettingsError::ComputeCapacity {
                asked: 51,
                left: 50
            })
        );
    }

    #[test]
    fn memory_allocation_must_cover_what_the_canister_uses() {
        let asked = |bytes: u64| types::CanisterSettings {
            memory_allocation: Some(Nat::from(bytes)),
            ..Default::default()
        };
        let settings = Settings::default();
        assert!(settings.with(asked(999), &room()).is_err());
        let allocated = settings.with(asked(4096), &room()).unwrap();
        assert_eq!(allocated.heap_cap(), 4096);
        assert_eq!(
            settings.with(asked(0), &room()).unwrap().heap_cap(),
            3 << 30
        );
    }

    #[test]
    fn environment_variables_are_unique_and_short() {
        let variable = |name: &str, value: &str| types::EnvironmentVariable {
            name: name.into(),
            value: value.into(),
        };
        let asked = |list| types::CanisterSettings {
            environment_variables: Some(list),
            ..Default::default()
        };
        let settings = Settings::default();
        let twice = asked(vec![variable("A", "1"), variable("A", "2")]);
        assert!(settings.with(twice, &room()).is_err());
        let long = asked(vec![variable("A", &"x".repeat(129))]);
        assert!(settings.with(long, &room()).is_err());
        let fine = asked(vec![variable("B", "2"), variable("A", "1")]);
        let applied = settings.with(fine, &room()).unwrap();
        assert_eq!(applied.environment_variables[0], ("A".into(), "1".into()));
    }

    #[test]
    fn settings_survive_a_checkpoint_and_older_checkpoints_keep_theirs() {
        use ciborium::value::Value;
        let mut canister = super::super::Canister::new(vec![vec![1]], 5);
        canister.settings.freezing_threshold = 77;
        canister.settings.reserved_cycles_limit = u128::MAX;
        canister.settings.minimum_incoming_canister_call_cycles = 1 << 100;
        canister.settings.log_visibility = Visibility::AllowedViewers(vec![vec![2]]);
        let bytes = crate::cbor::to_cbor(&canister);
        let back: super::super::Canister = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back, canister);

        // A record written before the settings were grouped had only
        // these two, at the top level.
        let Value::Map(fields) = ciborium::from_reader(bytes.as_slice()).unwrap() else {
            panic!("a canister is a map");
        };
        let grouped = [
            "compute_allocation",
            "memory_allocation",
            "reserved_cycles_limit",
            "minimum_incoming_canister_call_cycles",
            "log_visibility",
            "log_memory_limit",
            "snapshot_visibility",
            "status_visibility",
            "wasm_memory_threshold",
            "environment_variables",
            "log",
            "chunks",
            "snapshots",
            "history",
        ];
        let old: Vec<(Value, Value)> = fields
            .into_iter()
            .filter(|(key, _)| !grouped.contains(&key.as_text().unwrap_or_default()))
            .collect();
        let old = crate::cbor::to_cbor(&Value::Map(old));
        let back: super::super::Canister = ciborium::from_reader(old.as_slice()).unwrap();
        assert_eq!(back.settings.freezing_threshold, 77);
        assert_eq!(
            back.settings.reserved_cycles_limit,
            DEFAULT_RESERVED_CYCLES_LIMIT
        );
        assert_eq!(back.settings.log_visibility, Visibility::Controllers);
    }

    #[test]
    fn visibility_lets_controllers_and_the_named_viewers_read() {
        let controllers = vec![vec![1]];
        let viewers = Visibility::AllowedViewers(vec![vec![2]]);
        assert!(viewers.allows(&controllers, &[1]));
        assert!(viewers.allows(&controllers, &[2]));
        assert!(!viewers.allows(&controllers, &[3]));
        assert!(!Visibility::Controllers.allows(&controllers, &[2]));
        assert!(Visibility::Public.allows(&controllers, &[3]));
    }
}
