//! A new subnet: every node's keys, two threshold keys from the
//! non-interactive DKG (the random beacon's, f + 1 of n, and the state
//! certification key, n − f of n, whose public key is the subnet's root key
//! for IC agents), and a configuration directory per node.
//!
//! The genesis tool plays every dealer and receiver of the genesis NIDKG
//! (it creates every node's keys, so it is trusted with them anyway; on the
//! Internet Computer the NNS plays this part). Each node's directory gets
//! only its own secrets, and the tool keeps none.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use chainkey_consensus::NodeId;
use chainkey_crypto::batch::Secp256k1;
use chainkey_crypto::nidkg::{
    verify_dealings, Dealing, DkgConfig, DkgError, EncryptionPublicKey, EncryptionSecretKey,
    Transcript,
};
use chainkey_crypto::tecdsa::MegaSecretKey;
use chainkey_crypto::threshold::{PublicCommitment, SecretKeyShare};
use chainkey_crypto::{MinSig, SecretKey};
use rand::{CryptoRng, RngCore, SeedableRng};

use crate::registry::node_record::dkg_possession_context;
use crate::registry::NodeRecord;

use crate::config::{
    ChainKeyConfig, ConfigError, CyclesConfig, ExecutionConfig, NeuronConfig, NodeConfig,
    SecretsFile, TimingConfig,
};

/// Where one node listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeAddresses {
    /// Peer connections.
    pub p2p: SocketAddr,
    /// HTTP: ingress, status, metrics.
    pub http: SocketAddr,
}

/// Why genesis failed.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// Writing a file failed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The DKG failed (cannot happen with honest local dealers).
    #[error("genesis NIDKG: {0}")]
    Dkg(#[from] chainkey_crypto::nidkg::DkgError),
    /// A TLS certificate could not be made.
    #[error("TLS certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A joining node's address is not a socket address.
    #[error("{0:?} is not a socket address")]
    Address(String),
    /// Fewer than one node.
    #[error("a subnet needs at least one node")]
    NoNodes,
}

/// The file name of node `id`'s configuration under a genesis directory.
pub fn config_path(out: &Path, id: NodeId) -> PathBuf {
    out.join(format!("node-{id}")).join("node.toml")
}

/// One node's own keys: the secrets it keeps, and the record (public keys)
/// every other node knows it by. A node joining a running subnet makes
/// these and publishes the record in a governance proposal.
pub struct NodeKeys {
    node_key: SecretKey,
    query_key: ed25519_dalek::SigningKey,
    mega_key: MegaSecretKey<Secp256k1>,
    dkg_key: EncryptionSecretKey,
    tls: rcgen::CertifiedKey,
}

