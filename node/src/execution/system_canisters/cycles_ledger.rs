//! The cycles ledger (`um5iw-rqaaa-aaaaq-qaaba-cai`): users' cycles as an
//! ICRC-1 token, spent on creating canisters (`create_canister`) and
//! topping them up (`withdraw`), and filled by canisters (`deposit`).
//! Served natively with the real canister's Candid (the subset of methods
//! a developer's tools use; the others are rejected by name).

use candid::{CandidType, Nat, Principal as CandidPrincipal};
use ic_management_canister_types as types;
use serde::Deserialize;

use super::ledger::{Account, MayMint, TokenKind, TransferError};
use super::{decode, encode, Call};
use crate::execution::{reject_code, Reject};

/// The cycles ledger's transfer fee: 10⁸ cycles.
pub const FEE: u128 = 100_000_000;
/// Cycles a minting principal's account starts with on a development subnet.
pub const FAUCET: u128 = 1_000_000_000_000_000;

pub(super) const KIND: TokenKind = TokenKind {
    fee: FEE,
    faucet: FAUCET,
};

/// `deposit`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct DepositArgs {
    /// The account credited with the attached cycles.
    pub to: Account,
    /// A memo.
    pub memo: Option<serde_bytes::ByteBuf>,
}

/// `deposit`'s result.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct DepositResult {
    /// The account's balance after it.
    pub balance: Nat,
    /// Its block.
    pub block_index: Nat,
}

/// `withdraw`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct WithdrawArgs {
    /// Cycles sent.
    pub amount: Nat,
    /// The sender's subaccount.
    pub from_subaccount: Option<serde_bytes::ByteBuf>,
    /// The canister receiving them.
    pub to: CandidPrincipal,
    /// When the sender made it.
    pub created_at_time: Option<u64>,
}

/// The reject code of a failed call, as the cycles ledger reports it.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub enum RejectionCode {
    /// No error.
    NoError,
    /// The callee failed.
    CanisterError,
    /// A transient system error.
    SysTransient,
    /// No such destination.
    DestinationInvalid,
    /// Unknown.
    Unknown,
    /// A fatal system error.
    SysFatal,
    /// The callee rejected it.
    CanisterReject,
}

/// `withdraw`'s error.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub enum WithdrawError {
    /// Anything else.
    GenericError {
        /// What happened.
        message: String,
        /// A number for it.
        error_code: Nat,
    },
    /// Try again later.
    TemporarilyUnavailable,
    /// Sending the cycles failed.
    FailedToWithdraw {
        /// The block of the fee charged.
        fee_block: Option<Nat>,
        /// Why.
        rejection_code: RejectionCode,
        /// Why, in words.
        rejection_reason: String,
    },
    /// The same withdrawal was made before.
    Duplicate {
        /// Its block.
        duplicate_of: Nat,
    },
    /// The fee named is not the ledger's.
    BadFee {
        /// The ledger's fee.
        expected_fee: Nat,
    },
    /// Cycles cannot go there.
    InvalidReceiver {
        /// The receiver.
        receiver: CandidPrincipal,
    },
    /// `created_at_time` in the future.
    CreatedInFuture {
        /// The ledger's time.
        ledger_time: u64,
    },
    /// `created_at_time` too far in the past.
    TooOld,
    /// The balance does not cover amount and fee.
    InsufficientFunds {
        /// The balance.
        balance: Nat,
    },
}

/// The subnet a canister should be created on.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub enum SubnetSelection {
    /// This subnet.
    Subnet {
        /// Its id.
        subnet: CandidPrincipal,
    },
    /// Any subnet of a type.
    Filter(SubnetFilter),
}

/// A subnet type to create a canister on.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct SubnetFilter {
    /// The type's name.
    pub subnet_type: Option<String>,
}

/// How to create the canister.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct CmcCreateCanisterArgs {
    /// Its settings.
    pub settings: Option<types::CanisterSettings>,
    /// Where.
    pub subnet_selection: Option<SubnetSelection>,
}

/// `create_canister`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct CreateCanisterArgs {
    /// The paying subaccount.
    pub from_subaccount: Option<serde_bytes::ByteBuf>,
    /// When the sender made it.
    pub created_at_time: Option<u64>,
    /// Cycles spent: the creation fee, and the rest to the new canister.
    pub amount: Nat,
    /// How to create it.
    pub creation_args: Option<CmcCreateCanisterArgs>,
}

/// `create_canister`'s success.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct CreateCanisterSuccess {
    /// The block that paid.
    pub block_id: Nat,
    /// The new canister.
    pub canister_id: CandidPrincipal,
}

/// `create_canister`'s error.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub enum CreateCanisterError {
    /// The balance does not cover amount and fee.
    InsufficientFunds {
        /// The balance.
        balance: Nat,
    },
    /// `created_at_time` too far in the past.
    TooOld,
    /// `created_at_time` in the future.
    CreatedInFuture {
        /// The ledger's time.
        ledger_time: u64,
    },
    /// Try again later.
    TemporarilyUnavailable,
    /// The same creation was made before.
    Duplicate {
        /// Its block.
        duplicate_of: Nat,
        /// The canister it made.
        canister_id: Option<CandidPrincipal>,
    },
    /// Creating failed; the cycles were refunded but the fee.
    FailedToCreate {
        /// The block of the fee charged.
        fee_block: Option<Nat>,
        /// The refund's block.
        refund_block: Option<Nat>,
        /// Why.
        error: String,
    },
    /// Anything else.
    GenericError {
        /// What happened.
        message: String,
        /// A number for it.
        error_code: Nat,
    },
}

