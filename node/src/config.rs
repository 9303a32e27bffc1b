//! What a node reads at start: its public configuration (TOML, shareable)
//! and its secrets (TOML, file mode 0600).
//!
//! Public: its id and addresses, every node's address, TLS certificate and
//! BLS key, and the subnet's threshold beacon key. Secret: its BLS key, its
//! beacon key share and its TLS key. Paths in a configuration are relative
//! to the file they are in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chainkey_consensus::{Config as ConsensusConfig, NodeId, SubnetKeys};
use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::nidkg::EncryptionSecretKey;
use chainkey_crypto::tecdsa::{MegaPublicKey, MegaSecretKey};
use chainkey_crypto::threshold::{PublicCommitment, SecretKeyShare};
use chainkey_crypto::{MinSig, SecretKey};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::ic::principal::Principal;
use crate::registry::governance::{Governance, Neuron};
use crate::registry::{NodeRecord, RecordError};

/// Why a configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file is not valid TOML for its type.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: toml::de::Error,
    },
    /// The secrets file is not valid TOML for its type (the parser's
    /// message would quote the offending line, a secret: it is not kept).
    #[error("{path}: not a valid secrets file (contents not shown)")]
    SecretsParse {
        /// The file.
        path: PathBuf,
    },
    /// The configuration could not be written as TOML.
    #[error("{path}: {source}")]
    Serialize {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: toml::ser::Error,
    },
    /// A node record's key, proof or address is wrong.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The node list is not in id order `0..n`, or lacks this node.
    #[error("nodes must be listed by id, 0 to n − 1, this node among them")]
    NodeOrder,
    /// A secret (named) is not hex or does not decode.
    #[error("secrets: the {0} does not decode")]
    Secret(&'static str),
    /// One of the subnet's public keys (named) is not hex or does not decode.
    #[error("the subnet's {0} does not decode")]
    SubnetKey(&'static str),
    /// A neuron's controller is not a principal.
    #[error("neuron controller {0:?} is not a principal")]
    NeuronController(String),
}

/// The chain-key signing service.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ChainKeyConfig {
    /// The name of the subnet's ECDSA key (`key_id.name` in requests).
    pub key_name: String,
    /// Presignatures kept made ahead (or in the making) at most.
    pub presignature_pool: usize,
    /// Presignatures kept made ahead at first; each signature made grows the
    /// pool by one, up to `presignature_pool`. A new or idle subnet does not
    /// spend its CPU on presignatures nobody asks for.
    pub first_presignature_pool: usize,
    /// Signing requests waiting for a presignature at most; more are rejected.
    pub max_queued_requests: usize,
}

impl Default for ChainKeyConfig {
    fn default() -> Self {
        ChainKeyConfig {
            key_name: "key_1".into(),
            presignature_pool: 256,
            first_presignature_pool: 32,
            max_queued_requests: 1000,
        }
    }
}

/// Limits on canister execution: what one message may spend, and how much
/// one round (one block) executes. Part of the subnet's configuration:
/// every node must use the same values, since they decide where messages
/// pause and which messages a round runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct ExecutionConfig {
    /// Instructions an update call, callback, heartbeat or timer may use.
    pub update_instructions: u64,
    /// Instructions a query may use.
    pub query_instructions: u64,
    /// Instructions an install or upgrade may use (all its stages).
    pub install_instructions: u64,
    /// Instructions `canister_inspect_message` may use.
    pub inspect_message_instructions: u64,
    /// Bytes all canisters together may hold (heaps, stable memories,
    /// modules); a message that would grow them past it fails.
    pub subnet_memory_bytes: u64,
    /// Instructions one round executes, summed over all canisters; work
    /// past it waits for the next block.
    pub round_instructions: u64,
    /// Instructions a message runs before it pauses; a longer message
    /// continues in later rounds (deterministic time slicing).
    pub slice_instructions: u64,
}

