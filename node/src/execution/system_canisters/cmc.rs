//! The cycles minting canister (`rkp4c-7iaaa-aaaaa-aaaca-cai`): where
//! canisters go (the default subnets, subnet types, who may create
//! canisters where — a local network has one subnet, this one), the
//! ICP/XDR rate, and ICP turned into cycles. ICP sent to the CMC's
//! subaccount of a principal or canister, then notified, becomes cycles
//! in the cycles ledger (`notify_mint_cycles`), in a canister
//! (`notify_top_up`) or a new canister (`notify_create_canister`); a
//! transfer with the wrong memo, or whose cycles cannot be delivered, is
//! refunded. A canister also creates canisters here with the cycles it
//! attaches (`create_canister`). Served natively with the real canister's
//! Candid.

use std::collections::BTreeMap;

use candid::{CandidType, Nat, Principal as CandidPrincipal};
use ic_ledger_types::{AccountIdentifier, Subaccount};
use ic_management_canister_types as types;
use serde::{Deserialize, Serialize};

use super::cycles_ledger::SubnetSelection;
use super::ledger::{Account, Transfer};
use super::{decode, encode, no_method, Call, CMC};
use crate::execution::{Reject, ReplicatedState};

/// XDR (in ten-thousandths) one ICP buys here: a local network's rate is
/// a constant. One XDR buys 10¹² cycles, so an e8 buys this many cycles.
pub const XDR_PERMYRIAD_PER_ICP: u64 = 35_000;

/// The memo of a transfer paying for `notify_mint_cycles` ("MINT").
pub const MEMO_MINT: u64 = 0x544e_494d;
/// The memo of a transfer paying for `notify_top_up` ("TPUP").
pub const MEMO_TOP_UP: u64 = 0x5055_5054;
/// The memo of a transfer paying for `notify_create_canister` ("CREA").
pub const MEMO_CREATE: u64 = 0x4145_5243;

/// The CMC's state: the notifications it answered, by ICP ledger block,
/// so a repeated notification gets the same answer and pays once.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    answers: BTreeMap<u64, Answer>,
}

/// A notification's answer, kept for its repetitions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Answer {
    /// The method that was notified.
    method: String,
    /// Its Candid reply.
    reply: Vec<u8>,
}

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

/// The rate of `get_icp_xdr_conversion_rate`.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct IcpXdrConversionRate {
    /// When it was set, Unix seconds.
    pub timestamp_seconds: u64,
    /// XDR per ICP, in ten-thousandths.
    pub xdr_permyriad_per_icp: u64,
}

/// `get_icp_xdr_conversion_rate`'s result. The rate is a constant of the
/// local network, not certified data: `hash_tree` and `certificate` are
/// empty.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct IcpXdrConversionRateResponse {
    /// The rate.
    pub data: IcpXdrConversionRate,
    /// Empty.
    #[serde(with = "serde_bytes")]
    pub hash_tree: Vec<u8>,
    /// Empty.
    #[serde(with = "serde_bytes")]
    pub certificate: Vec<u8>,
}

/// `notify_mint_cycles`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct NotifyMintCyclesArg {
    /// The ICP ledger block of the transfer to the CMC.
    pub block_index: u64,
    /// The cycles ledger subaccount to credit.
    pub to_subaccount: Option<serde_bytes::ByteBuf>,
    /// A memo for the cycles ledger's deposit.
    pub deposit_memo: Option<serde_bytes::ByteBuf>,
}

/// `notify_mint_cycles`'s success.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct NotifyMintCyclesSuccess {
    /// The cycles ledger block of the deposit.
    pub block_index: Nat,
    /// Cycles minted (the deposit is these less the cycles ledger's fee).
    pub minted: Nat,
    /// The account's balance after it.
    pub balance: Nat,
}

/// `notify_top_up`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct NotifyTopUpArg {
    /// The ICP ledger block of the transfer to the CMC.
    pub block_index: u64,
    /// The canister to top up.
    pub canister_id: CandidPrincipal,
}

/// `notify_create_canister`'s argument.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct NotifyCreateCanisterArg {
    /// The ICP ledger block of the transfer to the CMC.
    pub block_index: u64,
    /// The new canister's controller (the caller).
    pub controller: CandidPrincipal,
    /// A subnet type (a local network has one subnet: ignored).
    pub subnet_type: Option<String>,
    /// A subnet (a local network has one subnet: ignored).
    pub subnet_selection: Option<SubnetSelection>,
    /// The new canister's settings.
    pub settings: Option<types::CanisterSettings>,
}

