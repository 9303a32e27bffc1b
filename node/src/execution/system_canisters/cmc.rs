//! The cycles minting canister (`rkp4c-7iaaa-aaaaa-aaaca-cai`), as far as
//! tools ask it about where canisters go: the default subnets, subnet
//! types, and who may create canisters where. A local network has one
//! subnet, this one. Served natively with the real canister's Candid.

use candid::{CandidType, Principal as CandidPrincipal};
use serde::Deserialize;

use super::{encode, no_method, Call};
use crate::execution::Reject;

/// `get_subnet_types_to_subnets`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct SubnetTypesToSubnetsResponse {
    /// Subnets by type.
    pub data: Vec<(String, Vec<CandidPrincipal>)>,
}

/// `get_principals_authorized_to_create_canisters_to_subnets`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct PrincipalsAuthorizedResponse {
    /// Subnets by principal.
    pub data: Vec<(CandidPrincipal, Vec<CandidPrincipal>)>,
}

/// Executes an update call to the CMC: it serves none.
pub fn update(call: &mut Call) -> Result<Vec<u8>, Reject> {
    Err(no_method(call.method))
}

/// Answers a query to the CMC on subnet `subnet_id`.
pub fn query(subnet_id: &[u8], method: &str) -> Result<Vec<u8>, Reject> {
    let subnet = CandidPrincipal::from_slice(subnet_id);
    Ok(match method {
        "get_default_subnets" => encode(vec![subnet]),
        "get_subnet_types_to_subnets" => encode(SubnetTypesToSubnetsResponse { data: Vec::new() }),
        "get_principals_authorized_to_create_canisters_to_subnets" => {
            encode(PrincipalsAuthorizedResponse { data: Vec::new() })
        }
        "get_build_metadata" => encode("chainkey native cycles minting canister"),
        _ => return Err(no_method(method)),
    })
}