impl Default for ExecutionConfig {
    /// The IC's per-message limits. The round budget is sized for a node
    /// with a core of its own and about 15 blocks per second: wasmtime runs
    /// some 1.2·10⁹ instructions per second on one core here (an endless
    /// heartbeat loop measured on Sapphire Rapids), so a full round of 10⁷
    /// takes ~8 ms, an eighth of a block interval, while it still holds
    /// thousands of small updates. `chainkey subnet`, whose nodes share
    /// the machine's cores, gives each node its share (5·10⁶ for four nodes
    /// on two cores). The IC's own values (7·10⁹ per round, 2·10⁹ per
    /// slice) assume a dedicated machine and about a block per second.
    fn default() -> Self {
        ExecutionConfig {
            update_instructions: 40_000_000_000,
            query_instructions: 5_000_000_000,
            install_instructions: 300_000_000_000,
            inspect_message_instructions: 200_000_000,
            subnet_memory_bytes: 2 << 30,
            round_instructions: 10_000_000,
            slice_instructions: 2_000_000,
        }
    }
}

/// What canisters pay in cycles, and who may mint them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct CyclesConfig {
    /// Fees are the IC's for a 13-node application subnet times
    /// `fee_nodes / 13`, as the IC scales them with a subnet's size.
    pub fee_nodes: u64,
    /// Whether `provisional_create_canister_with_cycles` and
    /// `provisional_top_up_canister` mint cycles (a development subnet, as
    /// dfx and PocketIC run); `chainkey subnet` turns it on.
    pub provisional: bool,
    /// Principals (textual) allowed to mint cycles; empty: anyone.
    pub provisional_principals: Vec<String>,
}

impl Default for CyclesConfig {
    fn default() -> Self {
        CyclesConfig {
            fee_nodes: 13,
            provisional: false,
            provisional_principals: Vec::new(),
        }
    }
}

/// A neuron the subnet's governance starts with.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NeuronConfig {
    /// The principal allowed to propose and vote with it (textual form).
    pub controller: String,
    /// Its stake, the weight of its vote.
    pub stake: u64,
}

impl std::str::FromStr for NeuronConfig {
    type Err = String;

    /// Parses `PRINCIPAL:STAKE`, as the command line takes it.
    fn from_str(text: &str) -> Result<Self, String> {
        let (controller, stake) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("{text}: expected PRINCIPAL:STAKE"))?;
        Principal::from_text(controller)
            .map_err(|error| format!("{controller}: not a principal: {error}"))?;
        let stake = stake
            .parse()
            .map_err(|_| format!("{stake}: the stake is not a whole number"))?;
        Ok(NeuronConfig {
            controller: controller.into(),
            stake,
        })
    }
}

/// Protocol timing; defaults are those of [`ConsensusConfig::new`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(default)]
pub struct TimingConfig {
    /// The unit delay Δ (ms).
    pub delta_ms: Option<u64>,
    /// The notary slack ε (ms).
    pub epsilon_ms: Option<u64>,
}

/// A node's public configuration (`node.toml`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeConfig {
    /// This node's id.
    pub id: NodeId,
    /// Address to accept peer connections on.
    pub listen: SocketAddr,
    /// Address of the HTTP endpoint (ingress, `/status`, `/metrics`).
    pub http: SocketAddr,
    /// Directory of the node's database.
    pub data_dir: PathBuf,
    /// The node's secrets file.
    pub secrets: PathBuf,
    /// The subnet's threshold beacon key (public polynomial, hex).
    pub beacon_commitment: String,
    /// The subnet's state certification key, n − f of n (public
    /// polynomial, hex); its public key is the root key agents trust.
    pub certification_commitment: String,
    /// Every node of the subnet, this one included, by id.
    pub nodes: Vec<NodeRecord>,
    /// Log filter (`tracing` syntax); the `RUST_LOG` variable overrides it.
    #[serde(default = "default_log")]
    pub log: String,
    /// Protocol timing.
    #[serde(default)]
    pub timing: TimingConfig,
    /// Enables the `/debug/*` endpoints tests use to isolate the node or
    /// make it behave as a Byzantine node. Never in production.
    #[serde(default)]
    pub test_hooks: bool,
    /// The chain-key signing service.
    #[serde(default)]
    pub chain_key: ChainKeyConfig,
    /// Canister execution limits.
    #[serde(default)]
    pub execution: ExecutionConfig,
    /// Cycles: fees and provisional minting.
    #[serde(default)]
    pub cycles: CyclesConfig,
    /// Bounds on the HTTP endpoint's connections.
    #[serde(default)]
    pub http_limits: HttpLimits,
    /// Threads verifying signatures in batches (0 = one per core; a local
    /// subnet gives each node its share of the cores).
    #[serde(default)]
    pub verify_threads: usize,
    /// The neurons governing the subnet's membership from genesis (none:
    /// no proposal can be made).
    #[serde(default)]
    pub neurons: Vec<NeuronConfig>,
    /// How many of `nodes` (the first ones) made up the subnet at genesis;
    /// the others joined later through governance (absent: all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genesis_members: Option<usize>,
}

