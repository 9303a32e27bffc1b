//! The governance canister: the Candid interface through which users'
//! neurons propose and vote on membership changes ([`crate::registry::governance`]
//! holds the rules). It is a system canister served by the node itself,
//! like the management canister, with an id outside the subnet's canister
//! range (on the Internet Computer, governance lives on the NNS subnet).
//!
//! ```candid
//! type NodeRecord = record { id : nat32; address : text; certificate : text;
//!                            public_key : text; key_possession : text;
//!                            query_key : text; mega_key : text;
//!                            dkg_key : text; dkg_possession : text };
//! type Action = variant { AddNode : NodeRecord; RemoveNode : nat32 };
//! type Vote = variant { Yes; No };
//! type Status = variant { Open; Rejected; Executed : record { version : nat64 };
//!                         Failed : record { reason : Refusal } };
//! type Field = variant { Address; Certificate; PublicKey; KeyPossession;
//!                        QueryKey; MegaKey; DkgKey; DkgPossession };
//! type Problem = variant { NotHex; Malformed; Unproven; Empty; NotHostPort };
//! type Refusal = variant {
//!   InvalidRecord : record { node : nat32; field : Field; problem : Problem };
//!   AlreadyMember : nat32; NotNextId : record { expected : nat32; got : nat32 };
//!   SharesAKey : nat32; NotAMember : nat32; LastMember; NotHighestId : nat32 };
//! service : {
//!   make_proposal : (record { neuron : nat64; action : Action }) -> (nat64);
//!   register_vote : (record { neuron : nat64; proposal : nat64; vote : Vote }) -> (Status);
//!   get_proposal : (nat64) -> (opt record { proposer : nat64; action : Action;
//!                                           ballots : vec record { nat64; Vote }; status : Status }) query;
//!   get_subnet_record : () -> (record { version : nat64;
//!                                       members : vec record { nat32; NodeRecord } }) query;
//! }
//! ```
//!
//! A refused call (unknown neuron, a caller not controlling it, a decided
//! proposal, a second vote) is rejected with the reason.

use candid::CandidType;
use serde::Deserialize;

use super::management::{canister_id, encode, MAX_CANISTERS};
use super::{reject_code, Reject};
use crate::registry::governance::{Action, Governance, NeuronId, ProposalId, Vote};

/// The governance canister's id: the first id past the subnet's range.
pub fn id() -> Vec<u8> {
    canister_id(MAX_CANISTERS)
}

/// The argument of `make_proposal`.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct MakeProposal {
    /// The proposing neuron (the caller must control it); it votes yes.
    pub neuron: NeuronId,
    /// What the proposal changes.
    pub action: Action,
}

/// The argument of `register_vote`.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct RegisterVote {
    /// The voting neuron (the caller must control it).
    pub neuron: NeuronId,
    /// The proposal voted on.
    pub proposal: ProposalId,
    /// The ballot.
    pub vote: Vote,
}

fn decode<T: CandidType + for<'de> Deserialize<'de>>(
    method: &str,
    arg: &[u8],
) -> Result<T, Reject> {
    super::management::decode_bounded(arg)
        .map_err(|error| super::management::invalid_argument("Governance canister", method, error))
}

fn refused(error: impl std::fmt::Display) -> Reject {
    Reject::new(
        reject_code::CANISTER_REJECT,
        "IC0406",
        format!("Governance canister: {error}"),
    )
}

/// Answers a query method (`get_proposal`, `get_subnet_record`) from `governance`.
///
/// # Errors
/// A [`Reject`] for another method or a bad argument.
pub fn query(governance: &Governance, method: &str, arg: &[u8]) -> Result<Vec<u8>, Reject> {
    match method {
        "get_proposal" => {
            let id: ProposalId = decode(method, arg)?;
            Ok(encode(governance.proposal(id).cloned()))
        }
        "get_subnet_record" => Ok(encode(governance.subnet().clone())),
        _ => Err(Reject::new(
            reject_code::CANISTER_ERROR,
            "IC0536",
            format!("The governance canister has no query method '{method}'"),
        )),
    }
}