impl NodeKeys {
    /// Fresh keys for node `id`.
    ///
    /// # Errors
    /// [`GenesisError::Certificate`] if the TLS certificate cannot be made.
    pub fn generate(
        id: NodeId,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Self, GenesisError> {
        let tls = rcgen::generate_simple_self_signed(vec![format!("chainkey-node-{id}")])?;
        Ok(NodeKeys {
            node_key: SecretKey::generate(rng),
            query_key: ed25519_dalek::SigningKey::generate(rng),
            mega_key: MegaSecretKey::generate(rng),
            dkg_key: EncryptionSecretKey::generate(rng),
            tls,
        })
    }

    /// The record of this node as member `id` listening on `address`.
    pub fn record(
        &self,
        id: NodeId,
        address: &str,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> NodeRecord {
        let public_key = hex::encode(self.node_key.public_key::<MinSig>().to_bytes());
        let possession = self
            .dkg_key
            .prove_possession(&dkg_possession_context(&public_key), rng);
        let key_possession = chainkey_crypto::Ciphersuite::<MinSig>::proof_of_possession()
            .prove_possession(&self.node_key)
            .to_bytes();
        NodeRecord {
            id,
            address: address.into(),
            certificate: hex::encode(self.tls.cert.der()),
            public_key,
            key_possession: hex::encode(key_possession),
            query_key: hex::encode(self.query_key.verifying_key().as_bytes()),
            mega_key: hex::encode(self.mega_key.public_key().to_bytes()),
            dkg_key: hex::encode(self.dkg_key.public_key().to_bytes()),
            dkg_possession: hex::encode(possession.to_bytes()),
        }
    }

    /// Its NIDKG encryption key.
    pub fn dkg_public_key(&self) -> EncryptionPublicKey {
        self.dkg_key.public_key()
    }

    /// Its secrets file, with its shares of the beacon and certification
    /// keys (none: a node joining a running subnet, which decrypts its
    /// shares from the chain).
    pub fn secrets(&self, shares: Option<(&SecretKeyShare, &SecretKeyShare)>) -> SecretsFile {
        let index = |share: Option<&SecretKeyShare>| share.map_or(0, SecretKeyShare::index);
        let secret = |share: Option<&SecretKeyShare>| {
            share.map_or(String::new(), |share| {
                hex::encode(*share.secret_key().to_bytes())
            })
        };
        let (beacon, certification) = shares.unzip();
        SecretsFile {
            node_key: hex::encode(*self.node_key.to_bytes()),
            beacon_index: index(beacon),
            beacon_share: secret(beacon),
            certification_index: index(certification),
            certification_share: secret(certification),
            tls_key: hex::encode(self.tls.key_pair.serialize_der()),
            query_key: hex::encode(self.query_key.to_bytes()),
            mega_key: hex::encode(&*self.mega_key.to_bytes()),
            dkg_key: hex::encode(*self.dkg_key.to_bytes()),
        }
    }
}

/// Writes `out/node-<i>/node.toml` and `secrets.toml` for every node, with
/// `neurons` governing the subnet's membership, and returns the
/// configuration paths.
///
/// # Errors
/// [`GenesisError`].
pub fn write_genesis(
    out: &Path,
    nodes: &[NodeAddresses],
    neurons: &[NeuronConfig],
    test_hooks: bool,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Vec<PathBuf>, GenesisError> {
    if nodes.is_empty() {
        return Err(GenesisError::NoNodes);
    }
    let n = nodes.len();
    let threshold = (n - 1) / 3 + 1;
    let keys: Vec<NodeKeys> = (0..n as NodeId)
        .map(|id| NodeKeys::generate(id, rng))
        .collect::<Result<_, _>>()?;
    let receivers: Vec<EncryptionPublicKey> = keys.iter().map(NodeKeys::dkg_public_key).collect();
    // The two keys' NIDKGs are independent: they run on two cores, the
    // second with a generator seeded from the first.
    let mut certification_rng =
        rand::rngs::StdRng::from_rng(&mut *rng).expect("a generator seeds another");
    let (beacon, certification) = std::thread::scope(|scope| {
        let certification = scope.spawn(|| {
            threshold_key(
                b"chainkey genesis certification key",
                &keys,
                &receivers,
                n - threshold + 1,
                &mut certification_rng,
            )
        });
        let beacon = threshold_key(
            b"chainkey genesis beacon key",
            &keys,
            &receivers,
            threshold,
            rng,
        );
        (
            beacon,
            certification
                .join()
                .expect("the certification key's thread"),
        )
    });
    let (beacon, beacon_shares) = beacon?;
    let (certification, certification_shares) = certification?;
    let peers: Vec<NodeRecord> = (0..n)
        .map(|id| keys[id].record(id as NodeId, &nodes[id].p2p.to_string(), rng))
        .collect();
    let mut paths = Vec::new();
    for (id, node_keys) in keys.iter().enumerate() {
        let path = config_path(out, id as NodeId);
        let dir = path.parent().expect("a node directory");
        std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        node_keys
            .secrets(Some((&beacon_shares[id], &certification_shares[id])))
            .save(&dir.join("secrets.toml"))?;
        NodeConfig {
            id: id as NodeId,
            listen: nodes[id].p2p,
            http: nodes[id].http,
            data_dir: "data".into(),
            secrets: "secrets.toml".into(),
            beacon_commitment: hex::encode(beacon.to_bytes()),
            certification_commitment: hex::encode(certification.to_bytes()),
            nodes: peers.clone(),
            log: "info".into(),
            timing: TimingConfig::default(),
            test_hooks,
            chain_key: ChainKeyConfig::default(),
            execution: ExecutionConfig::default(),
            cycles: CyclesConfig::default(),
            http_limits: crate::config::HttpLimits::default(),
            verify_threads: 0,
            neurons: neurons.to_vec(),
            genesis_members: None,
        }
        .save(&path)?;
        paths.push(path);
    }
    Ok(paths)
}

/// Writes the configuration and secrets of a node joining the running
/// subnet `existing` (a member's configuration) as `record` (which a
/// governance proposal adds), serving HTTP on `http`, under `out`; the
/// configuration's path. The node learns the membership change, its key
/// shares and the state from the chain once the proposal is adopted.
///
/// # Errors
/// [`GenesisError::Config`] when a file cannot be written or the record's
/// address is not a socket address.
pub fn write_joining_node(
    out: &Path,
    existing: &NodeConfig,
    keys: &NodeKeys,
    record: &NodeRecord,
    http: SocketAddr,
) -> Result<PathBuf, GenesisError> {
    let listen: SocketAddr = record
        .address
        .parse()
        .map_err(|_| GenesisError::Address(record.address.clone()))?;
    let path = config_path(out, record.id);
    let dir = path.parent().expect("a node directory");
    std::fs::create_dir_all(dir).map_err(|source| ConfigError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    keys.secrets(None).save(&dir.join("secrets.toml"))?;
    let mut nodes = existing.nodes.clone();
    nodes.push(record.clone());
    NodeConfig {
        id: record.id,
        listen,
        http,
        data_dir: "data".into(),
        secrets: "secrets.toml".into(),
        genesis_members: Some(existing.genesis_nodes().len()),
        nodes,
        ..existing.clone()
    }
    .save(&path)?;
    Ok(path)
}

/// A genesis NIDKG to the nodes' encryption keys: every node deals, all
/// dealings are verified in one batch, and each node's share is decrypted
/// with its key.
fn threshold_key(
    dkg_id: &[u8],
    keys: &[NodeKeys],
    receivers: &[EncryptionPublicKey],
    threshold: usize,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(PublicCommitment<MinSig>, Vec<SecretKeyShare>), GenesisError> {
    let n = keys.len();
    let config = DkgConfig::new(dkg_id, receivers.to_vec(), threshold, n)?;
    let dealings = (0..n as u32)
        .map(|dealer| Ok((dealer, Dealing::create(&config, dealer, rng)?)))
        .collect::<Result<Vec<_>, DkgError>>()?;
    let verified = verify_dealings(&config, dealings)
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let transcript = Transcript::create(&config, verified)?;
    let shares = keys
        .iter()
        .enumerate()
        .map(|(position, key)| transcript.decrypt_share(position, &key.dkg_key))
        .collect::<Result<_, DkgError>>()?;
    Ok((transcript.commitment().clone(), shares))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genesis_configs_load_and_the_threshold_shares_sign_under_the_subnet_keys() {
        let dir = tempfile::tempdir().unwrap();
        let addresses: Vec<NodeAddresses> = (0..4)
            .map(|i| NodeAddresses {
                p2p: format!("127.0.0.1:{}", 7000 + i).parse().unwrap(),
                http: format!("127.0.0.1:{}", 8000 + i).parse().unwrap(),
            })
            .collect();
        let paths =
            write_genesis(dir.path(), &addresses, &[], false, &mut rand::thread_rng()).unwrap();
        let suite = chainkey_crypto::Ciphersuite::<MinSig>::basic();
        let mut shares = Vec::new();
        let mut certification_shares = Vec::new();
        for (id, path) in paths.iter().enumerate() {
            let config = NodeConfig::load(path).unwrap();
            assert_eq!(config.id as usize, id);
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(&config.secrets).unwrap().permissions(),
            );
            assert_eq!(mode & 0o777, 0o600, "secrets are the owner's only");
            let secrets = config.load_secrets().unwrap();
            let record = &config.nodes[id];
            record.check().unwrap();
            assert_eq!(
                record.dkg_public_key().unwrap(),
                secrets.dkg_key.public_key()
            );
            shares.push(suite.sign_share(secrets.beacon_share.as_ref().unwrap(), b"beacon"));
            certification_shares
                .push(suite.sign_share(secrets.certification_share.as_ref().unwrap(), b"root"));
        }
        let keys = NodeConfig::load(&paths[0]).unwrap().subnet_keys().unwrap();
        assert_eq!(keys.committee.len(), 4);
        // Any f + 1 = 2 shares make a signature under the DKG's key.
        let signature = suite
            .combine(&keys.beacon, b"beacon", &shares[1..3])
            .unwrap();
        suite
            .verify(&keys.beacon.public_key(), b"beacon", &signature)
            .unwrap();
        // The certification key needs n − f = 3 shares.
        let certification = NodeConfig::load(&paths[0])
            .unwrap()
            .certification_key()
            .unwrap();
        let root = certification.public_key();
        let signature = suite
            .combine(&certification, b"root", &certification_shares[1..4])
            .unwrap();
        suite.verify(&root, b"root", &signature).unwrap();
        let too_few = suite.combine(&certification, b"root", &certification_shares[..2]);
        assert!(too_few.is_err() || suite.verify(&root, b"root", &too_few.unwrap()).is_err());
    }

    #[test]
    fn a_joining_node_gets_the_subnet_configuration_its_record_and_no_key_shares() {
        let dir = tempfile::tempdir().unwrap();
        let addresses: Vec<NodeAddresses> = (0..4)
            .map(|i| NodeAddresses {
                p2p: format!("127.0.0.1:{}", 7100 + i).parse().unwrap(),
                http: format!("127.0.0.1:{}", 8100 + i).parse().unwrap(),
            })
            .collect();
        let mut rng = rand::thread_rng();
        let paths = write_genesis(dir.path(), &addresses, &[], false, &mut rng).unwrap();
        let member = NodeConfig::load(&paths[0]).unwrap();
        let keys = NodeKeys::generate(4, &mut rng).unwrap();
        let record = keys.record(4, "127.0.0.1:7104", &mut rng);
        let http = "127.0.0.1:8104".parse().unwrap();
        let path = write_joining_node(dir.path(), &member, &keys, &record, http).unwrap();
        assert_eq!(path, config_path(dir.path(), 4));
        let joining = NodeConfig::load(&path).unwrap();
        assert_eq!((joining.id, joining.http), (4, http));
        assert_eq!(joining.nodes.len(), 5);
        assert_eq!(joining.nodes[4], record);
        assert_eq!(joining.genesis_nodes(), member.nodes.as_slice());
        assert_eq!(joining.subnet_keys().unwrap().committee.len(), 4);
        assert_eq!(joining.beacon_commitment, member.beacon_commitment);
        let secrets = joining.load_secrets().unwrap();
        assert!(secrets.beacon_share.is_none() && secrets.certification_share.is_none());
        assert_eq!(
            record.dkg_public_key().unwrap(),
            secrets.dkg_key.public_key()
        );
        assert!(write_joining_node(
            dir.path(),
            &member,
            &keys,
            &NodeRecord {
                address: "not an address".into(),
                ..record
            },
            http
        )
        .is_err());
    }
}