fn default_log() -> String {
    "info".to_string()
}

/// A node's principal and its query-signing key (DER).
pub type NodeKey = (Vec<u8>, Vec<u8>);

/// The principal and DER key of a node whose query-signing key is `key`.
pub fn node_key(key: &ed25519_dalek::VerifyingKey) -> NodeKey {
    let der = crate::ic::envelope::ed25519_der(key.as_bytes());
    let principal = Principal::self_authenticating(&der);
    (principal.as_bytes().to_vec(), der)
}

/// A node's secrets (`secrets.toml`, mode 0600). `Debug` shows nothing.
#[derive(Clone, Serialize, Deserialize)]
pub struct SecretsFile {
    /// BLS secret key (hex).
    pub node_key: String,
    /// Index of the beacon key share.
    pub beacon_index: u32,
    /// The beacon key share (hex).
    pub beacon_share: String,
    /// Index of the certification key share.
    pub certification_index: u32,
    /// The certification key share (hex).
    pub certification_share: String,
    /// TLS private key (PKCS#8 DER, hex).
    pub tls_key: String,
    /// Ed25519 seed of the key signing query responses (hex).
    pub query_key: String,
    /// MEGa decryption key for chain-key ECDSA dealings (hex scalar).
    pub mega_key: String,
    /// NIDKG decryption key for shares of threshold BLS keys (hex scalar).
    pub dkg_key: String,
}

impl std::fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsFile(..)")
    }
}

impl Drop for SecretsFile {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.node_key.zeroize();
        self.beacon_share.zeroize();
        self.certification_share.zeroize();
        self.tls_key.zeroize();
        self.query_key.zeroize();
        self.mega_key.zeroize();
        self.dkg_key.zeroize();
    }
}

