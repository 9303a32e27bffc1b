//! Request ids: the representation-independent hash of a request's
//! content map (IC interface spec, "Request ids"), so that the same
//! request has the same id however its CBOR was written.
//!
//! Each field hashes to `H(key) ‖ H(value)` with blobs and text hashed as
//! their bytes, natural numbers as their LEB128 encoding, arrays as the
//! hash of their elements' hashes and maps recursively; the sorted field
//! hashes, concatenated, hash to the id.

use ciborium::value::Value;
use sha2::{Digest, Sha256};

/// The domain a sender signs a request id under.
pub const REQUEST_DOMAIN: &[u8] = b"\x0Aic-request";

/// Why a value has no representation-independent hash.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash request field: {0}")]
pub struct UnhashableValue(pub &'static str);

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `value` in unsigned LEB128 (how the IC hashes and stores numbers).
pub(crate) fn leb128(mut value: u128) -> Vec<u8> {
    let mut bytes = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(byte);
            return bytes;
        }
        bytes.push(byte | 0x80);
    }
}

/// The hash of one value.
///
/// # Errors
/// [`UnhashableValue`] for negative numbers, floats, booleans, null, or
/// maps with non-text keys.
pub fn hash_value(value: &Value) -> Result<[u8; 32], UnhashableValue> {
    match value {
        Value::Bytes(bytes) => Ok(sha256(bytes)),
        Value::Text(text) => Ok(sha256(text.as_bytes())),
        Value::Integer(integer) => {
            let natural =
                u128::try_from(*integer).map_err(|_| UnhashableValue("negative number"))?;
            Ok(sha256(&leb128(natural)))
        }
        Value::Array(items) => {
            let mut hasher = Sha256::new();
            for item in items {
                hasher.update(hash_value(item)?);
            }
            Ok(hasher.finalize().into())
        }
        Value::Map(entries) => hash_of_map(entries),
        Value::Tag(_, inner) => hash_value(inner),
        _ => Err(UnhashableValue("not a blob, text, number, array or map")),
    }
}

/// The hash of a map with text keys (a request's content is one).
///
/// # Errors
/// As [`hash_value`].
pub fn hash_of_map(entries: &[(Value, Value)]) -> Result<[u8; 32], UnhashableValue> {
    let mut fields = entries
        .iter()
        .map(|(key, value)| {
            let Value::Text(key) = key else {
                return Err(UnhashableValue("a map key is not text"));
            };
            let mut field = [0u8; 64];
            field[..32].copy_from_slice(&sha256(key.as_bytes()));
            field[32..].copy_from_slice(&hash_value(value)?);
            Ok(field)
        })
        .collect::<Result<Vec<_>, _>>()?;
    fields.sort_unstable();
    let mut hasher = Sha256::new();
    for field in &fields {
        hasher.update(field);
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn the_spec_example_request_has_the_spec_id() {
        let content = vec![
            (text("request_type"), text("call")),
            (
                text("canister_id"),
                Value::Bytes(vec![0, 0, 0, 0, 0, 0, 4, 210]),
            ),
            (text("method_name"), text("hello")),
            (text("arg"), Value::Bytes(b"DIDL\x00\xFD*".to_vec())),
        ];
        assert_eq!(
            hex::encode(hash_of_map(&content).unwrap()),
            "8781291c347db32a9d8c10eb62b710fce5a93be676474c42babc74c51858f94b"
        );
        // Field order does not matter; every value does.
        let mut reordered = content.clone();
        reordered.reverse();
        assert_eq!(hash_of_map(&reordered), hash_of_map(&content));
        let mut changed = content.clone();
        changed[2].1 = text("hellO");
        assert_ne!(hash_of_map(&changed), hash_of_map(&content));
    }

    #[test]
    fn a_delegation_with_a_number_and_an_array_hashes_as_replicas_expect() {
        // The vector @dfinity/agent checks against what the replica wants.
        let delegation = vec![
            (text("expiration"), Value::Integer(1_611_365_875_951_000_000u64.into())),
            (
                text("pubkey"),
                Value::Bytes(
                    hex::decode("302a300506032b6570032100819d9fe3ac251039f934cdc925da0b019848af9d650d4136fb5d955cff17f78e")
                        .unwrap(),
                ),
            ),
            (
                text("targets"),
                Value::Array(vec![
                    Value::Bytes(vec![0, 0, 0, 0, 0, 48, 0, 77, 1, 1]),
                    Value::Bytes(vec![0, 0, 0, 0, 0, 32, 0, 43, 1, 1]),
                ]),
            ),
        ];
        assert_eq!(
            hex::encode(hash_of_map(&delegation).unwrap()),
            "f0c66015041eccb5528fc7fd817bb4d0707369d7e1383d3cdaa074b2b2236824"
        );
    }

    #[test]
    fn numbers_hash_as_leb128_and_nonsense_is_refused() {
        // 624485 is the LEB128 example of the DWARF standard: e5 8e 26.
        assert_eq!(leb128(624_485), vec![0xe5, 0x8e, 0x26]);
        assert_eq!(leb128(0), vec![0]);
        assert_eq!(
            hash_value(&Value::Integer(624_485.into())).unwrap(),
            sha256(&[0xe5, 0x8e, 0x26])
        );
        assert!(hash_value(&Value::Integer((-1).into())).is_err());
        assert!(hash_value(&Value::Bool(true)).is_err());
        assert!(hash_of_map(&[(Value::Integer(1.into()), text("x"))]).is_err());
    }
}
