//! The Candid of the canisters chainkey serves itself, compared method by
//! method with the interfaces the IC publishes (the `.did` files of
//! `@icp-sdk/canisters` from npm: the management canister's `ic.did`, the
//! cycles ledger's, the CMC's and the ICP ledger's). For each method
//! served, every argument the published interface allows must decode
//! into the type chainkey decodes (published ⊑ ours), and every result
//! chainkey encodes must decode as the published result (ours ⊑
//! published). Methods the published interface has and chainkey does not
//! serve are listed by name, so that a new one cannot go unnoticed.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;

use candid::types::subtype::{subtype, Gamma};
use candid::types::{Type, TypeInner};
use candid::CandidType;
use candid_parser::utils::CandidSource;
use chainkey_node::execution::management::{snapshots, status};
use chainkey_node::execution::system_canisters::{
    cmc, cycles_ledger, ledger, MetadataValue, SupportedStandard,
};
use ic_management_canister_types as types;

/// A served method: its name, its argument types and its result types.
struct Method {
    name: &'static str,
    args: Vec<Type>,
    results: Vec<Type>,
}

fn method<A: CandidType, R: CandidType>(name: &'static str) -> Method {
    Method {
        name,
        args: tuple::<A>(),
        results: tuple::<R>(),
    }
}

/// The types of a method's arguments or results: `()` is none.
fn tuple<T: CandidType>() -> Vec<Type> {
    match T::ty().as_ref() {
        TypeInner::Null if std::any::type_name::<T>() == "()" => Vec::new(),
        _ => vec![T::ty()],
    }
}

fn declarations(path: &str) -> PathBuf {
    common::install_js();
    common::workspace()
        .join("tests/js/node_modules/@icp-sdk/canisters/declarations")
        .join(path)
}

/// Checks `served` against the service of the `.did` file at `path`;
/// `not_served` names the published methods chainkey leaves out.
fn compare(path: &str, served: &[Method], not_served: &[&str]) {
    let (missing, failures) = differences(path, served);
    let expected: BTreeSet<String> = not_served.iter().map(|name| name.to_string()).collect();
    assert_eq!(missing, expected, "{path}: published methods not served");
    assert!(failures.is_empty(), "{path}:\n{}", failures.join("\n"));
}

/// The published methods `served` lacks, and what in `served` does not
/// fit the published interface.
fn differences(path: &str, served: &[Method]) -> (BTreeSet<String>, Vec<String>) {
    let file = declarations(path);
    let (env, actor) = CandidSource::File(&file)
        .load()
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let actor = actor.expect("a service");
    let service = env.as_service(&actor).expect("a service type");
    let ours: BTreeSet<&str> = served.iter().map(|m| m.name).collect();
    let missing = service
        .iter()
        .map(|(name, _)| name.clone())
        .filter(|name| !ours.contains(name.as_str()))
        .collect();
    let mut failures = Vec::new();
    for ours in served {
        let Some((_, published)) = service.iter().find(|(name, _)| name == ours.name) else {
            failures.push(format!("{}: not in the published interface", ours.name));
            continue;
        };
        let function = env.as_func(published).expect("a method is a function");
        let fits = |from: &[Type], to: &[Type]| {
            from.len() >= to.len()
                && from.iter().zip(to).all(|(a, b)| {
                    let mut gamma = Gamma::new();
                    subtype(&mut gamma, &env, a, b).is_ok()
                })
        };
        let args = &function.args;
        if !fits(args, &ours.args) {
            failures.push(format!(
                "{}: published arguments do not decode as ours",
                ours.name
            ));
        }
        if !fits(&ours.results, &function.rets) {
            failures.push(format!(
                "{}: our results do not decode as published",
                ours.name
            ));
        }
    }
    (missing, failures)
}

