//! ICP turned into cycles, as `icp cycles mint` and `--with-icp` do it: a
//! legacy ICP ledger transfer to the cycles minting canister's account for
//! the beneficiary, then a notification naming its block.

use super::*;
use crate::execution::system_canisters::cmc::{
    self, NotifyCreateCanisterArg, NotifyError, NotifyMintCyclesArg, NotifyMintCyclesSuccess,
    NotifyTopUpArg,
};
use crate::execution::system_canisters::ledger::Account;
use crate::execution::system_canisters::{icp_ledger, CMC, CYCLES_LEDGER, ICP_LEDGER};
use ic_ledger_types::{AccountIdentifier, Memo, Subaccount, Tokens};

/// One ICP, in e8s.
const ICP: u64 = 100_000_000;
/// What one ICP buys at the local rate of 3.5 XDR per ICP, an XDR being
/// 10¹² cycles by the IC's definition.
const CYCLES_PER_ICP: u128 = 3_500_000_000_000;

/// The CMC's account for `beneficiary`, as icp-cli computes it.
fn cmc_account(beneficiary: &[u8]) -> AccountIdentifier {
    let cmc = CandidPrincipal::from_slice(&CMC);
    AccountIdentifier::new(
        &cmc,
        &Subaccount::from(CandidPrincipal::from_slice(beneficiary)),
    )
}

/// Sends `e8s` from `sender` to `to` with `memo` by the legacy `transfer`;
/// its block.
fn transfer(
    replica: &mut Replica,
    sender: &[u8],
    to: AccountIdentifier,
    e8s: u64,
    memo: u64,
) -> u64 {
    let arg = Encode!(&ic_ledger_types::TransferArgs {
        memo: Memo(memo),
        amount: Tokens::from_e8s(e8s),
        fee: Tokens::from_e8s(10_000),
        from_subaccount: None,
        to,
        created_at_time: None,
    })
    .unwrap();
    let status = replica
        .block_as(sender, &[(&ICP_LEDGER, "transfer", arg)])
        .remove(0);
    let RequestStatus::Replied(reply) = status else {
        panic!("{status:?}");
    };
    Decode!(&reply, Result<u64, ic_ledger_types::TransferError>)
        .unwrap()
        .unwrap()
}

fn balance(replica: &mut Replica, ledger: &[u8], owner: &[u8]) -> u128 {
    let arg = Encode!(&Account::of(owner)).unwrap();
    let reply = replica.reply(ledger, "icrc1_balance_of", arg);
    u128::try_from(Decode!(&reply, candid::Nat).unwrap().0).unwrap()
}

fn notify<T: candid::CandidType + for<'de> serde::Deserialize<'de>>(
    replica: &mut Replica,
    sender: &[u8],
    method: &str,
    arg: Vec<u8>,
) -> Result<T, NotifyError> {
    let status = replica.block_as(sender, &[(&CMC, method, arg)]).remove(0);
    let RequestStatus::Replied(reply) = status else {
        panic!("{status:?}");
    };
    Decode!(&reply, Result<T, NotifyError>).unwrap()
}

fn mint_arg(block_index: u64) -> Vec<u8> {
    Encode!(&NotifyMintCyclesArg {
        block_index,
        to_subaccount: None,
        deposit_memo: None,
    })
    .unwrap()
}

