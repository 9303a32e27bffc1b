//! The management canister's chain-key ECDSA methods: `ecdsa_public_key`
//! answers at once; `sign_with_ecdsa` queues the request (with a bound),
//! pairs it with the next ready presignature and beacon randomness at the
//! end of a block, and answers the canister when a block carries the
//! combined signature.

use std::collections::{BTreeMap, VecDeque};

use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{reject_code, Executor, Origin, Reject};
use crate::chain_key::{ChainKeyEvent, Curve, SignJob, SignatureItem};

/// A `sign_with_ecdsa` call waiting for its signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignature {
    /// Where the answer goes.
    pub origin: Origin,
    /// Cycles attached (refunded: signing is free here).
    pub cycles: u128,
    /// What is signed, once paired.
    pub job: SignJob,
}

/// Chain-key signing in the replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningState {
    /// The master public key (SEC1 compressed), once made.
    #[serde(with = "serde_bytes")]
    pub master_key: Vec<u8>,
    /// Ready presignatures not yet paired, in the order they became ready.
    pub available: VecDeque<u64>,
    /// Requests waiting for a presignature, in arrival order.
    pub queued: VecDeque<PendingSignature>,
    /// Requests paired with a presignature, by presignature.
    pub paired: BTreeMap<u64, PendingSignature>,
}

fn bad_argument(method: &str, why: impl std::fmt::Display) -> Reject {
    Reject::new(
        reject_code::CANISTER_REJECT,
        "IC0503",
        format!("{method}: {why}"),
    )
}

/// The key id of a request, checked against the subnet's key.
fn check_key(executor: &Executor, method: &str, key_id: &types::EcdsaKeyId) -> Result<(), Reject> {
    if key_id.name != executor.chain_key.key_name {
        return Err(bad_argument(
            method,
            format!(
                "unknown key {:?}; this subnet has {:?}",
                key_id.name, executor.chain_key.key_name
            ),
        ));
    }
    if executor.state.signing.master_key.is_empty() {
        return Err(Reject::new(
            reject_code::SYS_TRANSIENT,
            "IC0101",
            format!("{method}: the key is still being generated; retry"),
        ));
    }
    Ok(())
}

/// At most this many derivation path elements (the IC's limit).
const MAX_PATH: usize = 255;

fn check_path(method: &str, path: &[Vec<u8>]) -> Result<(), Reject> {
    if path.len() > MAX_PATH {
        return Err(bad_argument(
            method,
            format!("derivation path longer than {MAX_PATH} elements"),
        ));
    }
    Ok(())
}

impl Executor {
    /// `ecdsa_public_key` for `caller`.
    pub(super) fn ecdsa_public_key(&self, caller: &[u8], arg: &[u8]) -> Result<Vec<u8>, Reject> {
        const METHOD: &str = "ecdsa_public_key";
        let args: types::EcdsaPublicKeyArgs = super::management::decode(METHOD, arg)?;
        check_key(self, METHOD, &args.key_id)?;
        check_path(METHOD, &args.derivation_path)?;
        let owner = args
            .canister_id
            .map_or_else(|| caller.to_vec(), |id| id.as_slice().to_vec());
        let master = curve_point(&self.state.signing.master_key)
            .ok_or_else(|| Reject::new(reject_code::SYS_FATAL, "IC0504", "corrupt master key"))?;
        let (public_key, chain_code) = chainkey_crypto::tecdsa::ecdsa_public_key::<Curve>(
            &master,
            &owner,
            &args.derivation_path,
        )
        .map_err(|error| bad_argument(METHOD, error))?;
        Ok(super::management::encode(types::EcdsaPublicKeyResult {
            public_key,
            chain_code: chain_code.to_vec(),
        }))
    }

