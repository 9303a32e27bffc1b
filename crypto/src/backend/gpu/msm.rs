//! Pippenger MSM, host side: signed window digits, counting sort of
//! (point, sign) entries into buckets, the two kernels of `shaders/msm.wgsl`,
//! and the final combination of segments and windows on the CPU (a few
//! hundred group operations, against n·windows on the GPU).

use group::Group;

use super::context::{dispatch, GpuContext, MsmKernels, PooledBuffer, Readback};
use super::encoding::GpuPoint;
use super::GpuError;

/// Buckets per reduction segment (one reduce invocation each).
const SEGMENT_LENGTH: usize = 16;

/// Window layout of one MSM.
#[derive(Clone, Copy, Debug)]
struct Plan {
    window_bits: usize,
    windows: usize,
    buckets_per_window: usize,
    segment_length: usize,
    segments: usize,
}

impl Plan {
    fn new(points: usize, scalar_bits: usize) -> Self {
        // The window minimising the additions: (windows)·(n accumulations +
        // 2 reductions per bucket), within [4, 15].
        let additions = |c: usize| (scalar_bits.div_ceil(c) + 1) * (points + (1 << c));
        let window_bits = (4..=15)
            .min_by_key(|&c| additions(c))
            .expect("non-empty range");
        let buckets_per_window = 1 << (window_bits - 1);
        let segment_length = SEGMENT_LENGTH.min(buckets_per_window);
        Plan {
            window_bits,
            // One more window takes the carry of the signed digits.
            windows: scalar_bits.div_ceil(window_bits) + 1,
            buckets_per_window,
            segment_length,
            segments: buckets_per_window / segment_length,
        }
    }

    fn buckets(&self) -> usize {
        self.windows * self.buckets_per_window
    }
}

/// The signed digits of a scalar: `Σ dᵢ·2^(c·i)` with `dᵢ ∈ [−2^(c−1), 2^(c−1)]`.
fn signed_digits<'a>(scalar: &'a [u64; 4], plan: &'a Plan) -> impl Iterator<Item = i32> + 'a {
    let c = plan.window_bits;
    let mut carry = 0i64;
    (0..plan.windows).map(move |window| {
        let bit = window * c;
        let mut raw = 0u64;
        if bit < 256 {
            let (limb, offset) = (bit / 64, bit % 64);
            raw = scalar[limb] >> offset;
            if offset + c > 64 && limb + 1 < 4 {
                raw |= scalar[limb + 1] << (64 - offset);
            }
            raw &= (1 << c) - 1;
        }
        let mut digit = raw as i64 + carry;
        carry = 0;
        if digit > 1 << (c - 1) {
            digit -= 1 << c;
            carry = 1;
        }
        digit as i32
    })
}

/// `Σ dᵢ·2^(c·i)` over the digits the plan for `points` points gives, as a
/// scalar: the digits must recompose every scalar exactly.
#[cfg(test)]
pub(crate) fn recompose(scalar: &[u64; 4], points: usize) -> blstrs::Scalar {
    let plan = Plan::new(points, 255);
    let base = blstrs::Scalar::from(1u64 << plan.window_bits);
    signed_digits(scalar, &plan)
        .collect::<Vec<_>>()
        .iter()
        .rev()
        .fold(blstrs::Scalar::from(0), |acc, &digit| {
            let magnitude = blstrs::Scalar::from(u64::from(digit.unsigned_abs()));
            acc * base + if digit < 0 { -magnitude } else { magnitude }
        })
}

/// An MSM whose result is being computed.
pub(crate) struct PendingMsm {
    plan: Plan,
    readback: Readback,
    buffers: Vec<PooledBuffer>,
}

