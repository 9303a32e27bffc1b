//! Helpers for tests that read the reference vectors in `../shared/vectors`.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use serde_json::Value;

/// The `vectors` folder of `../shared` (beside the project root), or the
/// folder named by `CHAINKEY_SHARED_DIR`. Panics loudly when it is missing:
/// a test must never pass because its vectors were not found.
pub fn vectors_dir() -> PathBuf {
    let shared = std::env::var_os("CHAINKEY_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    let vectors = shared.join("vectors");
    assert!(
        vectors.is_dir(),
        "reference vectors not found at {}; check out shared/ beside the project or set CHAINKEY_SHARED_DIR",
        vectors.display()
    );
    vectors
}

/// Every JSON file of a vector folder, parsed, with its file name; panics if there are none.
pub fn json_cases(folder: &str) -> Vec<(String, Value)> {
    let dir = vectors_dir().join(folder);
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    assert!(!cases.is_empty(), "no vectors in {}", dir.display());
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

/// Parses one JSON file of the vectors folder.
pub fn json_file(path: &str) -> Value {
    let path = vectors_dir().join(path);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Decodes a hex string with or without a `0x` prefix.
pub fn unhex(value: &Value) -> Vec<u8> {
    let text = value.as_str().expect("hex string");
    hex::decode(text.strip_prefix("0x").unwrap_or(text)).expect("valid hex")
}

/// Decodes a JSON list of hex strings.
pub fn unhex_list(value: &Value) -> Vec<Vec<u8>> {
    value.as_array().expect("list").iter().map(unhex).collect()
}

/// The machine's GPU for a GPU test, or `None` (the test skips) when there
/// is no adapter — unless `CHAINKEY_REQUIRE_GPU=1` (as in CI), which makes
/// that a failure. Names the adapter on stderr past the test harness's
/// output capture, so the test log shows which device ran the kernels.
#[cfg(feature = "gpu")]
pub fn discover_gpu() -> Option<chainkey_crypto::backend::gpu::GpuContext> {
    use std::io::Write;

    let context = chainkey_crypto::backend::gpu::GpuContext::discover()
        .expect("CHAINKEY_REQUIRE_GPU=1 but no usable GPU");
    let line = match &context {
        Some(context) => format!("GPU adapter: {}", context.describe()),
        None => "no GPU adapter: skipping the GPU tests".to_string(),
    };
    let _ = writeln!(std::io::stderr(), "{line}");
    context
}
