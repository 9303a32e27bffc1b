//! The system canisters a local network has, served by the node itself at
//! their mainnet ids and with their mainnet Candid, as the management and
//! governance canisters are: the cycles ledger, the cycles minting
//! canister (CMC) and the ICP ledger. Tools that know these ids — icp-cli
//! creating canisters through the cycles ledger, asking the CMC for
//! subnets — work against a chainkey subnet as against mainnet.

pub mod cmc;
pub mod cycles_ledger;
pub mod icp_ledger;
pub mod ledger;

use candid::{CandidType, Nat};
use serde::{Deserialize, Serialize};

use super::{cycles, reject_code, Executor, Reject, ReplicatedState};
use ic_ledger_types::AccountIdentifier;
use ledger::{Account, AccountKey, Token};

/// The cycles ledger's id, `um5iw-rqaaa-aaaaq-qaaba-cai`.
pub const CYCLES_LEDGER: [u8; 10] = [0, 0, 0, 0, 2, 0x10, 0, 2, 1, 1];
/// The cycles minting canister's id, `rkp4c-7iaaa-aaaaa-aaaca-cai`.
pub const CMC: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 4, 1, 1];
/// The ICP ledger's id, `ryjl3-tyaaa-aaaaa-aaaba-cai`.
pub const ICP_LEDGER: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 2, 1, 1];

/// The ids of the canisters the node serves itself (governance included).
pub fn ids() -> Vec<Vec<u8>> {
    vec![
        CYCLES_LEDGER.to_vec(),
        CMC.to_vec(),
        ICP_LEDGER.to_vec(),
        super::governance_canister::id(),
    ]
}

/// Whether `id` is one of the system canisters of this module.
pub fn is_system_canister(id: &[u8]) -> bool {
    [&CYCLES_LEDGER[..], &CMC[..], &ICP_LEDGER[..]].contains(&id)
}

/// Whether the node serves `id` itself: a system canister or governance.
pub fn is_served_by_the_node(id: &[u8]) -> bool {
    is_system_canister(id) || id == super::governance_canister::id()
}

/// The ledgers' state, part of the replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledgers {
    /// Cycles, by account.
    pub cycles: Token,
    /// ICP, by account identifier.
    #[serde(deserialize_with = "icp_token")]
    pub icp: Token<AccountIdentifier>,
    /// The cycles minting canister's answered notifications.
    #[serde(default)]
    pub notified: cmc::Notified,
}

/// The ICP ledger of a checkpoint: keyed by account identifier, or, as
/// checkpoints written before the legacy interface have it, by owner and
/// subaccount (converted).
fn icp_token<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Token<AccountIdentifier>, D::Error> {
    let stored = ciborium::Value::deserialize(deserializer)?;
    if let Ok(token) = stored.deserialized::<Token<AccountIdentifier>>() {
        return Ok(token);
    }
    let by_owner: Token = stored.deserialized().map_err(serde::de::Error::custom)?;
    Ok(by_owner.rekeyed(|(owner, subaccount)| {
        let owner = candid::Principal::from_slice(&owner);
        AccountIdentifier::new(&owner, &ic_ledger_types::Subaccount(subaccount))
    }))
}

/// An update call to a system canister.
pub struct Call<'a> {
    /// The executor, whose state the call changes.
    pub executor: &'a mut Executor,
    /// The caller.
    pub caller: &'a [u8],
    /// The method.
    pub method: &'a str,
    /// The Candid argument.
    pub arg: &'a [u8],
    /// Cycles attached; what is left is refunded.
    pub cycles: u128,
}

impl Call<'_> {
    /// Whether a principal may mint on this subnet (a development subnet).
    fn may_mint(&self) -> impl Fn(&[u8]) -> bool {
        let config = self.executor.cycles.clone();
        move |owner| cycles::may_mint(&config, owner)
    }
}

/// Executes an update call to system canister `canister`; returns the
/// answer and the cycles to refund.
pub fn update(
    executor: &mut Executor,
    canister: &[u8],
    caller: &[u8],
    method: &str,
    arg: &[u8],
    cycles: u128,
) -> (Result<Vec<u8>, Reject>, u128) {
    let mut call = Call {
        executor,
        caller,
        method,
        arg,
        cycles,
    };
    let result = match canister {
        id if id == CYCLES_LEDGER => cycles_ledger::update(&mut call),
        id if id == ICP_LEDGER => icp_ledger::update(&mut call),
        id if id == CMC => cmc::update(&mut call),
        _ => Err(Reject::not_found(canister)),
    };
    (result, call.cycles)
}

/// Answers a query to system canister `canister` on `state`, of a subnet
/// whose id is `subnet_id` and whose minting rules are `config`.
pub fn query(
    state: &ReplicatedState,
    config: &crate::config::CyclesConfig,
    subnet_id: &[u8],
    canister: &[u8],
    method: &str,
    arg: &[u8],
) -> Result<Vec<u8>, Reject> {
    let may_mint = |owner: &[u8]| cycles::may_mint(config, owner);
    match canister {
        id if id == CYCLES_LEDGER => cycles_ledger::query(state, method, arg, &may_mint),
        id if id == ICP_LEDGER => icp_ledger::query(state, method, arg, &may_mint),
        id if id == CMC => cmc::query(state, subnet_id, method),
        _ => Err(Reject::not_found(canister)),
    }
}