    /// `sign_with_ecdsa` from a canister: queued, answered later. The
    /// error is the immediate rejection.
    pub(super) fn sign_with_ecdsa(
        &mut self,
        origin: Origin,
        caller: Vec<u8>,
        arg: &[u8],
        cycles: u128,
    ) -> Result<(), Reject> {
        const METHOD: &str = "sign_with_ecdsa";
        if !matches!(origin, Origin::Canister { .. }) {
            return Err(Reject::new(
                reject_code::CANISTER_REJECT,
                "IC0516",
                format!("{METHOD} can only be called by a canister"),
            ));
        }
        let args: types::SignWithEcdsaArgs = super::management::decode(METHOD, arg)?;
        check_key(self, METHOD, &args.key_id)?;
        let message_hash: [u8; 32] = args
            .message_hash
            .as_slice()
            .try_into()
            .map_err(|_| bad_argument(METHOD, "message_hash must be 32 bytes"))?;
        check_path(METHOD, &args.derivation_path)?;
        let fee = self.fees.sign_with_ecdsa;
        if cycles < fee {
            return Err(Reject::new(
                reject_code::CANISTER_REJECT,
                "IC0406",
                format!(
                    "{METHOD} request sent with {cycles} cycles, but {fee} cycles are required."
                ),
            ));
        }
        if self.state.signing.queued.len() >= self.chain_key.max_queued_requests {
            return Err(Reject::new(
                reject_code::SYS_TRANSIENT,
                "IC0515",
                format!(
                    "{METHOD}: the signing queue is full ({} requests); retry later",
                    self.chain_key.max_queued_requests
                ),
            ));
        }
        self.state.signing.queued.push_back(PendingSignature {
            origin,
            // What is left of the cycles attached goes back with the answer.
            cycles: cycles - fee,
            job: SignJob {
                presignature: 0,
                caller,
                path: args
                    .derivation_path
                    .into_iter()
                    .map(serde_bytes::ByteBuf::from)
                    .collect(),
                message_hash,
                randomness: [0; 32],
            },
        });
        Ok(())
    }

    /// Applies a block's chain-key events (before its messages).
    pub(super) fn apply_chain_key(&mut self, events: Vec<ChainKeyEvent>) {
        for event in events {
            match event {
                ChainKeyEvent::KeyReady(key) => self.state.signing.master_key = key,
                ChainKeyEvent::PresignatureReady(i) => self.state.signing.available.push_back(i),
                ChainKeyEvent::Signed(item) => self.deliver_signature(item),
                ChainKeyEvent::PresignaturesRetired(retired) => self.retire(&retired),
            }
        }
    }

    /// Forgets retired presignatures: requests paired with one go back to
    /// the front of the queue, in their pairing order, to pair again.
    fn retire(&mut self, retired: &[u64]) {
        let signing = &mut self.state.signing;
        signing.available.retain(|i| !retired.contains(i));
        let mut sorted = retired.to_vec();
        sorted.sort_unstable();
        for i in sorted.into_iter().rev() {
            if let Some(pending) = signing.paired.remove(&i) {
                signing.queued.push_front(pending);
            }
        }
    }

    fn deliver_signature(&mut self, item: SignatureItem) {
        let i = item.job.presignature;
        if self
            .state
            .signing
            .paired
            .get(&i)
            .map(|pending| &pending.job)
            != Some(&item.job)
        {
            // Blocks only carry signatures of paired requests: every node
            // paired alike, and the signature is bound to the pairing.
            tracing::error!(i, "a finalized signature for no paired request");
            return;
        }
        let pending = self.state.signing.paired.remove(&i).expect("checked above");
        let reply = super::management::encode(types::SignWithEcdsaResult {
            signature: item.signature,
        });
        self.respond(pending.origin, Ok(reply), pending.cycles);
    }

    /// Pairs the queued requests with ready presignatures, each with
    /// randomness from `beacon` — the next height's, not known when the
    /// requests were made, so a caller cannot choose its message knowing
    /// the nonce. Every node signs the pairs.
    pub(super) fn pair_requests(&mut self, beacon: &[u8; 32]) {
        let signing = &mut self.state.signing;
        while !signing.queued.is_empty() && !signing.available.is_empty() {
            let (Some(mut pending), Some(i)) =
                (signing.queued.pop_front(), signing.available.pop_front())
            else {
                break;
            };
            pending.job.presignature = i;
            pending.job.randomness = Sha256::new()
                .chain_update(b"chainkey ECDSA signing randomness")
                .chain_update(beacon)
                .chain_update(i.to_be_bytes())
                .finalize()
                .into();
            self.sign_jobs.push(pending.job.clone());
            signing.paired.insert(i, pending);
        }
    }

    /// The jobs of every request paired and not yet signed (for a node
    /// that restarted: its signer lost them).
    pub fn paired_jobs(&self) -> Vec<SignJob> {
        self.state
            .signing
            .paired
            .values()
            .map(|pending| pending.job.clone())
            .collect()
    }
}

