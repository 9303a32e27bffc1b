//! Batch hash-to-G1, host side: `hash_to_field` (expand_message_xmd to two
//! field elements per message) on the CPU, map-to-curve and cofactor
//! clearing on the GPU (`shaders/hash_to_g1.wgsl`).

use blst::{blst_fp, blst_fp_add, blst_fp_from_uint64, blst_fp_mul};
use blstrs::G1Projective;

use super::context::{dispatch, GpuContext, PooledBuffer, Readback};
use super::encoding::{push_fp, GpuPoint};
use super::GpuError;
use crate::hash::expand_message_xmd;

/// RFC 9380 `hash_to_field` for Fp with L = 64: 64 uniform bytes,
/// big-endian, reduced mod p (Horner over 64-bit limbs, in Montgomery form).
fn field_element(bytes: &[u8]) -> blst_fp {
    let montgomery = |limbs: [u64; 6]| {
        let mut out = blst_fp::default();
        // SAFETY: blst reads six limbs and writes one field element.
        unsafe { blst_fp_from_uint64(&mut out, limbs.as_ptr()) };
        out
    };
    let two_to_64 = montgomery([0, 1, 0, 0, 0, 0]);
    bytes.chunks_exact(8).fold(blst_fp::default(), |acc, limb| {
        let limb = montgomery([
            u64::from_be_bytes(limb.try_into().expect("8 bytes")),
            0,
            0,
            0,
            0,
            0,
        ]);
        let mut shifted = blst_fp::default();
        let mut sum = blst_fp::default();
        // SAFETY: blst reads and writes valid field elements.
        unsafe {
            blst_fp_mul(&mut shifted, &acc, &two_to_64);
            blst_fp_add(&mut sum, &shifted, &limb);
        }
        sum
    })
}

/// A batch of hashes being computed.
pub(crate) struct PendingHash {
    readback: Readback,
    buffers: [PooledBuffer; 2],
    count: usize,
}

/// Hashes `messages` under `dst` and starts the GPU.
///
/// # Errors
/// [`GpuError::Hash`] for a DST RFC 9380 does not allow.
pub(crate) fn submit(
    context: &GpuContext,
    messages: &[&[u8]],
    dst: &[u8],
) -> Result<PendingHash, GpuError> {
    let kernel = context.compiled(&context.hash_to_g1)?;
    let mut words = Vec::with_capacity(messages.len() * 24);
    for message in messages {
        let uniform = expand_message_xmd(message, dst, 128)?;
        push_fp(&mut words, &field_element(&uniform[..64]));
        push_fp(&mut words, &field_element(&uniform[64..]));
    }
    let inputs = context.upload(&words);
    let outputs = context.output(messages.len() * 36);
    let params = context.parameters(&[messages.len() as u32, 0, 0, 0]);
    let bind_group = context.bind(
        kernel,
        &[(0, &inputs.buffer), (1, &outputs.buffer), (2, &params)],
    );
    let mut encoder = context.encoder();
    dispatch(&mut encoder, kernel, &bind_group, messages.len());
    let readback = context.submit_with_readback(encoder, &outputs, messages.len() * 36);
    Ok(PendingHash {
        readback,
        buffers: [inputs, outputs],
        count: messages.len(),
    })
}

/// Waits for the hashes.
pub(crate) fn finish(
    context: &GpuContext,
    pending: PendingHash,
) -> Result<Vec<G1Projective>, GpuError> {
    let words = context.finish(pending.readback)?;
    for buffer in pending.buffers {
        context.recycle(buffer);
    }
    Ok(words
        .chunks_exact(36)
        .take(pending.count)
        .map(blstrs::G1Affine::projective_from_words)
        .collect())
}