fn decode<T: CandidType + for<'de> Deserialize<'de>>(
    method: &str,
    arg: &[u8],
) -> Result<T, Reject> {
    super::management::decode_bounded(arg)
        .map_err(|error| super::management::invalid_argument("System canister", method, error))
}

fn encode(value: impl CandidType) -> Vec<u8> {
    super::management::encode(value)
}

fn no_method(method: &str) -> Reject {
    Reject::new(
        reject_code::CANISTER_ERROR,
        "IC0536",
        format!("Canister has no method '{method}' (not served by this local network)"),
    )
}

/// ICRC-1 `icrc1_transfer` on the ledger `ledger` picks, of a token `kind`.
fn icrc1_transfer<K: AccountKey>(
    call: &mut Call,
    ledger: fn(&mut Ledgers) -> &mut Token<K>,
    kind: &ledger::TokenKind,
) -> Result<Vec<u8>, Reject> {
    let args: ledger::TransferArgs = decode(call.method, call.arg)?;
    if args
        .fee
        .as_ref()
        .is_some_and(|fee| fee.0 != kind.fee.into())
    {
        let error = ledger::TransferError::BadFee {
            expected_fee: Nat::from(kind.fee),
        };
        return Ok(encode(Err::<Nat, _>(error)));
    }
    let from = Account {
        owner: candid::Principal::from_slice(call.caller),
        subaccount: args.from_subaccount,
    };
    let amount = crate::execution::cycles::saturating_u128(&args.amount);
    let may_mint = call.may_mint();
    let ledger = ledger(&mut call.executor.state.ledgers);
    // A memo of 8 bytes is the number the legacy interface would carry.
    let memo = args
        .memo
        .and_then(|memo| <[u8; 8]>::try_from(memo.as_slice()).ok())
        .map_or(0, u64::from_le_bytes);
    let result = ledger.transfer(&from, &args.to, amount, memo, kind, &may_mint);
    Ok(encode(result.map(Nat::from)))
}

/// What an ICRC-1 token says of itself.
pub struct Icrc1Metadata {
    /// Its name.
    pub name: &'static str,
    /// Its symbol.
    pub symbol: &'static str,
    /// Its decimals.
    pub decimals: u8,
    /// Its transfer fee.
    pub fee: u128,
}

/// A metadata value of `icrc1_metadata`.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub enum MetadataValue {
    /// A number.
    Nat(Nat),
    /// A signed number.
    Int(candid::Int),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(serde_bytes::ByteBuf),
}

/// An entry of `icrc1_supported_standards`.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct SupportedStandard {
    /// Where it is defined.
    pub url: String,
    /// Its name.
    pub name: String,
}

/// Answers the ICRC-1 queries of a token ledger.
fn icrc1_query(
    method: &str,
    arg: &[u8],
    token: &Icrc1Metadata,
    balance: impl Fn(&Account) -> u128,
    total_supply: u128,
) -> Result<Vec<u8>, Reject> {
    Ok(match method {
        "icrc1_balance_of" => {
            let account: Account = decode(method, arg)?;
            encode(Nat::from(balance(&account)))
        }
        "icrc1_name" => encode(token.name),
        "icrc1_symbol" => encode(token.symbol),
        "icrc1_decimals" => encode(token.decimals),
        "icrc1_fee" => encode(Nat::from(token.fee)),
        "icrc1_total_supply" => encode(Nat::from(total_supply)),
        "icrc1_minting_account" => encode(None::<Account>),
        "icrc1_metadata" => encode(vec![
            (
                "icrc1:name".to_string(),
                MetadataValue::Text(token.name.into()),
            ),
            (
                "icrc1:symbol".to_string(),
                MetadataValue::Text(token.symbol.into()),
            ),
            (
                "icrc1:decimals".to_string(),
                MetadataValue::Nat(Nat::from(token.decimals)),
            ),
            (
                "icrc1:fee".to_string(),
                MetadataValue::Nat(Nat::from(token.fee)),
            ),
        ]),
        "icrc1_supported_standards" => encode(vec![SupportedStandard {
            url: "https://github.com/dfinity/ICRC-1/tree/main/standards/ICRC-1".into(),
            name: "ICRC-1".into(),
        }]),
        _ => return Err(no_method(method)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_whose_icp_ledger_is_keyed_by_owner_still_loads() {
        // The ledgers as checkpoints written before the ICP ledger's legacy
        // interface hold them.
        #[derive(Serialize)]
        struct Before {
            cycles: Token,
            icp: Token,
        }
        let alice = Account::of(b"alice");
        let mut before = Before {
            cycles: Token::default(),
            icp: Token::default(),
        };
        // Past 64 bits, as CBOR writes a bignum.
        let large = u128::from(u64::MAX) * 3;
        before.icp.mint(&alice, large).unwrap();
        before.cycles.mint(&alice, 9).unwrap();
        let bytes = crate::cbor::to_cbor(&before);
        let loaded: Ledgers = ciborium::from_reader(bytes.as_slice()).unwrap();
        let nobody_mints = |_: &[u8]| false;
        let kind = ledger::TokenKind { fee: 0, faucet: 0 };
        assert_eq!(loaded.icp.balance(&alice, &kind, &nobody_mints), large);
        assert_eq!(loaded.cycles.balance(&alice, &kind, &nobody_mints), 9);
        // And the current form loads as it is.
        let again: Ledgers =
            ciborium::from_reader(crate::cbor::to_cbor(&loaded).as_slice()).unwrap();
        assert_eq!(again, loaded);
    }
}
