//! CBOR, the encoding of everything a node stores, sends and hashes, and
//! the conventions of the IC HTTP interface: the self-describe tag and
//! maps with text keys.

use ciborium::value::Value;
use serde::Serialize;

/// The CBOR encoding of `value` (every node structure is stored and sent so).
pub fn to_cbor(value: &impl Serialize) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).expect("writing to a Vec cannot fail");
    bytes
}

/// CBOR's self-describe tag (55799), which the IC puts on its messages.
pub const SELF_DESCRIBE: u64 = 55799;

/// Decodes CBOR, dropping a self-describe tag if there is one; `None` if
/// the bytes are not CBOR.
pub fn decode_described(bytes: &[u8]) -> Option<Value> {
    match ciborium::from_reader(bytes).ok()? {
        Value::Tag(SELF_DESCRIBE, inner) => Some(*inner),
        other => Some(other),
    }
}

/// Encodes `value` under the self-describe tag.
pub fn encode_described(value: Value) -> Vec<u8> {
    to_cbor(&Value::Tag(SELF_DESCRIBE, Box::new(value)))
}

/// The value of the text key `name` in a map's entries.
pub fn field<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(key, _)| matches!(key, Value::Text(text) if text == name))
        .map(|(_, value)| value)
}