fn curve_point(bytes: &[u8]) -> Option<k256::ProjectivePoint> {
    use group::GroupEncoding;
    let bytes: [u8; 33] = bytes.try_into().ok()?;
    Option::from(k256::ProjectivePoint::from_bytes(&bytes.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::wasm::Runtime;
    use crate::execution::{Message, ReplicatedState};
    use std::sync::Arc;

    const CANISTER: &[u8] = &[0, 0, 0, 0, 0, 0, 0, 1, 1, 1];

    fn new_executor(max_queued_requests: usize) -> Executor {
        Executor::new(Arc::new(Runtime::new()), ReplicatedState::default()).with_chain_key(
            crate::config::ChainKeyConfig {
                key_name: "key_1".into(),
                presignature_pool: 4,
                first_presignature_pool: 4,
                max_queued_requests,
            },
        )
    }

    fn from_canister(callback: u64) -> Origin {
        Origin::Canister {
            caller: CANISTER.to_vec(),
            callback,
        }
    }

    fn sign_args(name: &str, hash: &[u8]) -> Vec<u8> {
        candid::encode_one(types::SignWithEcdsaArgs {
            message_hash: hash.to_vec(),
            derivation_path: vec![b"path".to_vec()],
            key_id: types::EcdsaKeyId {
                curve: types::EcdsaCurve::Secp256k1,
                name: name.into(),
            },
        })
        .unwrap()
    }

    /// Cycles a request attaches: the IC's fee and a little more.
    const ATTACHED: u128 = 26_200_000_000;

    fn sign(executor: &mut Executor, callback: u64, args: &[u8]) -> Result<(), Reject> {
        executor.sign_with_ecdsa(from_canister(callback), CANISTER.to_vec(), args, ATTACHED)
    }

    fn master_key() -> Vec<u8> {
        use group::GroupEncoding;
        let point = k256::ProjectivePoint::GENERATOR * k256::Scalar::from(12345u64);
        point.to_bytes().to_vec()
    }

    #[test]
    fn requests_are_checked_queued_with_a_bound_and_rejected_clearly() {
        let mut executor = new_executor(2);
        let args = sign_args("key_1", &[1; 32]);
        let early = sign(&mut executor, 1, &args).unwrap_err();
        assert_eq!(
            (early.code, early.error_code.as_str()),
            (reject_code::SYS_TRANSIENT, "IC0101")
        );
        executor.apply_chain_key(vec![ChainKeyEvent::KeyReady(master_key())]);
        let wrong_key = sign(&mut executor, 1, &sign_args("key_2", &[1; 32])).unwrap_err();
        assert_eq!(wrong_key.code, reject_code::CANISTER_REJECT);
        assert!(wrong_key.message.contains("key_2"), "{}", wrong_key.message);
        let short = sign(&mut executor, 1, &sign_args("key_1", &[1; 31])).unwrap_err();
        assert!(short.message.contains("32 bytes"), "{}", short.message);
        let user = executor
            .sign_with_ecdsa(Origin::Ingress([0; 32]), vec![4], &args, 0)
            .unwrap_err();
        assert_eq!(user.error_code, "IC0516");
        // The fee is the IC's for key_1: one cycle less is refused.
        let poor = executor
            .sign_with_ecdsa(from_canister(1), CANISTER.to_vec(), &args, 26_153_846_152)
            .unwrap_err();
        assert_eq!(poor.code, reject_code::CANISTER_REJECT);
        assert!(
            poor.message.contains("26153846153 cycles are required"),
            "{}",
            poor.message
        );
        sign(&mut executor, 1, &args).unwrap();
        sign(&mut executor, 2, &args).unwrap();
        let full = sign(&mut executor, 3, &args).unwrap_err();
        assert_eq!(
            (full.code, full.error_code.as_str()),
            (reject_code::SYS_TRANSIENT, "IC0515")
        );
    }

    #[test]
    fn requests_pair_with_presignatures_in_order_and_are_answered_by_their_signature() {
        let mut executor = new_executor(10);
        executor.apply_chain_key(vec![
            ChainKeyEvent::KeyReady(master_key()),
            ChainKeyEvent::PresignatureReady(7),
            ChainKeyEvent::PresignatureReady(9),
        ]);
        for (callback, hash) in [(1, [1; 32]), (2, [2; 32]), (3, [3; 32])] {
            sign(&mut executor, callback, &sign_args("key_1", &hash)).unwrap();
        }
        executor.pair_requests(&[5; 32]);
        let jobs = executor.take_sign_jobs();
        assert_eq!(
            jobs.iter()
                .map(|job| (job.presignature, job.message_hash[0]))
                .collect::<Vec<_>>(),
            vec![(7, 1), (9, 2)]
        );
        assert_ne!(jobs[0].randomness, jobs[1].randomness);
        assert_eq!(
            executor.state.signing.queued.len(),
            1,
            "waits for a presignature"
        );
        // Randomness is the beacon's: another beacon pairs differently.
        let mut other = new_executor(10);
        other.state = executor.state.clone();
        other.state.signing.available.push_back(11);
        other.pair_requests(&[6; 32]);
        executor.state.signing.available.push_back(11);
        executor.pair_requests(&[5; 32]);
        assert_ne!(
            other.take_sign_jobs()[0].randomness,
            executor.take_sign_jobs()[0].randomness
        );

        // A signature for another request answers nothing; the right one answers.
        let mut other = jobs[0].clone();
        other.message_hash = [2; 32];
        let item = |job: SignJob| SignatureItem {
            job,
            signature: vec![9; 64],
        };
        executor.apply_chain_key(vec![ChainKeyEvent::Signed(item(other))]);
        assert!(executor.state.queue.is_empty());
        executor.apply_chain_key(vec![ChainKeyEvent::Signed(item(jobs[0].clone()))]);
        let Some(Message::Response {
            callback,
            result,
            refund,
            ..
        }) = executor.state.queue.pop_front()
        else {
            panic!("an answer to the canister")
        };
        assert_eq!(callback, 1);
        assert_eq!(
            refund,
            ATTACHED - 26_153_846_153,
            "the fee is kept, the rest refunded"
        );
        let reply: types::SignWithEcdsaResult = candid::decode_one(&result.unwrap()).unwrap();
        assert_eq!(reply.signature, vec![9; 64]);
        assert!(!executor.state.signing.paired.contains_key(&7));
    }

    #[test]
    fn the_public_key_is_the_callers_derived_key() {
        let mut executor = new_executor(10);
        executor.apply_chain_key(vec![ChainKeyEvent::KeyReady(master_key())]);
        let args = |canister_id: Option<candid::Principal>| {
            candid::encode_one(types::EcdsaPublicKeyArgs {
                canister_id,
                derivation_path: vec![b"path".to_vec()],
                key_id: types::EcdsaKeyId {
                    curve: types::EcdsaCurve::Secp256k1,
                    name: "key_1".into(),
                },
            })
            .unwrap()
        };
        let reply = executor.ecdsa_public_key(CANISTER, &args(None)).unwrap();
        let reply: types::EcdsaPublicKeyResult = candid::decode_one(&reply).unwrap();
        let master = curve_point(&master_key()).unwrap();
        let (expected, chain_code) = chainkey_crypto::tecdsa::ecdsa_public_key::<Curve>(
            &master,
            CANISTER,
            &[b"path".to_vec()],
        )
        .unwrap();
        assert_eq!(
            (reply.public_key, reply.chain_code),
            (expected.clone(), chain_code.to_vec())
        );
        // Another canister's key, asked for by id.
        let other = candid::Principal::from_slice(&[9; 10]);
        let reply = executor
            .ecdsa_public_key(CANISTER, &args(Some(other)))
            .unwrap();
        let reply: types::EcdsaPublicKeyResult = candid::decode_one(&reply).unwrap();
        assert_ne!(reply.public_key, expected);
    }

    #[test]
    fn requests_paired_with_retired_presignatures_pair_again_first() {
        let mut executor = new_executor(10);
        executor.apply_chain_key(vec![
            ChainKeyEvent::KeyReady(master_key()),
            ChainKeyEvent::PresignatureReady(7),
            ChainKeyEvent::PresignatureReady(9),
            ChainKeyEvent::PresignatureReady(11),
        ]);
        for (callback, hash) in [(1, [1; 32]), (2, [2; 32]), (3, [3; 32])] {
            sign(&mut executor, callback, &sign_args("key_1", &hash)).unwrap();
        }
        executor.pair_requests(&[5; 32]);
        sign(&mut executor, 4, &sign_args("key_1", &[4; 32])).unwrap();
        // The membership changes: 7, 9 and 11 (all paired) are retired.
        executor.apply_chain_key(vec![
            ChainKeyEvent::PresignaturesRetired(vec![7, 9, 11]),
            ChainKeyEvent::PresignatureReady(20),
            ChainKeyEvent::PresignatureReady(21),
        ]);
        executor.take_sign_jobs();
        executor.pair_requests(&[6; 32]);
        let jobs = executor.take_sign_jobs();
        assert_eq!(
            jobs.iter()
                .map(|job| (job.presignature, job.message_hash[0]))
                .collect::<Vec<_>>(),
            vec![(20, 1), (21, 2)],
            "the requests paired before come first, in their order"
        );
        let signing = &executor.state.signing;
        assert!(signing.available.is_empty());
        assert_eq!(
            signing
                .queued
                .iter()
                .map(|p| p.job.message_hash[0])
                .collect::<Vec<_>>(),
            vec![3, 4]
        );
        assert_eq!(
            signing.paired.keys().copied().collect::<Vec<_>>(),
            vec![20, 21]
        );
    }
}
