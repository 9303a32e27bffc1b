//! Lean governance of a subnet's membership, after the NNS: neurons hold
//! stake; a proposal to add or remove a node is adopted once neurons with
//! more than half of all stake vote for it (rejected once that cannot
//! happen any more), and an adopted proposal is executed on the registry's
//! subnet record, whose every change gets a new version.
//!
//! The state is deterministic and serializable: it lives in the replicated
//! state, and only executed messages change it. A node record is what
//! every other node must know of a member: [`NodeRecord`].

use std::collections::BTreeMap;

use candid::CandidType;
use chainkey_consensus::NodeId;
use serde::{Deserialize, Serialize};

use crate::registry::{NodeRecord, RecordError};

/// A neuron's identifier.
pub type NeuronId = u64;
/// A proposal's identifier.
pub type ProposalId = u64;

/// Voting power: its controller votes with its stake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub struct Neuron {
    /// The principal (bytes) allowed to propose and vote with it.
    pub controller: Vec<u8>,
    /// Its stake, the weight of its vote.
    pub stake: u64,
}

/// What a proposal changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub enum Action {
    /// Make this node a member of the subnet.
    AddNode(NodeRecord),
    /// Take this member out of the subnet.
    RemoveNode(NodeId),
}

/// A ballot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub enum Vote {
    /// For.
    Yes,
    /// Against.
    No,
}

/// Where a proposal stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub enum Status {
    /// Votes are still open.
    Open,
    /// Rejected: a majority of the stake can no longer vote for it.
    Rejected,
    /// Adopted and executed: the subnet record's new version.
    Executed {
        /// The registry version it made.
        version: u64,
    },
    /// Adopted, but it could not be executed (the registry is unchanged).
    Failed {
        /// Why.
        reason: Refusal,
    },
}

/// Why an adopted action could not be executed. Part of the certified
/// state: each variant's encoding is stable (never reword or reorder).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType, thiserror::Error,
)]
pub enum Refusal {
    /// The new node's record has a key, proof or address that is wrong.
    #[error(transparent)]
    InvalidRecord(RecordError),
    /// The node is a member already.
    #[error("node {0} is a member already")]
    AlreadyMember(NodeId),
    /// A new node must take the next id (ids are positions in the
    /// committee and in every threshold key).
    #[error("a new node must take id {expected}, not {got}")]
    NotNextId {
        /// The next id.
        expected: NodeId,
        /// The id proposed.
        got: NodeId,
    },
    /// A member (named) has the same address, certificate or a same key.
    #[error("node {0} has the same address, certificate or a same key")]
    SharesAKey(NodeId),
    /// The node is not a member.
    #[error("node {0} is not a member")]
    NotAMember(NodeId),
    /// The subnet's last member cannot leave.
    #[error("the last member cannot be removed")]
    LastMember,
    /// Only the highest id can leave (ids are positions).
    #[error("only the highest id can leave (ids are positions); node {0} cannot")]
    NotHighestId(NodeId),
}

/// A proposal and its ballots.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub struct Proposal {
    /// The neuron that made it (and voted for it).
    pub proposer: NeuronId,
    /// What it changes.
    pub action: Action,
    /// Each voting neuron's ballot.
    pub ballots: BTreeMap<NeuronId, Vote>,
    /// Where it stands.
    pub status: Status,
}

/// The registry's subnet record: its members, at a version.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, CandidType)]
pub struct SubnetRecord {
    /// Raised by every change.
    pub version: u64,
    /// The members, by node id.
    pub members: BTreeMap<NodeId, NodeRecord>,
}

/// Why a governance call is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GovernanceError {
    /// No such neuron.
    #[error("no neuron {0}")]
    UnknownNeuron(NeuronId),
    /// The caller does not control the neuron.
    #[error("the caller does not control neuron {0}")]
    NotController(NeuronId),
    /// No such proposal.
    #[error("no proposal {0}")]
    UnknownProposal(ProposalId),
    /// Votes on the proposal are closed.
    #[error("proposal {0} is decided")]
    Decided(ProposalId),
    /// The neuron has voted on the proposal already.
    #[error("neuron {neuron} has voted on proposal {proposal}")]
    AlreadyVoted {
        /// The neuron.
        neuron: NeuronId,
        /// The proposal.
        proposal: ProposalId,
    },
}

/// Neurons, proposals and the subnet record they govern. The default
/// has no neuron (nothing can be proposed) and an empty record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Governance {
    neurons: BTreeMap<NeuronId, Neuron>,
    proposals: BTreeMap<ProposalId, Proposal>,
    subnet: SubnetRecord,
    /// The records the subnet had before, by version.
    earlier: BTreeMap<u64, SubnetRecord>,
}