fn account(owner: &[u8], subaccount: Option<serde_bytes::ByteBuf>) -> Account {
    Account {
        owner: CandidPrincipal::from_slice(owner),
        subaccount,
    }
}

fn funds(error: TransferError) -> Nat {
    match error {
        TransferError::InsufficientFunds { balance } => balance,
        _ => Nat::from(0u8),
    }
}

/// Executes an update call to the cycles ledger.
pub fn update(call: &mut Call) -> Result<Vec<u8>, Reject> {
    let method = call.method;
    let may_mint = call.may_mint();
    let may_mint = &may_mint;
    match method {
        "icrc1_transfer" => super::icrc1_transfer(call, |ledgers| &mut ledgers.cycles, &KIND),
        "deposit" => {
            let args: DepositArgs = decode(method, call.arg)?;
            let ledger = &mut call.executor.state.ledgers.cycles;
            let block = ledger.mint(&args.to, call.cycles).map_err(|error| {
                Reject::new(reject_code::CANISTER_REJECT, "IC0406", format!("{error:?}"))
            })?;
            call.cycles = 0;
            let balance = ledger.balance(&args.to, &KIND, may_mint);
            Ok(encode(DepositResult {
                balance: Nat::from(balance),
                block_index: Nat::from(block),
            }))
        }
        "withdraw" => {
            let args: WithdrawArgs = decode(method, call.arg)?;
            let to = args.to.as_slice().to_vec();
            if !call.executor.state.canisters.contains_key(&to) {
                let error = WithdrawError::InvalidReceiver { receiver: args.to };
                return Ok(encode(Err::<Nat, _>(error)));
            }
            let from = account(call.caller, args.from_subaccount);
            let cycles = crate::execution::cycles::saturating_u128(&args.amount);
            let ledger = &mut call.executor.state.ledgers.cycles;
            match ledger.burn(&from, cycles, &KIND, may_mint) {
                Ok(block) => {
                    let canister = call.executor.canister(&to);
                    canister.cycles = canister.cycles.saturating_add(cycles);
                    Ok(encode(Ok::<_, WithdrawError>(Nat::from(block))))
                }
                Err(error) => {
                    let balance = funds(error);
                    Ok(encode(Err::<Nat, _>(WithdrawError::InsufficientFunds {
                        balance,
                    })))
                }
            }
        }
        "create_canister" => {
            let args: CreateCanisterArgs = decode(method, call.arg)?;
            Ok(encode(create_canister(call, args)))
        }
        _ => query(&call.executor.state, method, call.arg, may_mint),
    }
}

fn create_canister(
    call: &mut Call,
    args: CreateCanisterArgs,
) -> Result<CreateCanisterSuccess, CreateCanisterError> {
    let may_mint = call.may_mint();
    let may_mint = &may_mint;
    let from = account(call.caller, args.from_subaccount);
    let cycles = crate::execution::cycles::saturating_u128(&args.amount);
    let creation_fee = call.executor.fees.canister_creation;
    if cycles < creation_fee {
        return Err(CreateCanisterError::GenericError {
            message: format!("creating a canister costs {creation_fee} cycles, {cycles} offered"),
            error_code: Nat::from(1u8),
        });
    }
    let ledger = &mut call.executor.state.ledgers.cycles;
    let block = ledger
        .burn(&from, cycles, &KIND, may_mint)
        .map_err(|error| CreateCanisterError::InsufficientFunds {
            balance: funds(error),
        })?;
    let settings = args.creation_args.and_then(|args| args.settings);
    let created = crate::execution::management::create(
        call.executor,
        call.caller,
        settings,
        cycles - creation_fee,
    );
    match created {
        Ok(canister_id) => Ok(CreateCanisterSuccess {
            block_id: Nat::from(block),
            canister_id,
        }),
        Err(reject) => {
            // Everything but the fee goes back.
            let ledger = &mut call.executor.state.ledgers.cycles;
            let refund = ledger.mint(&from, cycles).ok().map(Nat::from);
            Err(CreateCanisterError::FailedToCreate {
                fee_block: Some(Nat::from(block)),
                refund_block: refund,
                error: reject.message,
            })
        }
    }
}

/// Answers a query to the cycles ledger.
pub fn query(
    state: &crate::execution::ReplicatedState,
    method: &str,
    arg: &[u8],
    may_mint: MayMint,
) -> Result<Vec<u8>, Reject> {
    let ledger = &state.ledgers.cycles;
    super::icrc1_query(
        method,
        arg,
        &super::Icrc1Metadata {
            name: "Trillion Cycles",
            symbol: "TCYCLES",
            decimals: 12,
            fee: FEE,
        },
        |account| ledger.balance(account, &KIND, may_mint),
        ledger.total_supply(),
    )
}