/// The ICRC-1 methods both ledgers serve.
fn icrc1_methods() -> Vec<Method> {
    type TransferResult = Result<candid::Nat, ledger::TransferError>;
    vec![
        method::<ledger::TransferArgs, TransferResult>("icrc1_transfer"),
        method::<ledger::Account, candid::Nat>("icrc1_balance_of"),
        method::<(), String>("icrc1_name"),
        method::<(), String>("icrc1_symbol"),
        method::<(), u8>("icrc1_decimals"),
        method::<(), candid::Nat>("icrc1_fee"),
        method::<(), candid::Nat>("icrc1_total_supply"),
        method::<(), Option<ledger::Account>>("icrc1_minting_account"),
        method::<(), Vec<(String, MetadataValue)>>("icrc1_metadata"),
        method::<(), Vec<SupportedStandard>>("icrc1_supported_standards"),
    ]
}

#[test]
fn a_type_that_does_not_fit_is_found() {
    use types::*;
    let wrong = [
        // An older status record: the published one has fields it lacks.
        method::<CanisterIdRecord, CanisterIdRecord>("canister_status"),
        // An argument that needs a field the published one may leave out.
        method::<CanisterStatusResult, ()>("start_canister"),
    ];
    let (_, failures) = differences("ic-management/ic-management.did", &wrong);
    assert_eq!(failures.len(), 2, "{failures:?}");
}

#[test]
fn the_management_canister_matches_the_interface_specification() {
    use types::*;
    let served = [
        method::<CreateCanisterArgs, CanisterIdRecord>("create_canister"),
        method::<UpdateSettingsArgs, ()>("update_settings"),
        method::<UploadChunkArgs, ChunkHash>("upload_chunk"),
        method::<CanisterIdRecord, ()>("clear_chunk_store"),
        method::<CanisterIdRecord, Vec<ChunkHash>>("stored_chunks"),
        method::<InstallCodeArgs, ()>("install_code"),
        method::<InstallChunkedCodeArgs, ()>("install_chunked_code"),
        method::<UninstallCodeArgs, ()>("uninstall_code"),
        method::<CanisterIdRecord, ()>("start_canister"),
        method::<CanisterIdRecord, ()>("stop_canister"),
        method::<CanisterIdRecord, CanisterStatusResult>("canister_status"),
        method::<CanisterInfoArgs, status::CanisterInfoResult>("canister_info"),
        method::<CanisterMetadataArgs, CanisterMetadataResult>("canister_metadata"),
        method::<SubnetInfoArgs, SubnetInfoResult>("subnet_info"),
        method::<CanisterIdRecord, ()>("delete_canister"),
        method::<CanisterIdRecord, ()>("deposit_cycles"),
        method::<(), serde_bytes::ByteBuf>("raw_rand"),
        method::<EcdsaPublicKeyArgs, EcdsaPublicKeyResult>("ecdsa_public_key"),
        method::<SignWithEcdsaArgs, SignWithEcdsaResult>("sign_with_ecdsa"),
        method::<ProvisionalCreateCanisterWithCyclesArgs, CanisterIdRecord>(
            "provisional_create_canister_with_cycles",
        ),
        method::<ProvisionalTopUpCanisterArgs, ()>("provisional_top_up_canister"),
        method::<TakeCanisterSnapshotArgs, Snapshot>("take_canister_snapshot"),
        method::<LoadCanisterSnapshotArgs, ()>("load_canister_snapshot"),
        method::<CanisterIdRecord, Vec<Snapshot>>("list_canister_snapshots"),
        method::<DeleteCanisterSnapshotArgs, ()>("delete_canister_snapshot"),
        method::<FetchCanisterLogsArgs, FetchCanisterLogsResult>("fetch_canister_logs"),
        method::<ReadCanisterSnapshotMetadataArgs, snapshots::SnapshotMetadata>(
            "read_canister_snapshot_metadata",
        ),
        method::<ReadCanisterSnapshotDataArgs, ReadCanisterSnapshotDataResult>(
            "read_canister_snapshot_data",
        ),
        method::<UploadCanisterSnapshotMetadataArgs, UploadCanisterSnapshotMetadataResult>(
            "upload_canister_snapshot_metadata",
        ),
        method::<UploadCanisterSnapshotDataArgs, ()>("upload_canister_snapshot_data"),
    ];
    let not_served = [
        "http_request",
        "schnorr_public_key",
        "sign_with_schnorr",
        "vetkd_public_key",
        "vetkd_derive_key",
        "node_metrics_history",
        "bitcoin_get_balance",
        "bitcoin_get_utxos",
        "bitcoin_send_transaction",
        "bitcoin_get_current_fee_percentiles",
        "bitcoin_get_block_headers",
    ];
    compare("ic-management/ic-management.did", &served, &not_served);
}