impl Governance {
    /// Governance by `neurons` (numbered from 0) of a subnet whose members
    /// are `members` (registry version 1).
    pub fn new(neurons: Vec<Neuron>, members: Vec<NodeRecord>) -> Governance {
        Governance {
            neurons: (0..).zip(neurons).collect(),
            proposals: BTreeMap::new(),
            subnet: SubnetRecord {
                version: 1,
                members: members.into_iter().map(|peer| (peer.id, peer)).collect(),
            },
            earlier: BTreeMap::new(),
        }
    }

    /// The current subnet record.
    pub fn subnet(&self) -> &SubnetRecord {
        &self.subnet
    }

    /// The subnet record at `version`, current or earlier.
    pub fn record(&self, version: u64) -> Option<&SubnetRecord> {
        if version == self.subnet.version {
            return Some(&self.subnet);
        }
        self.earlier.get(&version)
    }

    /// A proposal, if it exists.
    pub fn proposal(&self, id: ProposalId) -> Option<&Proposal> {
        self.proposals.get(&id)
    }

    /// `caller` proposes `action` with its neuron `neuron`, which votes for
    /// it (a neuron with a majority of the stake thus adopts it at once).
    ///
    /// # Errors
    /// [`GovernanceError::UnknownNeuron`], [`GovernanceError::NotController`].
    pub fn propose(
        &mut self,
        caller: &[u8],
        neuron: NeuronId,
        action: Action,
    ) -> Result<ProposalId, GovernanceError> {
        self.check_controller(caller, neuron)?;
        let id = self.proposals.keys().next_back().map_or(0, |last| last + 1);
        self.proposals.insert(
            id,
            Proposal {
                proposer: neuron,
                action,
                ballots: BTreeMap::new(),
                status: Status::Open,
            },
        );
        self.vote(caller, neuron, id, Vote::Yes)?;
        Ok(id)
    }

    /// `caller` votes `vote` with neuron `neuron` on proposal `proposal`;
    /// the proposal's status after the vote (decided and executed as soon
    /// as the ballots so far decide it).
    ///
    /// # Errors
    /// [`GovernanceError`] for an unknown neuron or proposal, a caller not
    /// controlling the neuron, a decided proposal, or a second vote.
    pub fn vote(
        &mut self,
        caller: &[u8],
        neuron: NeuronId,
        proposal: ProposalId,
        vote: Vote,
    ) -> Result<Status, GovernanceError> {
        self.check_controller(caller, neuron)?;
        let total: u64 = self.neurons.values().map(|neuron| neuron.stake).sum();
        let stakes = &self.neurons;
        let open = self
            .proposals
            .get_mut(&proposal)
            .ok_or(GovernanceError::UnknownProposal(proposal))?;
        if open.status != Status::Open {
            return Err(GovernanceError::Decided(proposal));
        }
        if open.ballots.contains_key(&neuron) {
            return Err(GovernanceError::AlreadyVoted { neuron, proposal });
        }
        open.ballots.insert(neuron, vote);
        let stake_for = |wanted: Vote| -> u64 {
            open.ballots
                .iter()
                .filter(|(_, ballot)| **ballot == wanted)
                .map(|(voter, _)| stakes[voter].stake)
                .sum()
        };
        // Strictly more than half adopts; half or more against rejects.
        let (yes, no) = (stake_for(Vote::Yes), stake_for(Vote::No));
        if 2 * u128::from(yes) > u128::from(total) {
            let action = open.action.clone();
            let status = match self.execute(action) {
                Ok(version) => Status::Executed { version },
                Err(reason) => Status::Failed { reason },
            };
            self.set_status(proposal, status.clone());
            return Ok(status);
        }
        if 2 * u128::from(no) >= u128::from(total) {
            self.set_status(proposal, Status::Rejected);
            return Ok(Status::Rejected);
        }
        Ok(Status::Open)
    }

    fn set_status(&mut self, proposal: ProposalId, status: Status) {
        if let Some(decided) = self.proposals.get_mut(&proposal) {
            decided.status = status;
        }
    }

    fn check_controller(&self, caller: &[u8], neuron: NeuronId) -> Result<(), GovernanceError> {
        let found = self
            .neurons
            .get(&neuron)
            .ok_or(GovernanceError::UnknownNeuron(neuron))?;
        if found.controller != caller {
            return Err(GovernanceError::NotController(neuron));
        }
        Ok(())
    }

