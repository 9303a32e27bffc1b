//! Execution on its own thread: finalized blocks go in, in height order;
//! each height's state, its state tree and root hash come out (to be
//! certified). Every [`CHECKPOINT_EVERY`] heights the state is written to
//! disk, so a restarted node re-executes only the blocks after it.
//!
//! Checkpoints are written on a thread of their own from a snapshot of the
//! state (a snapshot shares everything with the live state, so taking it
//! copies nothing); if the last one is still being written, the next is
//! skipped. Canister memory goes to the checkpoint as its image's name and
//! the pages that differ from the image; each image is written once, as a
//! file of the `images` directory named by its content, and removed when
//! no checkpoint names it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{pages, Executor, IngressCall, ReplicatedState};
use crate::ic::state_tree::{CanisterState, CertifiedState, MetadataLeaf};

/// Heights between checkpoints.
pub const CHECKPOINT_EVERY: u64 = 100;

/// What the state tree says about the subnet itself.
#[derive(Clone, Debug, Default)]
pub struct SubnetInfo {
    /// The subnet's principal.
    pub subnet_id: Vec<u8>,
    /// Its public key (DER): the root key.
    pub public_key: Vec<u8>,
    /// Each node's principal and query-signing key (DER).
    pub node_keys: Vec<crate::config::NodeKey>,
}

/// A finalized block for execution.
#[derive(Debug)]
pub struct Block {
    /// Its height.
    pub height: u64,
    /// Its time (Unix ns).
    pub time_ns: u64,
    /// Its hash.
    pub hash: [u8; 32],
    /// The random beacon value of the next height: unpredictable when this
    /// block was made, it gives the randomness of the signing requests
    /// paired at this block's end.
    pub next_beacon: [u8; 32],
    /// Its update calls, in order.
    pub calls: Vec<IngressCall>,
    /// What its chain-key items changed.
    pub chain_key: Vec<crate::chain_key::ChainKeyEvent>,
    /// Query counts its maker's node reported, by canister.
    pub query_stats: Vec<(Vec<u8>, super::QueryCounts)>,
}

/// One executed height.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The height.
    pub height: u64,
    /// The state after it.
    pub state: Arc<ReplicatedState>,
    /// Its state tree.
    pub tree: Arc<CertifiedState>,
    /// The tree's root hash (what the subnet certifies).
    pub root: [u8; 32],
    /// A digest of the whole state (for comparing nodes).
    pub digest: [u8; 32],
    /// Update calls the height's block carried.
    pub calls: usize,
    /// Signing requests paired at this height (on a restart, also those
    /// paired before and not yet signed).
    pub sign_jobs: Vec<crate::chain_key::SignJob>,
}

/// The state tree of `state` on subnet `subnet`, whose nodes' keys are
/// `node_keys` (see [`NodeKeys`]).
pub fn state_tree(
    state: &ReplicatedState,
    subnet: &SubnetInfo,
    node_keys: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> CertifiedState {
    CertifiedState {
        time_ns: state.time_ns,
        subnet_id: subnet.subnet_id.clone(),
        subnet_public_key: subnet.public_key.clone(),
        canister_ranges: super::management::canister_ranges(),
        node_public_keys: node_keys.clone(),
        canisters: state
            .canisters
            .iter()
            .map(|(id, canister)| {
                let summary = CanisterState {
                    certified_data: canister.certified_data.clone(),
                    module_hash: canister.code.as_ref().map(|code| code.module_hash),
                    controllers: canister.controllers.clone(),
                    metadata: canister
                        .code
                        .iter()
                        .flat_map(|code| &code.metadata)
                        .map(|(name, section)| {
                            let leaf = MetadataLeaf {
                                content: Arc::clone(&section.content),
                                digest: section.digest,
                            };
                            (name.clone(), leaf)
                        })
                        .collect(),
                };
                (id.clone(), summary)
            })
            .collect(),
        request_status: state.request_status.clone(),
    }
}

/// The query-signing keys of the subnet's nodes (principal → DER key):
/// the members of its governance's current record (so a node that joined
/// is listed alike on every node), or the configured ones without
/// governance state. Decoded when the record changes, not at every height.
#[derive(Default)]
pub struct NodeKeys {
    /// The registry version the keys are of.
    version: Option<u64>,
    keys: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl NodeKeys {
    /// The keys for `state` on `subnet`.
    pub fn of(
        &mut self,
        state: &ReplicatedState,
        subnet: &SubnetInfo,
    ) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        let record = state.governance.subnet();
        if self.version != Some(record.version) {
            self.version = Some(record.version);
            self.keys = if record.members.is_empty() {
                subnet.node_keys.iter().cloned().collect()
            } else {
                // Governance adopts only records whose keys decode.
                record
                    .members
                    .values()
                    .filter_map(|member| member.ed25519_key().ok())
                    .map(|key| crate::config::node_key(&key))
                    .collect()
            };
        }
        &self.keys
    }
}

/// Where the checkpoint of a node with data directory `dir` lives.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join("checkpoint.cbor")
}