#[test]
fn the_cycles_ledger_matches_its_published_interface() {
    use cycles_ledger::*;
    let mut served = icrc1_methods();
    served.extend([
        method::<DepositArgs, DepositResult>("deposit"),
        method::<WithdrawArgs, Result<candid::Nat, WithdrawError>>("withdraw"),
        method::<CreateCanisterArgs, Result<CreateCanisterSuccess, CreateCanisterError>>(
            "create_canister",
        ),
    ]);
    let not_served = [
        "http_request",
        "icrc2_allowance",
        "icrc2_approve",
        "icrc2_transfer_from",
        "icrc3_get_archives",
        "icrc3_get_tip_certificate",
        "icrc3_get_blocks",
        "icrc3_supported_block_types",
        "icrc103_get_allowances",
        "icrc106_get_index_principal",
        "withdraw_from",
        "create_canister_from",
    ];
    compare("cycles-ledger/cycles-ledger.did", &served, &not_served);
}

#[test]
fn the_cycles_minting_canister_matches_its_published_interface() {
    let served = [
        method::<(), Vec<candid::Principal>>("get_default_subnets"),
        method::<(), cmc::SubnetTypesToSubnetsResponse>("get_subnet_types_to_subnets"),
        method::<(), cmc::PrincipalsAuthorizedResponse>(
            "get_principals_authorized_to_create_canisters_to_subnets",
        ),
        method::<(), String>("get_build_metadata"),
        method::<(), cmc::IcpXdrConversionRateResponse>("get_icp_xdr_conversion_rate"),
        method::<cmc::NotifyMintCyclesArg, Result<cmc::NotifyMintCyclesSuccess, cmc::NotifyError>>(
            "notify_mint_cycles",
        ),
        method::<cmc::NotifyTopUpArg, Result<candid::Nat, cmc::NotifyError>>("notify_top_up"),
        method::<cmc::CreateCanisterArg, Result<candid::Principal, cmc::CreateCanisterError>>(
            "create_canister",
        ),
        method::<cmc::NotifyCreateCanisterArg, Result<candid::Principal, cmc::NotifyError>>(
            "notify_create_canister",
        ),
    ];
    let not_served = [
        "set_authorized_subnetwork_list",
        "update_subnet_type",
        "change_subnet_type_assignment",
    ];
    compare("cmc/cmc.did", &served, &not_served);
}

#[test]
fn the_icp_ledger_matches_its_published_interface() {
    use chainkey_node::execution::system_canisters::icp_ledger;
    use ic_ledger_types as legacy;
    let mut served = icrc1_methods();
    served.extend([
        method::<legacy::TransferArgs, legacy::TransferResult>("transfer"),
        method::<legacy::AccountBalanceArgs, legacy::Tokens>("account_balance"),
        method::<ledger::Account, serde_bytes::ByteBuf>("account_identifier"),
        method::<(), icp_ledger::TransferFee>("transfer_fee"),
        method::<(), icp_ledger::Symbol>("symbol"),
        method::<(), icp_ledger::Name>("name"),
        method::<(), icp_ledger::Decimals>("decimals"),
    ]);
    let not_served = [
        "query_blocks",
        "query_encoded_blocks",
        "archives",
        "send_dfx",
        "account_balance_dfx",
        "icrc2_approve",
        "icrc2_allowance",
        "icrc2_transfer_from",
        "remove_approval",
        "icrc21_canister_call_consent_message",
        "icrc10_supported_standards",
        "get_allowances",
        "tip_of_chain",
        "is_ledger_ready",
    ];
    compare("ledger-icp/ledger.did", &served, &not_served);
}
