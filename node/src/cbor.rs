//! The CBOR conventions of the IC HTTP interface that several modules read
//! and write: the self-describe tag and maps with text keys.

use ciborium::value::Value;

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
    crate::wire::to_cbor(&Value::Tag(SELF_DESCRIBE, Box::new(value)))
}

/// The value of the text key `name` in a map's entries.
pub fn field<'a>(entries: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    entries
        .iter()
        .find(|(key, _)| matches!(key, Value::Text(text) if text == name))
        .map(|(_, value)| value)
}