/// Where the memory images of the checkpoint in `dir` live.
fn images_path(dir: &Path) -> PathBuf {
    dir.join("images")
}

/// Why a checkpoint did not load.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The file exists but cannot be read.
    #[error("cannot read the checkpoint {path}: {source}")]
    Read {
        /// The checkpoint's path.
        path: PathBuf,
        /// What reading it gave.
        source: std::io::Error,
    },
    /// It does not decode: a damaged file, or a memory image it names is
    /// missing or damaged.
    #[error("cannot decode the checkpoint {path}: {source}")]
    Decode {
        /// The checkpoint's path.
        path: PathBuf,
        /// What decoding it gave.
        source: ciborium::de::Error<std::io::Error>,
    },
}

/// Reads the checkpoint in `dir`, if any.
///
/// # Errors
/// If it exists but does not read or decode.
pub fn load_checkpoint(dir: &Path) -> Result<Option<ReplicatedState>, CheckpointError> {
    let path = checkpoint_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(CheckpointError::Read { path, source }),
    };
    let (state, _) = pages::with_image_dir(&images_path(dir), || {
        ciborium::from_reader(bytes.as_slice())
    });
    state
        .map(Some)
        .map_err(|source| CheckpointError::Decode { path, source })
}

/// Writes `state` as the checkpoint in `dir`, its memory images beside it.
pub(super) fn write_checkpoint(dir: &Path, state: &ReplicatedState) -> std::io::Result<()> {
    let images = images_path(dir);
    std::fs::create_dir_all(&images)?;
    let (bytes, named) = pages::with_image_dir(&images, || {
        let mut bytes = Vec::new();
        ciborium::into_writer(state, &mut bytes).map(|()| bytes)
    });
    let bytes = bytes.map_err(std::io::Error::other)?;
    // The images the checkpoint names are durable before it is: their
    // renames are made durable by syncing their directory.
    sync_directory(&images)?;
    let temporary = dir.join("checkpoint.cbor.tmp");
    std::fs::write(&temporary, bytes)?;
    std::fs::File::open(&temporary)?.sync_all()?;
    std::fs::rename(temporary, checkpoint_path(dir))?;
    // Without this, a crash may keep the old name: the rename is an entry
    // of the directory, durable only once the directory is synced.
    sync_directory(dir)?;
    for entry in std::fs::read_dir(&images)? {
        let entry = entry?;
        if !named.contains(entry.file_name().to_string_lossy().as_ref()) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Makes the entries of directory `dir` (new and renamed files) durable.
fn sync_directory(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Starts the thread that writes checkpoints of the states sent to it.
fn spawn_checkpoint_writer(dir: PathBuf) -> std::sync::mpsc::SyncSender<Arc<ReplicatedState>> {
    let (sender, states) = std::sync::mpsc::sync_channel::<Arc<ReplicatedState>>(0);
    std::thread::Builder::new()
        .name("checkpoint".into())
        .spawn(move || {
            for state in states {
                if let Err(error) = write_checkpoint(&dir, &state) {
                    tracing::error!(%error, "cannot write the execution checkpoint");
                }
            }
        })
        .expect("the checkpoint thread starts");
    sender
}

/// Starts the execution thread on `executor`; executed heights go to `out`.
pub fn spawn(
    mut executor: Executor,
    subnet: SubnetInfo,
    dir: PathBuf,
    out: tokio::sync::mpsc::UnboundedSender<Executed>,
) -> std::sync::mpsc::Sender<Block> {
    let (sender, blocks) = std::sync::mpsc::channel::<Block>();
    std::thread::Builder::new()
        .name("execution".into())
        .stack_size(super::wasm::THREAD_STACK)
        .spawn(move || {
            let checkpoints = spawn_checkpoint_writer(dir);
            // Requests paired before a restart are signed again.
            let mut sign_jobs = executor.paired_jobs();
            let mut node_keys = NodeKeys::default();
            for block in blocks {
                if block.height != executor.state.height + 1 {
                    continue; // executed before (from the checkpoint)
                }
                let calls = block.calls.len();
                let height = block.height;
                executor.execute_block(block);
                sign_jobs.extend(executor.take_sign_jobs());
                let state = Arc::new(executor.state.clone());
                let tree = state_tree(&state, &subnet, node_keys.of(&state, &subnet));
                if height.is_multiple_of(CHECKPOINT_EVERY)
                    && checkpoints.try_send(Arc::clone(&state)).is_err()
                {
                    tracing::debug!(
                        height,
                        "the last checkpoint is still being written: skipped"
                    );
                }
                let executed = Executed {
                    height,
                    root: tree.root(),
                    digest: state.digest(),
                    calls,
                    sign_jobs: std::mem::take(&mut sign_jobs),
                    tree: Arc::new(tree),
                    state,
                };
                if out.send(executed).is_err() {
                    break;
                }
            }
        })
        .expect("the execution thread starts");
    sender
}
