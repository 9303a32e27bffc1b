//! The ICP ledger (`ryjl3-tyaaa-aaaaa-aaaba-cai`) as an ICRC-1 token:
//! balances and transfers of ICP, so that `icp token` works on a local
//! network. Served natively with the real canister's ICRC-1 Candid.

use super::ledger::{MayMint, TokenKind};
use super::Call;
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

/// Executes an update call to the ICP ledger.
pub fn update(call: &mut Call) -> Result<Vec<u8>, Reject> {
    let method = call.method;
    let may_mint = call.may_mint();
    match method {
        "icrc1_transfer" => super::icrc1_transfer(call, |ledgers| &mut ledgers.icp, &KIND),
        _ => query(&call.executor.state, method, call.arg, &may_mint),
    }
}

/// Answers a query to the ICP ledger.
pub fn query(
    state: &ReplicatedState,
    method: &str,
    arg: &[u8],
    may_mint: MayMint,
) -> Result<Vec<u8>, Reject> {
    let ledger = &state.ledgers.icp;
    super::icrc1_query(
        method,
        arg,
        &super::Icrc1Metadata {
            name: "Internet Computer",
            symbol: "ICP",
            decimals: 8,
            fee: FEE,
        },
        |account| ledger.balance(account, &KIND, may_mint),
        ledger.total_supply(),
    )
}