    /// Applies an adopted action to the subnet record; its new version.
    fn execute(&mut self, action: Action) -> Result<u64, Refusal> {
        let before = self.subnet.clone();
        let members = &mut self.subnet.members;
        match action {
            Action::AddNode(peer) => {
                peer.check().map_err(Refusal::InvalidRecord)?;
                if members.contains_key(&peer.id) {
                    return Err(Refusal::AlreadyMember(peer.id));
                }
                // Node ids are positions in the committee and in every
                // threshold key: a node joins as the next one.
                let next = members.keys().next_back().map_or(0, |last| last + 1);
                if peer.id != next {
                    return Err(Refusal::NotNextId {
                        expected: next,
                        got: peer.id,
                    });
                }
                if let Some(member) = members
                    .values()
                    .find(|member| member.address == peer.address || shares_a_key(member, &peer))
                {
                    return Err(Refusal::SharesAKey(member.id));
                }
                members.insert(peer.id, peer);
            }
            Action::RemoveNode(id) => {
                if !members.contains_key(&id) {
                    return Err(Refusal::NotAMember(id));
                }
                if members.len() == 1 {
                    return Err(Refusal::LastMember);
                }
                if members.keys().next_back() != Some(&id) {
                    return Err(Refusal::NotHighestId(id));
                }
                members.remove(&id);
            }
        }
        self.subnet.version += 1;
        self.earlier.insert(before.version, before);
        Ok(self.subnet.version)
    }
}