/// The decoded secrets of a node.
pub struct Secrets {
    /// Signs proposals, notarization and finalization shares.
    pub node_key: SecretKey,
    /// Signs random-beacon and catch-up shares (none: a node that joined
    /// later, before it decrypts its share of the reshared key).
    pub beacon_share: Option<SecretKeyShare>,
    /// Signs shares of certified state roots (none: as above).
    pub certification_share: Option<SecretKeyShare>,
    /// Authenticates the node's TLS connections (PKCS#8 DER).
    pub tls_key: Zeroizing<Vec<u8>>,
    /// Signs query responses (zeroized on drop).
    pub query_key: ed25519_dalek::SigningKey,
    /// Decrypts this node's shares of chain-key ECDSA transcripts.
    pub mega_key: MegaSecretKey<Secp256k1>,
    /// Decrypts this node's shares of threshold BLS keys (NIDKG).
    pub dkg_key: EncryptionSecretKey,
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One of the subnet's threshold public keys, from its hex text.
fn subnet_key(what: &'static str, text: &str) -> Result<PublicCommitment<MinSig>, ConfigError> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| PublicCommitment::<MinSig>::from_bytes(&bytes).ok())
        .ok_or(ConfigError::SubnetKey(what))
}

/// The bytes of a secret's hex text, wiped when dropped.
fn secret_bytes(what: &'static str, text: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    hex::decode(text)
        .map(Zeroizing::new)
        .map_err(|_| ConfigError::Secret(what))
}

impl NodeConfig {
    /// Reads `path`, resolving relative paths against its directory.
    ///
    /// # Errors
    /// [`ConfigError`] when it cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut config: NodeConfig =
            toml::from_str(&read(path)?).map_err(|source| ConfigError::Parse {
                path: path.to_path_buf(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.secrets = base.join(&config.secrets);
        if config.nodes.get(config.id as usize).map(|node| node.id) != Some(config.id)
            || config
                .nodes
                .iter()
                .enumerate()
                .any(|(i, node)| node.id as usize != i)
        {
            return Err(ConfigError::NodeOrder);
        }
        Ok(config)
    }

    /// Reads this node's secrets.
    ///
    /// # Errors
    /// [`ConfigError`] when the file cannot be read or a key does not decode.
    pub fn load_secrets(&self) -> Result<Secrets, ConfigError> {
        let text = Zeroizing::new(read(&self.secrets)?);
        let file: SecretsFile = toml::from_str(&text).map_err(|_| ConfigError::SecretsParse {
            path: self.secrets.clone(),
        })?;
        let node_key = SecretKey::from_bytes(&secret_bytes("node key", &file.node_key)?)
            .map_err(|_| ConfigError::Secret("node key"))?;
        // Empty for a node that joined after genesis.
        let share = |what: &'static str, index: u32, text: &str| {
            if text.is_empty() {
                return Ok(None);
            }
            let key = SecretKey::from_bytes(&secret_bytes(what, text)?)
                .map_err(|_| ConfigError::Secret(what))?;
            SecretKeyShare::new(index, key)
                .map(Some)
                .map_err(|_| ConfigError::Secret(what))
        };
        Ok(Secrets {
            node_key,
            beacon_share: share("beacon share", file.beacon_index, &file.beacon_share)?,
            certification_share: share(
                "certification share",
                file.certification_index,
                &file.certification_share,
            )?,
            tls_key: secret_bytes("TLS key", &file.tls_key)?,
            query_key: {
                let seed = secret_bytes("query key", &file.query_key)?;
                let seed: &[u8; 32] = seed
                    .as_slice()
                    .try_into()
                    .map_err(|_| ConfigError::Secret("query key"))?;
                ed25519_dalek::SigningKey::from_bytes(seed)
            },
            mega_key: MegaSecretKey::from_bytes(&secret_bytes("MEGa key", &file.mega_key)?)
                .map_err(|_| ConfigError::Secret("MEGa key"))?,
            dkg_key: EncryptionSecretKey::from_bytes(&secret_bytes("DKG key", &file.dkg_key)?)
                .map_err(|_| ConfigError::Secret("DKG key"))?,
        })
    }

    /// Each node's principal and query-signing key (DER), in node order.
    ///
    /// # Errors
    /// [`ConfigError::Record`] for a key that does not decode.
    pub fn query_keys(&self) -> Result<Vec<NodeKey>, ConfigError> {
        let keys: Vec<_> = self
            .nodes
            .iter()
            .map(NodeRecord::ed25519_key)
            .collect::<Result<_, _>>()?;
        Ok(keys.iter().map(node_key).collect())
    }

    /// Each node's Ed25519 key (signing query responses and its chain-key
    /// dealings), in node order.
    ///
    /// # Errors
    /// [`ConfigError::Record`] for a key that does not decode.
    pub fn node_ed25519_keys(&self) -> Result<Vec<ed25519_dalek::VerifyingKey>, ConfigError> {
        Ok(self
            .genesis_nodes()
            .iter()
            .map(NodeRecord::ed25519_key)
            .collect::<Result<_, _>>()?)
    }

    /// The nodes that made up the subnet at genesis.
    pub fn genesis_nodes(&self) -> &[NodeRecord] {
        let count = self.genesis_members.unwrap_or(self.nodes.len());
        &self.nodes[..count.min(self.nodes.len())]
    }

    /// Each node's MEGa encryption key, in node order.
    ///
    /// # Errors
    /// [`ConfigError::Record`] for a key that does not decode.
    pub fn mega_keys(&self) -> Result<Vec<MegaPublicKey<Secp256k1>>, ConfigError> {
        Ok(self
            .genesis_nodes()
            .iter()
            .map(NodeRecord::mega_public_key)
            .collect::<Result<_, _>>()?)
    }

    /// The governance the subnet starts with: the configured neurons,
    /// governing a subnet record listing the configured nodes.
    ///
    /// # Errors
    /// [`ConfigError::NeuronController`] for a controller that is not a principal.
    pub fn genesis_governance(&self) -> Result<Governance, ConfigError> {
        let neurons = self
            .neurons
            .iter()
            .map(|neuron| {
                let controller = Principal::from_text(&neuron.controller)
                    .map_err(|_| ConfigError::NeuronController(neuron.controller.clone()))?;
                Ok(Neuron {
                    controller: controller.as_bytes().to_vec(),
                    stake: neuron.stake,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Governance::new(neurons, self.genesis_nodes().to_vec()))
    }

    /// The subnet's public keys.
    ///
    /// # Errors
    /// [`ConfigError::Record`] or [`ConfigError::SubnetKey`] for a key that
    /// does not decode.
    pub fn subnet_keys(&self) -> Result<SubnetKeys, ConfigError> {
        let committee = self
            .genesis_nodes()
            .iter()
            .map(NodeRecord::bls_public_key)
            .collect::<Result<_, _>>()?;
        let beacon = subnet_key("beacon commitment", &self.beacon_commitment)?;
        Ok(SubnetKeys { committee, beacon })
    }

    /// The subnet's state certification key (its public key is the root key).
    ///
    /// # Errors
    /// [`ConfigError::SubnetKey`] if it does not decode.
    pub fn certification_key(&self) -> Result<PublicCommitment<MinSig>, ConfigError> {
        subnet_key("certification commitment", &self.certification_commitment)
    }

    /// Every node's TLS certificate, by id (joined nodes too).
    ///
    /// # Errors
    /// [`ConfigError::Record`] for a certificate that is not hex.
    pub fn certificates(&self) -> Result<Vec<Vec<u8>>, ConfigError> {
        Ok(self
            .nodes
            .iter()
            .map(NodeRecord::certificate_der)
            .collect::<Result<_, _>>()?)
    }

    /// The consensus parameters for this subnet.
    pub fn consensus(&self) -> ConsensusConfig {
        let mut config = ConsensusConfig::new(self.genesis_nodes().len());
        if let Some(delta) = self.timing.delta_ms {
            config.delta = delta;
        }
        if let Some(epsilon) = self.timing.epsilon_ms {
            config.epsilon = epsilon;
        }
        config
    }

    /// Writes the configuration as TOML.
    ///
    /// # Errors
    /// [`ConfigError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let text = toml::to_string_pretty(self).map_err(|source| ConfigError::Serialize {
            path: path.to_path_buf(),
            source,
        })?;
        std::fs::write(path, text).map_err(|source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

impl SecretsFile {
    /// Writes the secrets as TOML, readable by the owner only (0600).
    ///
    /// # Errors
    /// [`ConfigError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text =
            Zeroizing::new(
                toml::to_string(self).map_err(|source| ConfigError::Serialize {
                    path: path.to_path_buf(),
                    source,
                })?,
            );
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)
    }
}

/// Bounds on the HTTP endpoint's connections (`[http_limits]` in
/// `node.toml`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HttpLimits {
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// Open connections from one client address at most.
    pub max_per_address: usize,
    /// Seconds a client has to send a request's headers (and to start
    /// the next request on a kept-alive connection).
    pub header_timeout_secs: u64,
    /// Seconds a client has to send a request's body.
    pub body_timeout_secs: u64,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: 2048,
            max_per_address: 256,
            header_timeout_secs: 10,
            body_timeout_secs: 20,
        }
    }
}