/// Why a notification did not turn ICP into cycles.
#[derive(Clone, Debug, PartialEq, Eq, CandidType, Deserialize)]
pub enum NotifyError {
    /// The ICP went back to the sender, less the ledger's fee.
    Refunded {
        /// Why.
        reason: String,
        /// The refund's block, if there was one.
        block_index: Option<u64>,
    },
    /// Another notification of the block is in progress.
    Processing,
    /// The block is older than those the CMC can still look up (the
    /// oldest it can).
    TransactionTooOld(u64),
    /// The block is not a transfer to the CMC for this notification.
    InvalidTransaction(String),
    /// Anything else.
    Other {
        /// A number for it.
        error_code: u64,
        /// What happened.
        error_message: String,
    },
}

/// Cycles `e8s` of ICP buy.
pub fn cycles_for(e8s: u128) -> u128 {
    e8s.saturating_mul(u128::from(XDR_PERMYRIAD_PER_ICP))
}

/// The CMC's ICP account for `principal` (a notifying principal, or a
/// canister to top up).
fn deposit_account(principal: &CandidPrincipal) -> AccountIdentifier {
    let cmc = CandidPrincipal::from_slice(&CMC);
    AccountIdentifier::new(&cmc, &Subaccount::from(*principal))
}

/// A notification: ICP sent to the CMC, to be turned into cycles.
enum Notification {
    Mint(NotifyMintCyclesArg),
    TopUp(NotifyTopUpArg),
    Create(Box<NotifyCreateCanisterArg>),
}

impl Notification {
    /// The notification `method` carries (none: not a notification).
    fn decode(method: &str, arg: &[u8]) -> Result<Option<Notification>, Reject> {
        Ok(Some(match method {
            "notify_mint_cycles" => Notification::Mint(decode(method, arg)?),
            "notify_top_up" => Notification::TopUp(decode(method, arg)?),
            "notify_create_canister" => Notification::Create(Box::new(decode(method, arg)?)),
            _ => return Ok(None),
        }))
    }

    fn block(&self) -> u64 {
        match self {
            Notification::Mint(args) => args.block_index,
            Notification::TopUp(args) => args.block_index,
            Notification::Create(args) => args.block_index,
        }
    }

    /// Whose CMC account the ICP must have gone to.
    fn beneficiary(&self, caller: &[u8]) -> CandidPrincipal {
        match self {
            Notification::Mint(_) => CandidPrincipal::from_slice(caller),
            Notification::TopUp(args) => args.canister_id,
            Notification::Create(args) => args.controller,
        }
    }

    /// The memo the transfer must carry.
    fn memo(&self) -> u64 {
        match self {
            Notification::Mint(_) => MEMO_MINT,
            Notification::TopUp(_) => MEMO_TOP_UP,
            Notification::Create(_) => MEMO_CREATE,
        }
    }

    /// The reply of a notification that failed.
    fn failed(&self, error: NotifyError) -> Vec<u8> {
        match self {
            Notification::Mint(_) => encode(Err::<NotifyMintCyclesSuccess, _>(error)),
            Notification::TopUp(_) => encode(Err::<Nat, _>(error)),
            Notification::Create(_) => encode(Err::<CandidPrincipal, _>(error)),
        }
    }
}

/// `create_canister`'s argument: a canister creating one with the cycles
/// it attaches.
#[derive(Clone, Debug, CandidType, Deserialize)]
pub struct CreateCanisterArg {
    /// The new canister's settings (controllers: the caller if none).
    pub settings: Option<types::CanisterSettings>,
    /// A subnet type (a local network has one subnet: ignored).
    pub subnet_type: Option<String>,
    /// A subnet (a local network has one subnet: ignored).
    pub subnet_selection: Option<SubnetSelection>,
}

/// Why `create_canister` did not create one.
#[derive(Clone, Debug, PartialEq, Eq, CandidType, Deserialize)]
pub enum CreateCanisterError {
    /// The attached cycles went back.
    Refunded {
        /// Cycles refunded.
        refund_amount: Nat,
        /// Why.
        create_error: String,
    },
}