/// Uploads one MSM and starts it; the CPU is free until [`finish`].
pub(crate) fn submit<P: GpuPoint>(
    context: &GpuContext,
    kernels: &MsmKernels,
    bases: &[P],
    scalars: &[[u64; 4]],
    scalar_bits: usize,
) -> Result<PendingMsm, GpuError> {
    assert_eq!(bases.len(), scalars.len(), "one scalar per base");
    let accumulate_kernel = context.compiled(&kernels.accumulate)?;
    let reduce_kernel = context.compiled(&kernels.reduce)?;
    let plan = Plan::new(bases.len(), scalar_bits);

    // Counting sort of the entries by global bucket (window, |digit| − 1).
    let digits: Vec<Vec<i32>> = scalars
        .iter()
        .map(|s| signed_digits(s, &plan).collect())
        .collect();
    let mut starts = vec![0u32; plan.buckets() + 1];
    for point_digits in &digits {
        for (window, &digit) in point_digits.iter().enumerate() {
            if digit != 0 {
                starts[window * plan.buckets_per_window + digit.unsigned_abs() as usize] += 1;
            }
        }
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut cursor = starts.clone();
    let mut entries = vec![0u32; starts[plan.buckets()] as usize];
    for (point, point_digits) in digits.iter().enumerate() {
        for (window, &digit) in point_digits.iter().enumerate() {
            if digit != 0 {
                let bucket = window * plan.buckets_per_window + digit.unsigned_abs() as usize - 1;
                entries[cursor[bucket] as usize] = point as u32 | (u32::from(digit < 0) << 31);
                cursor[bucket] += 1;
            }
        }
    }

    let mut base_words = Vec::with_capacity(bases.len() * 2 * P::COORDINATE_WORDS);
    for base in bases {
        base.push_affine(&mut base_words);
    }
    let point_words = 3 * P::COORDINATE_WORDS;
    let segment_outputs = plan.windows * plan.segments * 2;
    let bases_buffer = context.upload(&base_words);
    let entries_buffer = context.upload(&entries);
    let starts_buffer = context.upload(&starts);
    let bucket_sums = context.output(plan.buckets() * point_words);
    let segment_sums = context.output(segment_outputs * point_words);
    let params = context.parameters(&[
        plan.buckets() as u32,
        plan.buckets_per_window as u32,
        plan.windows as u32,
        plan.segments as u32,
        plan.segment_length as u32,
        0,
        0,
        0,
    ]);

    let accumulate = context.bind(
        accumulate_kernel,
        &[
            (0, &bases_buffer.buffer),
            (1, &entries_buffer.buffer),
            (2, &starts_buffer.buffer),
            (3, &bucket_sums.buffer),
            (5, &params),
        ],
    );
    let reduce = context.bind(
        reduce_kernel,
        &[
            (3, &bucket_sums.buffer),
            (4, &segment_sums.buffer),
            (5, &params),
        ],
    );
    let mut encoder = context.encoder();
    dispatch(&mut encoder, accumulate_kernel, &accumulate, plan.buckets());
    dispatch(
        &mut encoder,
        reduce_kernel,
        &reduce,
        plan.windows * plan.segments,
    );
    let readback =
        context.submit_with_readback(encoder, &segment_sums, segment_outputs * point_words);
    Ok(PendingMsm {
        plan,
        readback,
        buffers: vec![
            bases_buffer,
            entries_buffer,
            starts_buffer,
            bucket_sums,
            segment_sums,
        ],
    })
}

/// Waits for the GPU and combines segments and windows.
pub(crate) fn finish<P: GpuPoint>(
    context: &GpuContext,
    pending: PendingMsm,
) -> Result<P::Projective, GpuError> {
    let words = context.finish(pending.readback)?;
    for buffer in pending.buffers {
        context.recycle(buffer);
    }
    let plan = pending.plan;
    let point_words = 3 * P::COORDINATE_WORDS;
    let point = |index: usize| {
        P::projective_from_words(&words[index * point_words..(index + 1) * point_words])
    };
    let mut total = P::Projective::identity();
    for window in (0..plan.windows).rev() {
        for _ in 0..plan.window_bits {
            total = total.double();
        }
        // Σ_s weighted_s + L·Σ_s s·plain_s, the inner sum by running sums.
        let mut weighted = P::Projective::identity();
        let mut running = P::Projective::identity();
        let mut scaled = P::Projective::identity();
        for segment in (0..plan.segments).rev() {
            let index = 2 * (window * plan.segments + segment);
            weighted += point(index);
            scaled += running;
            running += point(index + 1);
        }
        // After the loop, scaled = Σ_s s·plain_s.
        for _ in 0..plan.segment_length.trailing_zeros() {
            scaled = scaled.double();
        }
        total += weighted + scaled;
    }
    Ok(total)
}