/// Executes an update call of `caller` (the query methods too, as
/// replicated queries).
///
/// # Errors
/// A [`Reject`] for an unknown method, a bad argument, or a refused call.
pub fn update(
    governance: &mut Governance,
    caller: &[u8],
    method: &str,
    arg: &[u8],
) -> Result<Vec<u8>, Reject> {
    match method {
        "make_proposal" => {
            let args: MakeProposal = decode(method, arg)?;
            let id = governance
                .propose(caller, args.neuron, args.action)
                .map_err(refused)?;
            Ok(encode(id))
        }
        "register_vote" => {
            let args: RegisterVote = decode(method, arg)?;
            let status = governance
                .vote(caller, args.neuron, args.proposal, args.vote)
                .map_err(refused)?;
            Ok(encode(status))
        }
        _ => query(governance, method, arg),
    }
}

#[cfg(test)]
mod tests {
    use candid::{Decode, Encode};

    use super::*;
    use crate::registry::governance::{Neuron, Proposal, Status, SubnetRecord};
    use crate::registry::node_record::test_peer as peer;

    /// Neuron 0 (stake 40) of `[0]`, neuron 1 (stake 60) of `[1]`.
    fn governance() -> Governance {
        let neuron = |controller: u8, stake| Neuron {
            controller: vec![controller],
            stake,
        };
        Governance::new(vec![neuron(0, 40), neuron(1, 60)], vec![peer(0), peer(1)])
    }

    #[test]
    fn proposals_votes_and_the_record_travel_as_candid() {
        let mut governance = governance();
        let propose = Encode!(&MakeProposal {
            neuron: 0,
            action: Action::AddNode(peer(2)),
        })
        .unwrap();
        let reply = update(&mut governance, &[0], "make_proposal", &propose).unwrap();
        let id = Decode!(&reply, u64).unwrap();
        let get = |governance: &Governance| {
            let reply = query(governance, "get_proposal", &Encode!(&id).unwrap()).unwrap();
            Decode!(&reply, Option<Proposal>).unwrap().unwrap()
        };
        assert_eq!(get(&governance).status, Status::Open);
        assert_eq!(get(&governance).action, Action::AddNode(peer(2)));
        let vote = Encode!(&RegisterVote {
            neuron: 1,
            proposal: id,
            vote: Vote::Yes,
        })
        .unwrap();
        let reply = update(&mut governance, &[1], "register_vote", &vote).unwrap();
        assert_eq!(
            Decode!(&reply, Status).unwrap(),
            Status::Executed { version: 2 }
        );
        assert_eq!(get(&governance).ballots.len(), 2);
        let reply = query(&governance, "get_subnet_record", &Encode!().unwrap()).unwrap();
        let record = Decode!(&reply, SubnetRecord).unwrap();
        assert_eq!(record.version, 2);
        assert_eq!(record.members[&2], peer(2));
        let missing = query(&governance, "get_proposal", &Encode!(&(id + 1)).unwrap()).unwrap();
        assert_eq!(Decode!(&missing, Option<Proposal>).unwrap(), None);
    }

    #[test]
    fn refused_and_malformed_calls_are_rejected_with_the_reason() {
        let mut governance = governance();
        let propose = Encode!(&MakeProposal {
            neuron: 1,
            action: Action::RemoveNode(0),
        })
        .unwrap();
        let reject = update(&mut governance, &[0], "make_proposal", &propose).unwrap_err();
        assert_eq!(reject.code, reject_code::CANISTER_REJECT);
        assert!(
            reject.message.contains("does not control neuron 1"),
            "{reject:?}"
        );
        let reject = update(&mut governance, &[0], "make_proposal", b"DIDL").unwrap_err();
        assert_eq!(reject.error_code, "IC0504");
        let reject = update(&mut governance, &[0], "transfer", &Encode!().unwrap()).unwrap_err();
        assert_eq!(reject.error_code, "IC0536");
        assert!(
            query(&governance, "make_proposal", &propose).is_err(),
            "not a query"
        );
        assert_eq!(governance, self::governance(), "nothing changed");
    }
}