/// `create_canister`: a canister of the caller's, holding the attached
/// cycles less the creation fee; refunded if it cannot be made.
fn create_with_attached_cycles(
    call: &mut Call,
    args: CreateCanisterArg,
) -> Result<CandidPrincipal, CreateCanisterError> {
    let fee = call.executor.fees.canister_creation;
    let refunded = |create_error: String| CreateCanisterError::Refunded {
        refund_amount: Nat::from(call.cycles),
        create_error,
    };
    let Some(balance) = call.cycles.checked_sub(fee) else {
        return Err(refunded(format!(
            "creating a canister costs {fee} cycles, {} attached",
            call.cycles
        )));
    };
    let created =
        crate::execution::management::create(call.executor, call.caller, args.settings, balance);
    match created {
        Ok(id) => {
            call.cycles = 0;
            Ok(id)
        }
        Err(reject) => Err(refunded(reject.message)),
    }
}

/// Executes an update call to the CMC.
pub fn update(call: &mut Call) -> Result<Vec<u8>, Reject> {
    let method = call.method;
    if method == "create_canister" {
        let args: CreateCanisterArg = decode(method, call.arg)?;
        return Ok(encode(create_with_attached_cycles(call, args)));
    }
    let Some(notification) = Notification::decode(method, call.arg)? else {
        return Err(no_method(method));
    };
    if let Notification::Create(args) = &notification {
        if args.controller.as_slice() != call.caller {
            return Ok(notification.failed(NotifyError::Other {
                error_code: 1,
                error_message: "only the new canister's controller may notify".into(),
            }));
        }
    }
    let block = notification.block();
    if let Some(answer) = call.executor.state.ledgers.notified.answers.get(&block) {
        return Ok(match answer.method == method {
            true => answer.reply.clone(),
            false => notification.failed(NotifyError::InvalidTransaction(format!(
                "block {block} was notified with {}",
                answer.method
            ))),
        });
    }
    let beneficiary = notification.beneficiary(call.caller);
    let payment = payment(
        &call.executor.state,
        block,
        &beneficiary,
        notification.memo(),
    );
    let reply = match payment {
        // Nothing was spent: the notification may be made again.
        Err(error) => return Ok(notification.failed(error)),
        Ok(Payment::WrongMemo(transfer)) => {
            let reason = match notification {
                Notification::Mint(_) => "the memo is not MINT",
                Notification::TopUp(_) => "the memo is not TPUP, or the canister does not exist",
                Notification::Create(_) => "the memo is not CREA",
            };
            notification.failed(refund(call, &transfer, reason.into()))
        }
        Ok(Payment::Paid(transfer)) => {
            let cycles = cycles_for(transfer.amount);
            let delivered = match &notification {
                Notification::Mint(args) => mint_cycles(call, args, cycles).map(encode_ok),
                Notification::TopUp(args) => Ok(encode_ok(top_up(call, args, cycles))),
                Notification::Create(args) => create_canister(call, args, cycles).map(encode_ok),
            };
            match delivered {
                Ok(reply) => {
                    // The ICP is burned: it became cycles.
                    let ledger = &mut call.executor.state.ledgers.icp;
                    ledger
                        .burn_key(&transfer.to, transfer.amount)
                        .map_err(|error| invalid(method, format!("{error:?}")))?;
                    reply
                }
                Err(reason) => notification.failed(refund(call, &transfer, reason)),
            }
        }
    };
    let answer = Answer {
        method: method.to_string(),
        reply: reply.clone(),
    };
    let ledgers = &mut call.executor.state.ledgers;
    ledgers.notified.answers.insert(block, answer);
    // Answers older than the transfers the ledger still keeps go: their
    // notifications are refused as too old.
    if let Some(oldest) = ledgers.icp.oldest_recent() {
        ledgers.notified.answers.retain(|&block, _| block >= oldest);
    }
    Ok(reply)
}

/// What the transfer in a notified block paid for.
enum Payment {
    /// ICP sent to the CMC's account for the beneficiary, with the memo of
    /// the notification.
    Paid(Transfer<AccountIdentifier>),
    /// ICP sent there with another memo: it goes back.
    WrongMemo(Transfer<AccountIdentifier>),
}

/// The transfer of ICP ledger block `block`, checked to pay the CMC for
/// `beneficiary`.
fn payment(
    state: &ReplicatedState,
    block: u64,
    beneficiary: &CandidPrincipal,
    memo: u64,
) -> Result<Payment, NotifyError> {
    let ledger = &state.ledgers.icp;
    let Some(transfer) = ledger.recent_transfer(block) else {
        return Err(match ledger.oldest_recent() {
            Some(oldest) if block < oldest => NotifyError::TransactionTooOld(oldest),
            _ => NotifyError::InvalidTransaction(format!("block {block} is not a transfer")),
        });
    };
    if transfer.to != deposit_account(beneficiary) {
        return Err(NotifyError::InvalidTransaction(format!(
            "block {block} is not a transfer to the CMC's account for {beneficiary}"
        )));
    }
    if memo == MEMO_TOP_UP && !state.canisters.contains_key(beneficiary.as_slice()) {
        return Ok(Payment::WrongMemo(transfer.clone()));
    }
    Ok(match transfer.memo == memo {
        true => Payment::Paid(transfer.clone()),
        false => Payment::WrongMemo(transfer.clone()),
    })
}