#[test]
fn icp_sent_to_the_cmc_and_notified_becomes_cycles_once() {
    let mut replica = Replica::new();
    let icp_before = balance(&mut replica, &ICP_LEDGER, USER);
    let cycles_before = balance(&mut replica, &CYCLES_LEDGER, USER);
    let block = transfer(&mut replica, USER, cmc_account(USER), ICP, cmc::MEMO_MINT);

    let minted: NotifyMintCyclesSuccess =
        notify(&mut replica, USER, "notify_mint_cycles", mint_arg(block)).unwrap();
    // The cycles ledger takes its fee of 10⁸ cycles from the deposit.
    let expected = CYCLES_PER_ICP - 100_000_000;
    assert_eq!(minted.minted, candid::Nat::from(CYCLES_PER_ICP));
    assert_eq!(
        balance(&mut replica, &CYCLES_LEDGER, USER),
        cycles_before + expected
    );
    assert_eq!(minted.balance, candid::Nat::from(cycles_before + expected));
    let fee = u128::from(10_000u16);
    assert_eq!(
        balance(&mut replica, &ICP_LEDGER, USER),
        icp_before - u128::from(ICP) - fee
    );
    // The ICP the CMC received is gone: it became the cycles.
    assert_eq!(
        replica
            .executor
            .state
            .ledgers
            .icp
            .balance_of(&cmc_account(USER)),
        0
    );

    // Notified again, the same answer, and nothing more is minted.
    let again: NotifyMintCyclesSuccess =
        notify(&mut replica, USER, "notify_mint_cycles", mint_arg(block)).unwrap();
    assert_eq!(again.block_index, minted.block_index);
    assert_eq!(
        balance(&mut replica, &CYCLES_LEDGER, USER),
        cycles_before + expected
    );
    // Notified as a top-up, refused.
    let top_up = Encode!(&NotifyTopUpArg {
        block_index: block,
        canister_id: CandidPrincipal::from_slice(USER),
    })
    .unwrap();
    assert!(matches!(
        notify::<candid::Nat>(&mut replica, USER, "notify_top_up", top_up),
        Err(NotifyError::InvalidTransaction(_))
    ));
}

#[test]
fn a_notification_of_a_transfer_that_does_not_pay_for_it_changes_nothing_or_refunds() {
    let mut replica = Replica::new();
    const OTHER: &[u8] = &[8; 29];
    // A transfer to someone else's CMC account cannot be claimed.
    let theirs = transfer(&mut replica, OTHER, cmc_account(OTHER), ICP, cmc::MEMO_MINT);
    assert!(matches!(
        notify::<NotifyMintCyclesSuccess>(
            &mut replica,
            USER,
            "notify_mint_cycles",
            mint_arg(theirs)
        ),
        Err(NotifyError::InvalidTransaction(_))
    ));
    // Nor a block that is not a transfer.
    assert!(matches!(
        notify::<NotifyMintCyclesSuccess>(
            &mut replica,
            USER,
            "notify_mint_cycles",
            mint_arg(9_999)
        ),
        Err(NotifyError::InvalidTransaction(_))
    ));
    // Its owner still can.
    let minted = notify::<NotifyMintCyclesSuccess>(
        &mut replica,
        OTHER,
        "notify_mint_cycles",
        mint_arg(theirs),
    );
    assert!(minted.is_ok(), "{minted:?}");

    // With another memo, the ICP goes back less the ledger's fee.
    let icp_before = balance(&mut replica, &ICP_LEDGER, USER);
    let cycles_before = balance(&mut replica, &CYCLES_LEDGER, USER);
    let block = transfer(&mut replica, USER, cmc_account(USER), ICP, cmc::MEMO_TOP_UP);
    let refunded = notify::<NotifyMintCyclesSuccess>(
        &mut replica,
        USER,
        "notify_mint_cycles",
        mint_arg(block),
    );
    assert!(
        matches!(
            refunded,
            Err(NotifyError::Refunded {
                block_index: Some(_),
                ..
            })
        ),
        "{refunded:?}"
    );
    let fee = icp_ledger::FEE;
    assert_eq!(
        balance(&mut replica, &ICP_LEDGER, USER),
        icp_before - 2 * fee
    );
    assert_eq!(balance(&mut replica, &CYCLES_LEDGER, USER), cycles_before);

    // Cycles that cannot be delivered — to a subaccount that is not 32
    // bytes, or too few for a canister's creation fee — are refunded too.
    let block = transfer(&mut replica, USER, cmc_account(USER), ICP, cmc::MEMO_MINT);
    let bad_subaccount = Encode!(&NotifyMintCyclesArg {
        block_index: block,
        to_subaccount: Some(serde_bytes::ByteBuf::from(vec![1, 2, 3])),
        deposit_memo: None,
    })
    .unwrap();
    let refunded =
        notify::<NotifyMintCyclesSuccess>(&mut replica, USER, "notify_mint_cycles", bad_subaccount);
    assert!(
        matches!(refunded, Err(NotifyError::Refunded { .. })),
        "{refunded:?}"
    );
    let block = transfer(
        &mut replica,
        USER,
        cmc_account(USER),
        ICP / 100,
        cmc::MEMO_CREATE,
    );
    let create = Encode!(&NotifyCreateCanisterArg {
        block_index: block,
        controller: CandidPrincipal::from_slice(USER),
        subnet_type: None,
        subnet_selection: None,
        settings: None,
    })
    .unwrap();
    let refunded = notify::<CandidPrincipal>(&mut replica, USER, "notify_create_canister", create);
    assert!(
        matches!(refunded, Err(NotifyError::Refunded { .. })),
        "{refunded:?}"
    );
    assert_eq!(
        balance(&mut replica, &ICP_LEDGER, USER),
        icp_before - 6 * fee
    );
    assert_eq!(balance(&mut replica, &CYCLES_LEDGER, USER), cycles_before);
}

