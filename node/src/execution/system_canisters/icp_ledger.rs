//! The ICP ledger (`ryjl3-tyaaa-aaaaa-aaaba-cai`): balances and transfers
//! of ICP through ICRC-1, so that `icp token` works on a local network,
//! and through the ledger's legacy interface, which names accounts by
//! account identifier (`transfer`, `account_balance`), so that ICP paid to
//! the cycles minting canister becomes cycles (`icp cycles mint`). Served
//! natively with the real canister's Candid.

use candid::{CandidType, Deserialize};
use ic_ledger_types::{self as legacy, AccountIdentifier, Tokens};

use super::ledger::{Account, MayMint, TokenKind, TransferError};
use super::{decode, encode, Call};
use crate::execution::{Reject, ReplicatedState};

/// The ICP ledger's transfer fee: 10⁴ e8s.
pub const FEE: u128 = 10_000;
/// ICP (in e8s) a minting principal's account starts with on a
/// development subnet: 10⁶ ICP.
pub const FAUCET: u128 = 100_000_000_000_000;

const KIND: TokenKind = TokenKind {
    fee: FEE,
    faucet: FAUCET,
};

/// An amount of e8s the legacy interface can carry (it counts in `u64`).
fn tokens(e8s: u128) -> Tokens {
    Tokens::from_e8s(u64::try_from(e8s).unwrap_or(u64::MAX))
}

/// Executes an update call to the ICP ledger.
pub fn update(call: &mut Call) -> Result<Vec<u8>, Reject> {
    let method = call.method;
    let may_mint = call.may_mint();
    match method {
        "icrc1_transfer" => super::icrc1_transfer(call, |ledgers| &mut ledgers.icp, &KIND),
        "transfer" => {
            let args: legacy::TransferArgs = decode(method, call.arg)?;
            Ok(encode(transfer(call, args, &may_mint)?))
        }
        _ => query(&call.executor.state, method, call.arg, &may_mint),
    }
}

/// The legacy `transfer`: to an account identifier, with a numeric memo.
fn transfer(
    call: &mut Call,
    args: legacy::TransferArgs,
    may_mint: MayMint,
) -> Result<Result<u64, legacy::TransferError>, Reject> {
    if u128::from(args.fee.e8s()) != FEE {
        return Ok(Err(legacy::TransferError::BadFee {
            expected_fee: tokens(FEE),
        }));
    }
    let from = Account {
        owner: candid::Principal::from_slice(call.caller),
        subaccount: args
            .from_subaccount
            .map(|subaccount| serde_bytes::ByteBuf::from(subaccount.0.to_vec())),
    };
    let amount = u128::from(args.amount.e8s());
    let ledger = &mut call.executor.state.ledgers.icp;
    let result = ledger.transfer_to(&from, args.to, amount, args.memo.0, &KIND, may_mint);
    match result {
        Ok(block) => Ok(Ok(block)),
        Err(TransferError::InsufficientFunds { balance }) => {
            let balance = tokens(crate::execution::cycles::saturating_u128(&balance));
            Ok(Err(legacy::TransferError::InsufficientFunds { balance }))
        }
        // Nothing else fails a transfer whose subaccount is 32 bytes by type.
        Err(error) => Err(invalid("transfer", format!("{error:?}"))),
    }
}

fn invalid(method: &str, error: impl std::fmt::Display) -> Reject {
    crate::execution::management::invalid_argument("ICP ledger", method, error)
}

/// `transfer_fee`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct TransferFee {
    /// The fee of a transfer.
    pub transfer_fee: Tokens,
}

/// `symbol`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct Symbol {
    /// The token's symbol.
    pub symbol: String,
}

/// `name`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct Name {
    /// The token's name.
    pub name: String,
}

/// `decimals`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct Decimals {
    /// Digits after the point.
    pub decimals: u32,
}

/// The ICRC-1 and legacy facts of the token.
const METADATA: super::Icrc1Metadata = super::Icrc1Metadata {
    name: "Internet Computer",
    symbol: "ICP",
    decimals: 8,
    fee: FEE,
};

/// Answers a query to the ICP ledger.
pub fn query(
    state: &ReplicatedState,
    method: &str,
    arg: &[u8],
    may_mint: MayMint,
) -> Result<Vec<u8>, Reject> {
    let ledger = &state.ledgers.icp;
    Ok(match method {
        "account_balance" => {
            let args: legacy::AccountBalanceArgs = decode(method, arg)?;
            encode(tokens(ledger.balance_of(&args.account)))
        }
        "account_identifier" => {
            let account: Account = decode(method, arg)?;
            let key = <AccountIdentifier as super::ledger::AccountKey>::of(&account)
                .map_err(|_| invalid(method, "a subaccount is 32 bytes"))?;
            encode(serde_bytes::ByteBuf::from(key.as_bytes().to_vec()))
        }
        "transfer_fee" => encode(TransferFee {
            transfer_fee: tokens(FEE),
        }),
        "symbol" => encode(Symbol {
            symbol: METADATA.symbol.into(),
        }),
        "name" => encode(Name {
            name: METADATA.name.into(),
        }),
        "decimals" => encode(Decimals {
            decimals: METADATA.decimals.into(),
        }),
        _ => {
            return super::icrc1_query(
                method,
                arg,
                &METADATA,
                |account| ledger.balance(account, &KIND, may_mint),
                ledger.total_supply(),
            )
        }
    })
}