/// Sends `transfer`'s ICP back to its sender, less the ledger's fee.
fn refund(call: &mut Call, transfer: &Transfer<AccountIdentifier>, reason: String) -> NotifyError {
    let ledger = &mut call.executor.state.ledgers.icp;
    let back = transfer.amount.saturating_sub(super::icp_ledger::FEE);
    let burned = ledger.burn_key(&transfer.to, transfer.amount);
    let block_index = burned.ok().map(|_| ledger.credit_key(transfer.from, back));
    NotifyError::Refunded {
        reason,
        block_index,
    }
}

/// A notification's successful reply.
fn encode_ok<T: CandidType>(value: T) -> Vec<u8> {
    encode(Ok::<T, NotifyError>(value))
}

/// Adds `cycles` to the canister `args` names (`payment` checked that it
/// exists); the cycles added.
fn top_up(call: &mut Call, args: &NotifyTopUpArg, cycles: u128) -> Nat {
    let target = call.executor.canister(args.canister_id.as_slice());
    target.cycles = target.cycles.saturating_add(cycles);
    Nat::from(cycles)
}

/// Mints `cycles` and deposits them, less the cycles ledger's fee, to the
/// caller's cycles ledger account (`minted` counts them before the fee,
/// as icp-cli reads it).
fn mint_cycles(
    call: &mut Call,
    args: &NotifyMintCyclesArg,
    cycles: u128,
) -> Result<NotifyMintCyclesSuccess, String> {
    let account = Account {
        owner: CandidPrincipal::from_slice(call.caller),
        subaccount: args.to_subaccount.clone(),
    };
    let deposited = cycles.saturating_sub(super::cycles_ledger::FEE);
    let may_mint = call.may_mint();
    let ledger = &mut call.executor.state.ledgers.cycles;
    let block = ledger
        .mint(&account, deposited)
        .map_err(|_| "the cycles ledger subaccount is not 32 bytes".to_string())?;
    let balance = ledger.balance(&account, &super::cycles_ledger::KIND, &may_mint);
    Ok(NotifyMintCyclesSuccess {
        block_index: Nat::from(block),
        minted: Nat::from(cycles),
        balance: Nat::from(balance),
    })
}

/// Creates a canister of `args.controller` holding `cycles`, less the
/// creation fee.
fn create_canister(
    call: &mut Call,
    args: &NotifyCreateCanisterArg,
    cycles: u128,
) -> Result<CandidPrincipal, String> {
    let fee = call.executor.fees.canister_creation;
    let Some(balance) = cycles.checked_sub(fee) else {
        return Err(format!(
            "creating a canister costs {fee} cycles, {cycles} paid"
        ));
    };
    let controller = args.controller.as_slice().to_vec();
    let settings = args.settings.clone();
    crate::execution::management::create(call.executor, &controller, settings, balance)
        .map_err(|reject| reject.message)
}

fn invalid(method: &str, error: impl std::fmt::Display) -> Reject {
    crate::execution::management::invalid_argument("Cycles minting canister", method, error)
}

/// Answers a query to the CMC on subnet `subnet_id`.
pub fn query(state: &ReplicatedState, subnet_id: &[u8], method: &str) -> Result<Vec<u8>, Reject> {
    let subnet = CandidPrincipal::from_slice(subnet_id);
    Ok(match method {
        "get_default_subnets" => encode(vec![subnet]),
        "get_subnet_types_to_subnets" => encode(SubnetTypesToSubnetsResponse { data: Vec::new() }),
        "get_principals_authorized_to_create_canisters_to_subnets" => {
            encode(PrincipalsAuthorizedResponse { data: Vec::new() })
        }
        "get_icp_xdr_conversion_rate" => encode(IcpXdrConversionRateResponse {
            data: IcpXdrConversionRate {
                timestamp_seconds: state.time_ns / 1_000_000_000,
                xdr_permyriad_per_icp: XDR_PERMYRIAD_PER_ICP,
            },
            hash_tree: Vec::new(),
            certificate: Vec::new(),
        }),
        "get_build_metadata" => encode("chainkey native cycles minting canister"),
        _ => return Err(no_method(method)),
    })
}