/// Whether two node records have a key or certificate in common (compared
/// decoded: hex digits in another case are the same key).
fn shares_a_key(a: &NodeRecord, b: &NodeRecord) -> bool {
    let keys = |peer: &NodeRecord| {
        [
            &peer.certificate,
            &peer.public_key,
            &peer.query_key,
            &peer.mega_key,
            &peer.dkg_key,
        ]
        .map(|field| hex::decode(field).unwrap_or_default())
    };
    let theirs = keys(b);
    keys(a)
        .iter()
        .any(|key| !key.is_empty() && theirs.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::registry::node_record::{test_peer as peer, Field, Problem};

    /// Neurons 0–3 with stakes 10, 20, 30, 40 (total 100), controlled by [i].
    fn governance() -> Governance {
        let neurons = (0..4u8)
            .map(|i| Neuron {
                controller: vec![i],
                stake: 10 * (u64::from(i) + 1),
            })
            .collect();
        Governance::new(neurons, (0..4).map(peer).collect())
    }

    #[test]
    fn a_majority_of_the_stake_adopts_and_the_node_joins_the_subnet_record() {
        let mut governance = governance();
        let id = governance
            .propose(&[2], 2, Action::AddNode(peer(4)))
            .unwrap();
        // 30 of 100 for, then 30 + 10: not yet more than half.
        assert_eq!(governance.vote(&[0], 0, id, Vote::Yes), Ok(Status::Open));
        assert_eq!(governance.subnet().version, 1);
        // 40 against: 40 + 40 for would still be a majority, so still open.
        assert_eq!(governance.vote(&[3], 3, id, Vote::No), Ok(Status::Open));
        // 20 more for: 60 of 100.
        assert_eq!(
            governance.vote(&[1], 1, id, Vote::Yes),
            Ok(Status::Executed { version: 2 })
        );
        let subnet = governance.subnet();
        assert_eq!(subnet.version, 2);
        assert_eq!(
            subnet.members.keys().copied().collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(subnet.members[&4], peer(4));
        assert_eq!(governance.record(1).unwrap().members.len(), 4, "kept");
        assert_eq!(governance.record(2), Some(governance.subnet()));
        assert_eq!(governance.record(3), None);
        assert_eq!(
            governance.vote(&[3], 3, id, Vote::Yes),
            Err(GovernanceError::Decided(id))
        );
    }

    #[test]
    fn half_the_stake_against_rejects_and_half_for_does_not_adopt() {
        let mut governance = governance();
        // 10 + 40 = 50 for: exactly half, not a majority.
        let id = governance.propose(&[0], 0, Action::RemoveNode(1)).unwrap();
        assert_eq!(governance.vote(&[3], 3, id, Vote::Yes), Ok(Status::Open));
        // 20 + 30 = 50 against: rejected.
        assert_eq!(governance.vote(&[1], 1, id, Vote::No), Ok(Status::Open));
        assert_eq!(governance.vote(&[2], 2, id, Vote::No), Ok(Status::Rejected));
        assert_eq!(governance.proposal(id).unwrap().status, Status::Rejected);
        assert_eq!(governance.subnet().members.len(), 4);
        assert_eq!(governance.subnet().version, 1);
    }

    #[test]
    fn only_a_neurons_controller_votes_with_it_and_only_once() {
        let mut governance = governance();
        assert_eq!(
            governance.propose(&[1], 0, Action::RemoveNode(3)),
            Err(GovernanceError::NotController(0))
        );
        assert_eq!(
            governance.propose(&[9], 9, Action::RemoveNode(3)),
            Err(GovernanceError::UnknownNeuron(9))
        );
        let id = governance.propose(&[0], 0, Action::RemoveNode(3)).unwrap();
        assert_eq!(
            governance.vote(&[0], 0, id, Vote::No),
            Err(GovernanceError::AlreadyVoted {
                neuron: 0,
                proposal: id
            })
        );
        assert_eq!(
            governance.proposal(id).unwrap().ballots[&0],
            Vote::Yes,
            "the first ballot stands"
        );
        assert_eq!(
            governance.vote(&[1], 1, id + 1, Vote::Yes),
            Err(GovernanceError::UnknownProposal(id + 1))
        );
    }

    #[test]
    fn an_adopted_proposal_that_cannot_be_executed_fails_and_changes_nothing() {
        let mut governance = governance();
        // Neuron 3 (40) and neuron 2 (30) adopt; node 2 is a member already.
        let id = governance
            .propose(&[3], 3, Action::AddNode(peer(2)))
            .unwrap();
        let status = governance.vote(&[2], 2, id, Vote::Yes).unwrap();
        assert!(matches!(
            status,
            Status::Failed {
                reason: Refusal::AlreadyMember(2)
            }
        ));
        let id = governance
            .propose(&[3], 3, Action::AddNode(peer(7)))
            .unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::NotNextId {
                    expected: 4,
                    got: 7
                }
            }
        ));
        let mut same_address = peer(4);
        same_address.address = peer(0).address;
        let id = governance
            .propose(&[3], 3, Action::AddNode(same_address))
            .unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::SharesAKey(0)
            }
        ));
        // A member's MEGa key again, in upper-case hex.
        let mut same_key = peer(4);
        same_key.mega_key = peer(0).mega_key.to_uppercase();
        let id = governance
            .propose(&[3], 3, Action::AddNode(same_key))
            .unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::SharesAKey(0)
            }
        ));
        let mut bad_key = peer(4);
        bad_key.mega_key = bad_key.public_key.clone();
        let id = governance
            .propose(&[3], 3, Action::AddNode(bad_key))
            .unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::InvalidRecord(RecordError {
                    field: Field::MegaKey,
                    problem: Problem::Malformed,
                    ..
                })
            }
        ));
        // Another node's BLS key without its proof of possession (a rogue
        // key would let its owner forge aggregates).
        let mut rogue = peer(4);
        rogue.public_key = peer(5).public_key;
        let id = governance.propose(&[3], 3, Action::AddNode(rogue)).unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::InvalidRecord(RecordError {
                    field: Field::KeyPossession,
                    problem: Problem::Unproven,
                    ..
                })
            }
        ));
        // Node 6's DKG key and proof, claimed by another node.
        let mut replayed_possession = peer(4);
        replayed_possession.dkg_key = peer(6).dkg_key;
        replayed_possession.dkg_possession = peer(6).dkg_possession;
        let id = governance
            .propose(&[3], 3, Action::AddNode(replayed_possession))
            .unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::InvalidRecord(RecordError {
                    field: Field::DkgPossession,
                    problem: Problem::Unproven,
                    ..
                })
            }
        ));
        let id = governance.propose(&[3], 3, Action::RemoveNode(8)).unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::NotAMember(8)
            }
        ));
        assert_eq!(governance.subnet().version, 1);
        assert_eq!(governance.subnet().members.len(), 4);
        let id = governance.propose(&[3], 3, Action::RemoveNode(0)).unwrap();
        assert!(matches!(
            governance.vote(&[2], 2, id, Vote::Yes).unwrap(),
            Status::Failed {
                reason: Refusal::NotHighestId(0)
            }
        ));
        assert_eq!(governance.subnet().version, 1);
        assert_eq!(governance.subnet().members.len(), 4);
        // Removing the highest member works, and versions count every change.
        let id = governance.propose(&[3], 3, Action::RemoveNode(3)).unwrap();
        assert_eq!(
            governance.vote(&[2], 2, id, Vote::Yes),
            Ok(Status::Executed { version: 2 })
        );
        assert!(!governance.subnet().members.contains_key(&3));
    }
}
