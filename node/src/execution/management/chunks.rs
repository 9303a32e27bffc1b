//! A canister's chunk store, for modules larger than one message:
//! `upload_chunk`, `stored_chunks`, `clear_chunk_store`, and
//! `install_chunked_code`, which puts a module together from stored
//! chunks and installs it like `install_code`. Chunks count as the
//! canister's memory, so it pays for them like any other byte.

use std::sync::Arc;

use candid::Encode;
use ic_management_canister_types as types;
use sha2::{Digest, Sha256};

use super::super::{reject_code, Executor, Reject};
use super::{bad_argument, controlled, decode, encode};

/// Largest chunk, bytes (as on the IC).
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// Most chunks a store holds (as on the IC).
pub const MAX_CHUNKS: usize = 100;

fn hash_record(hash: &[u8; 32]) -> types::ChunkHash {
    types::ChunkHash {
        hash: hash.to_vec(),
    }
}

/// A chunk store's chunks by hash.
pub type Chunks = std::collections::BTreeMap<[u8; 32], Arc<serde_bytes::ByteBuf>>;

/// The hash under which `chunk` joins `store`, if it fits (its size, the
/// number of chunks, the subnet's memory, which it takes if it is new).
pub(super) fn admit(
    executor: &mut Executor,
    store: &Chunks,
    chunk: &[u8],
    method: &str,
) -> Result<[u8; 32], Reject> {
    if chunk.len() > MAX_CHUNK_BYTES {
        return Err(bad_argument(
            method,
            format!("a chunk holds at most {MAX_CHUNK_BYTES} bytes"),
        ));
    }
    let hash: [u8; 32] = Sha256::digest(chunk).into();
    if !store.contains_key(&hash) {
        if store.len() >= MAX_CHUNKS {
            return Err(Reject::new(
                reject_code::CANISTER_ERROR,
                "IC0539",
                format!("The chunk store holds at most {MAX_CHUNKS} chunks"),
            ));
        }
        executor.reserve_memory(chunk.len() as u64)?;
    }
    Ok(hash)
}

/// The chunk hashes of `store` as the interface specification lists them.
pub(super) fn hashes(store: &Chunks) -> Vec<types::ChunkHash> {
    store.keys().map(hash_record).collect()
}

/// Executes `upload_chunk`, `stored_chunks` or `clear_chunk_store`.
pub fn call(
    executor: &mut Executor,
    caller: &[u8],
    method: &str,
    arg: &[u8],
) -> Result<Vec<u8>, Reject> {
    match method {
        "upload_chunk" => {
            let args: types::UploadChunkArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            let canister = controlled(executor, caller, &id, method)?;
            let hash = admit(executor, &canister.chunks, &args.chunk, method)?;
            let chunk = Arc::new(serde_bytes::ByteBuf::from(args.chunk));
            executor.canister(&id).chunks.insert(hash, chunk);
            Ok(encode(hash_record(&hash)))
        }
        "stored_chunks" => {
            let args: types::StoredChunksArgs = decode(method, arg)?;
            let canister = controlled(executor, caller, args.canister_id.as_slice(), method)?;
            Ok(encode(hashes(&canister.chunks)))
        }
        _ => {
            let args: types::ClearChunkStoreArgs = decode(method, arg)?;
            let id = args.canister_id.as_slice().to_vec();
            controlled(executor, caller, &id, method)?;
            executor.canister(&id).chunks.clear();
            Ok(encode(()))
        }
    }
}

/// The `install_code` argument an `install_chunked_code` argument stands
/// for: its module put together from the store canister's chunks, in
/// order, and checked against the hash it names.
pub fn as_install_code(executor: &Executor, caller: &[u8], arg: &[u8]) -> Result<Vec<u8>, Reject> {
    let method = "install_chunked_code";
    let args: types::InstallChunkedCodeArgs = decode(method, arg)?;
    let store_id = args.store_canister.unwrap_or(args.target_canister);
    let store = controlled(executor, caller, store_id.as_slice(), method)?;
    let mut module = Vec::new();
    for chunk in &args.chunk_hashes_list {
        let found = <[u8; 32]>::try_from(chunk.hash.as_slice())
            .ok()
            .and_then(|hash| store.chunks.get(&hash));
        let Some(bytes) = found else {
            return Err(bad_argument(
                method,
                format!(
                    "no chunk with hash {} in the store",
                    hex::encode(&chunk.hash)
                ),
            ));
        };
        module.extend_from_slice(bytes);
    }
    if Sha256::digest(&module).as_slice() != args.wasm_module_hash.as_slice() {
        return Err(bad_argument(
            method,
            "the chunks do not make the module of wasm_module_hash",
        ));
    }
    let install = types::InstallCodeArgs {
        mode: args.mode,
        canister_id: args.target_canister,
        wasm_module: module,
        arg: args.arg,
        sender_canister_version: args.sender_canister_version,
    };
    Ok(Encode!(&install).expect("install arguments encode"))
}