#[test]
fn icp_tops_up_a_canister_and_creates_one() {
    let mut replica = Replica::new();
    let id = replica.create();
    let before = replica.executor.state.canisters[&id].cycles;
    let block = transfer(&mut replica, USER, cmc_account(&id), ICP, cmc::MEMO_TOP_UP);
    let arg = Encode!(&NotifyTopUpArg {
        block_index: block,
        canister_id: CandidPrincipal::from_slice(&id),
    })
    .unwrap();
    let cycles: candid::Nat = notify(&mut replica, USER, "notify_top_up", arg).unwrap();
    assert_eq!(cycles, candid::Nat::from(CYCLES_PER_ICP));
    let after = replica.executor.state.canisters[&id].cycles;
    assert!(
        after >= before + CYCLES_PER_ICP - 1_000_000_000,
        "{before} → {after}"
    );

    let block = transfer(&mut replica, USER, cmc_account(USER), ICP, cmc::MEMO_CREATE);
    let create = |controller: &[u8]| {
        Encode!(&NotifyCreateCanisterArg {
            block_index: block,
            controller: CandidPrincipal::from_slice(controller),
            subnet_type: None,
            subnet_selection: None,
            settings: None,
        })
        .unwrap()
    };
    // Only the controller named may notify.
    let stranger = notify::<CandidPrincipal>(
        &mut replica,
        &[8; 29],
        "notify_create_canister",
        create(USER),
    );
    assert!(matches!(stranger, Err(NotifyError::Other { .. })));
    let created: CandidPrincipal =
        notify(&mut replica, USER, "notify_create_canister", create(USER)).unwrap();
    let canister = &replica.executor.state.canisters[created.as_slice()];
    assert_eq!(canister.controllers, [USER.to_vec()]);
    // The cycles are the ICP's, less the creation fee.
    let fee = replica.executor.fees.canister_creation;
    assert_eq!(canister.cycles, CYCLES_PER_ICP - fee);
}

#[test]
fn the_legacy_interface_names_the_same_accounts_as_icrc1() {
    let mut replica = Replica::new();
    const OTHER: &[u8] = &[8; 29];
    let to = AccountIdentifier::new(&CandidPrincipal::from_slice(OTHER), &Subaccount([0; 32]));
    transfer(&mut replica, USER, to, 5 * ICP, 0);
    assert_eq!(
        balance(&mut replica, &ICP_LEDGER, OTHER),
        icp_ledger::FAUCET + 5 * u128::from(ICP)
    );
    let arg = Encode!(&ic_ledger_types::AccountBalanceArgs { account: to }).unwrap();
    let reply = replica.reply(&ICP_LEDGER, "account_balance", arg);
    // The faucet credit of an account is made when its owner first uses
    // it; this one has only been paid into.
    assert_eq!(Decode!(&reply, Tokens).unwrap(), Tokens::from_e8s(5 * ICP));
}

