//! `expand_message_xmd` with SHA-256 (RFC 9380, section 5.3.1).
//!
//! Hashing to BLS12-381 itself is done by blst (see [`BlsGroup::hash_to_curve`]);
//! this module exposes the byte-expansion step on its own because batch
//! hash-to-curve backends (such as a GPU map-to-curve kernel) run it on the
//! CPU and only map the resulting field elements on the device.
//!
//! [`BlsGroup::hash_to_curve`]: crate::BlsGroup::hash_to_curve

use sha2::{Digest, Sha256};

use crate::error::Error;

/// SHA-256 output size `b_in_bytes`.
const HASH_BYTES: usize = 32;
/// SHA-256 input block size `s_in_bytes`.
const BLOCK_BYTES: usize = 64;
/// Prefix RFC 9380 §5.3.3 prescribes when a DST longer than 255 bytes is hashed down.
const OVERSIZE_DST_PREFIX: &[u8] = b"H2C-OVERSIZE-DST-";

/// Expands `msg` into `len_in_bytes` uniformly random bytes under the domain
/// separation tag `dst`, as `expand_message_xmd` with SHA-256.
///
/// Tags longer than 255 bytes are first hashed down as RFC 9380 §5.3.3 requires.
///
/// # Errors
/// [`Error::EmptyDomainSeparationTag`] for an empty `dst`, and
/// [`Error::ExpandLengthTooLarge`] when `len_in_bytes` exceeds 65535 or 255 hash blocks.
pub fn expand_message_xmd(msg: &[u8], dst: &[u8], len_in_bytes: usize) -> Result<Vec<u8>, Error> {
    if dst.is_empty() {
        return Err(Error::EmptyDomainSeparationTag);
    }
    let blocks = len_in_bytes.div_ceil(HASH_BYTES);
    if blocks > 255 || len_in_bytes > usize::from(u16::MAX) {
        return Err(Error::ExpandLengthTooLarge(len_in_bytes));
    }
    let hashed_dst;
    let dst = if dst.len() > 255 {
        hashed_dst = Sha256::new()
            .chain_update(OVERSIZE_DST_PREFIX)
            .chain_update(dst)
            .finalize();
        hashed_dst.as_slice()
    } else {
        dst
    };
    // Both fit in a byte: checked just above.
    let dst_len = [dst.len() as u8];
    let len_bytes = (len_in_bytes as u16).to_be_bytes();

    let b0 = Sha256::new()
        .chain_update([0u8; BLOCK_BYTES])
        .chain_update(msg)
        .chain_update(len_bytes)
        .chain_update([0u8])
        .chain_update(dst)
        .chain_update(dst_len)
        .finalize();

    let mut out = Vec::with_capacity(blocks * HASH_BYTES);
    let mut previous = [0u8; HASH_BYTES];
    for i in 1..=blocks {
        let mut input = b0;
        for (x, p) in input.iter_mut().zip(previous) {
            *x ^= p;
        }
        let bi = Sha256::new()
            .chain_update(input)
            .chain_update([i as u8])
            .chain_update(dst)
            .chain_update(dst_len)
            .finalize();
        out.extend_from_slice(&bi);
        previous.copy_from_slice(&bi);
    }
    out.truncate(len_in_bytes);
    Ok(out)
}