/// A canister that calls the CMC's `create_canister` with its argument
/// and 2·10¹² cycles attached (`create`), or 10¹¹ (`create_poor`), and
/// replies with the CMC's reply.
const CREATOR: &str = r#"
(module
  (import "ic0" "msg_reply" (func $reply))
  (import "ic0" "msg_reply_data_append" (func $append (param i32 i32)))
  (import "ic0" "msg_arg_data_size" (func $arg_size (result i32)))
  (import "ic0" "msg_arg_data_copy" (func $arg_copy (param i32 i32 i32)))
  (import "ic0" "call_new" (func $call_new (param i32 i32 i32 i32 i32 i32 i32 i32)))
  (import "ic0" "call_data_append" (func $call_data (param i32 i32)))
  (import "ic0" "call_cycles_add128" (func $cycles_add (param i64 i64)))
  (import "ic0" "call_perform" (func $call_perform (result i32)))
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $on_reply $on_reply)
  (data (i32.const 0) "\00\00\00\00\00\00\00\04\01\01") ;; the CMC
  (data (i32.const 16) "create_canister")
  (func $create (param $cycles i64)
    (call $arg_copy (i32.const 100) (i32.const 0) (call $arg_size))
    (call $call_new (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 15)
      (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0))
    (call $call_data (i32.const 100) (call $arg_size))
    (call $cycles_add (i64.const 0) (local.get $cycles))
    (drop (call $call_perform)))
  (func (export "canister_update create") (call $create (i64.const 2000000000000)))
  (func (export "canister_update create_poor") (call $create (i64.const 100000000000)))
  (func $on_reply (param i32)
    (call $arg_copy (i32.const 100) (i32.const 0) (call $arg_size))
    (call $append (i32.const 100) (call $arg_size))
    (call $reply)))
"#;

#[test]
fn a_canister_creates_one_through_the_cmc_with_the_cycles_it_attaches() {
    let mut replica = Replica::new();
    let creator = replica.create();
    let wasm = wat::parse_str(CREATOR).unwrap();
    replica.install(&creator, types::CanisterInstallMode::Install, wasm);
    let arg = Encode!(&cmc::CreateCanisterArg {
        settings: None,
        subnet_type: None,
        subnet_selection: None,
    })
    .unwrap();
    let before = replica.executor.state.canisters[&creator].cycles;
    let reply = replica.reply(&creator, "create", arg.clone());
    let created = Decode!(&reply, Result<CandidPrincipal, cmc::CreateCanisterError>)
        .unwrap()
        .unwrap();
    let canister = &replica.executor.state.canisters[created.as_slice()];
    assert!(
        canister.controllers == [creator.as_slice()],
        "the caller controls it"
    );
    let fee = replica.executor.fees.canister_creation;
    assert_eq!(canister.cycles, 2_000_000_000_000 - fee);
    let spent = before - replica.executor.state.canisters[&creator].cycles;
    assert!(spent >= 2_000_000_000_000, "{spent}");

    // Too few cycles for the fee: refused, and they come back (the
    // caller pays only the call's own fees, millions of cycles).
    assert!(fee > 100_000_000_000);
    let before = replica.executor.state.canisters[&creator].cycles;
    let reply = replica.reply(&creator, "create_poor", arg);
    let refused = Decode!(&reply, Result<CandidPrincipal, cmc::CreateCanisterError>).unwrap();
    assert!(
        matches!(&refused, Err(cmc::CreateCanisterError::Refunded { refund_amount, .. })
            if refund_amount.0 == 100_000_000_000u64.into()),
        "{refused:?}"
    );
    let spent = before - replica.executor.state.canisters[&creator].cycles;
    assert!(spent < 1_000_000_000, "{spent}");
}
