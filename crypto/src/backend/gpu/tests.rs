//! Cross-checks of every field and curve function the kernels use against
//! blst/blstrs, on random inputs and edge cases, through the element-wise
//! entry points of `shaders/field_ops.wgsl`. Each test prints the adapter;
//! without one it is skipped, unless `CHAINKEY_REQUIRE_GPU=1` (CI), where it fails.

use std::io::Write;
use std::sync::OnceLock;

use blst::{
    blst_fp, blst_fp2, blst_fp2_add, blst_fp2_mul, blst_fp2_sqr, blst_fp2_sub, blst_fp_add,
    blst_fp_cneg, blst_fp_from_uint64, blst_fp_inverse, blst_fp_mul, blst_fp_sqr, blst_fp_sub,
};
use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use ff::Field;
use group::{Curve, Group};
use rand::{Rng, RngCore};

use super::context::{dispatch, sources, Kernel};
use super::encoding::{push_fp, GpuPoint, FP_WORDS};
use super::GpuContext;

/// The shared context, or `None` (skip) when there is no adapter and none is required.
fn gpu() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Option<GpuContext>> = OnceLock::new();
    CONTEXT
        .get_or_init(|| {
            let context = GpuContext::discover().expect("CHAINKEY_REQUIRE_GPU=1 but no usable GPU");
            // Past the harness's output capture: the log shows the device.
            let line = match &context {
                Some(context) => format!("GPU adapter: {}", context.describe()),
                None => "no GPU adapter: skipping GPU kernel tests".to_string(),
            };
            let _ = writeln!(std::io::stderr(), "{line}");
            context
        })
        .as_ref()
}

/// Runs one entry point of `field_ops.wgsl` on `count` items.
fn run_ops(
    context: &GpuContext,
    entry: &'static str,
    inputs: &[u32],
    count: usize,
    output_words: usize,
) -> Vec<u32> {
    let kernel = Kernel::new(sources::FIELD_OPS, entry);
    let kernel = context
        .compiled(&kernel)
        .expect("field_ops kernel compiles");
    let input = context.upload(inputs);
    let output = context.output(count * output_words);
    let params = context.parameters(&[count as u32, 0, 0, 0]);
    let bind_group = context.bind(
        kernel,
        &[(0, &input.buffer), (1, &output.buffer), (2, &params)],
    );
    let mut encoder = context.encoder();
    dispatch(&mut encoder, kernel, &bind_group, count);
    let readback = context.submit_with_readback(encoder, &output, count * output_words);
    let words = context.finish(readback).expect("readback");
    context.recycle(input);
    context.recycle(output);
    words
}

fn fp_from_limbs(limbs: [u64; 6]) -> blst_fp {
    let mut out = blst_fp::default();
    // SAFETY: blst reads six limbs (a canonical value) and writes one element.
    unsafe { blst_fp_from_uint64(&mut out, limbs.as_ptr()) };
    out
}

const P_LIMBS: [u64; 6] = [
    0xb9fe_ffff_ffff_aaab,
    0x1eab_fffe_b153_ffff,
    0x6730_d2a0_f6b0_f624,
    0x6477_4b84_f385_12bf,
    0x4b1b_a7b6_434b_acd7,
    0x1a01_11ea_397f_e69a,
];

/// Edge cases (0, 1, 2, p − 1, p − 2) then random canonical elements.
fn fp_samples(random: usize) -> Vec<blst_fp> {
    let minus = |k: u64| {
        let mut limbs = P_LIMBS;
        limbs[0] -= k;
        fp_from_limbs(limbs)
    };
    let mut samples = vec![
        fp_from_limbs([0; 6]),
        fp_from_limbs([1, 0, 0, 0, 0, 0]),
        fp_from_limbs([2, 0, 0, 0, 0, 0]),
        minus(1),
        minus(2),
    ];
    let mut rng = rand::thread_rng();
    samples.extend((0..random).map(|_| {
        let mut limbs: [u64; 6] = std::array::from_fn(|_| rng.next_u64());
        limbs[5] &= 0x0fff_ffff_ffff_ffff; // below 2³⁸⁰ < p
        fp_from_limbs(limbs)
    }));
    samples
}

fn words_to_fp(words: &[u32]) -> blst_fp {
    let mut out = blst_fp::default();
    for (limb, pair) in out.l.iter_mut().zip(words.chunks_exact(2)) {
        *limb = u64::from(pair[0]) | (u64::from(pair[1]) << 32);
    }
    out
}

type FpOp = unsafe extern "C" fn(*mut blst_fp, *const blst_fp, *const blst_fp);

fn fp_binary(op: FpOp, a: &blst_fp, b: &blst_fp) -> blst_fp {
    let mut out = blst_fp::default();
    // SAFETY: valid field elements in and out.
    unsafe { op(&mut out, a, b) };
    out
}

#[test]
fn fp_arithmetic_matches_blst() {
    let Some(context) = gpu() else { return };
    let samples = fp_samples(60);
    let pairs: Vec<(blst_fp, blst_fp)> = samples
        .iter()
        .flat_map(|a| [samples[0], samples[3], samples[samples.len() - 1]].map(|b| (*a, b)))
        .chain(
            samples
                .iter()
                .zip(samples.iter().rev())
                .map(|(a, b)| (*a, *b)),
        )
        .collect();
    let mut inputs = Vec::new();
    for (a, b) in &pairs {
        push_fp(&mut inputs, a);
        push_fp(&mut inputs, b);
    }
    let outputs = run_ops(context, "fp_ops", &inputs, pairs.len(), 6 * FP_WORDS);
    for (i, (a, b)) in pairs.iter().enumerate() {
        let out = &outputs[i * 6 * FP_WORDS..];
        let result = |k: usize| words_to_fp(&out[k * FP_WORDS..(k + 1) * FP_WORDS]);
        assert_eq!(result(0), fp_binary(blst_fp_add, a, b), "add, case {i}");
        assert_eq!(result(1), fp_binary(blst_fp_sub, a, b), "sub, case {i}");
        assert_eq!(result(2), fp_binary(blst_fp_mul, a, b), "mul, case {i}");
        let mut expected = blst_fp::default();
        // SAFETY: valid field elements in and out.
        unsafe { blst_fp_cneg(&mut expected, a, true) };
        assert_eq!(result(3), expected, "neg, case {i}");
        // SAFETY: as above.
        unsafe { blst_fp_sqr(&mut expected, a) };
        assert_eq!(result(5), expected, "square, case {i}");
        // SAFETY: as above (blst maps 0 to 0, like the kernel's inv0).
        unsafe { blst_fp_inverse(&mut expected, a) };
        assert_eq!(result(4), expected, "inverse, case {i}");
    }
}

fn scalar_words(scalar: &Scalar) -> [u32; 8] {
    // SAFETY: `Scalar` is `#[repr(transparent)]` over blst's Montgomery `blst_fr` (4 × u64).
    let limbs = unsafe { std::mem::transmute::<Scalar, [u64; 4]>(*scalar) };
    std::array::from_fn(|i| (limbs[i / 2] >> (32 * (i % 2))) as u32)
}

#[test]
fn fr_arithmetic_matches_blstrs() {
    let Some(context) = gpu() else { return };
    let mut rng = rand::thread_rng();
    let mut samples = vec![Scalar::ZERO, Scalar::ONE, -Scalar::ONE, -Scalar::from(2)];
    samples.extend((0..60).map(|_| Scalar::random(&mut rng)));
    let pairs: Vec<(Scalar, Scalar)> = samples
        .iter()
        .flat_map(|a| [samples[0], samples[2], samples[7]].map(|b| (*a, b)))
        .collect();
    let inputs: Vec<u32> = pairs
        .iter()
        .flat_map(|(a, b)| scalar_words(a).into_iter().chain(scalar_words(b)))
        .collect();
    let outputs = run_ops(context, "fr_ops", &inputs, pairs.len(), 32);
    for (i, (a, b)) in pairs.iter().enumerate() {
        let expected = [a + b, a - b, a * b, -a];
        for (k, value) in expected.iter().enumerate() {
            assert_eq!(
                &outputs[i * 32 + 8 * k..i * 32 + 8 * (k + 1)],
                scalar_words(value),
                "op {k}, case {i}"
            );
        }
    }
}

#[test]
fn fp2_arithmetic_matches_blst() {
    let Some(context) = gpu() else { return };
    let elements = fp_samples(30);
    let fp2: Vec<blst_fp2> = elements
        .iter()
        .zip(elements.iter().rev())
        .map(|(a, b)| blst_fp2 { fp: [*a, *b] })
        .collect();
    let pairs: Vec<(blst_fp2, blst_fp2)> = fp2
        .iter()
        .zip(fp2.iter().cycle().skip(3))
        .map(|(a, b)| (*a, *b))
        .collect();
    let mut inputs = Vec::new();
    for (a, b) in &pairs {
        for element in a.fp.iter().chain(&b.fp) {
            push_fp(&mut inputs, element);
        }
    }
    let outputs = run_ops(context, "fp2_ops", &inputs, pairs.len(), 120);
    for (i, (a, b)) in pairs.iter().enumerate() {
        let result = |k: usize| {
            let base = i * 120 + 24 * k;
            blst_fp2 {
                fp: [
                    words_to_fp(&outputs[base..base + 12]),
                    words_to_fp(&outputs[base + 12..base + 24]),
                ],
            }
        };
        let mut expected = blst_fp2::default();
        // SAFETY: valid field elements in and out, for each call below.
        unsafe { blst_fp2_add(&mut expected, a, b) };
        assert_eq!(result(0), expected, "add, case {i}");
        unsafe { blst_fp2_sub(&mut expected, a, b) };
        assert_eq!(result(1), expected, "sub, case {i}");
        unsafe { blst_fp2_mul(&mut expected, a, b) };
        assert_eq!(result(2), expected, "mul, case {i}");
        unsafe { blst_fp2_sqr(&mut expected, a) };
        assert_eq!(result(3), expected, "square, case {i}");
        let zero = blst_fp2::default();
        unsafe { blst_fp2_sub(&mut expected, &zero, a) };
        assert_eq!(result(4), expected, "neg, case {i}");
    }
}

/// (p, q, c) triples covering identity operands, P + P and P + (−P).
fn curve_cases<G: Group<Scalar = Scalar> + Copy>(random: usize) -> Vec<(G, G, G)> {
    let mut rng = rand::thread_rng();
    let mut point = || G::generator() * Scalar::random(&mut rng);
    let p = point();
    let q = point();
    let mut cases = vec![
        (p, q, q),
        (p, p, p),
        (p, -p, -p),
        (G::identity(), q, q),
        (p, G::identity(), G::identity()),
        (G::identity(), G::identity(), G::identity()),
        (p.double(), p, p),
    ];
    cases.extend((0..random).map(|_| (point(), point(), point())));
    cases
}

fn jacobian_words<P: Copy, const N: usize>(point: &P) -> [u32; N] {
    assert_eq!(std::mem::size_of::<P>(), 4 * N);
    // SAFETY: blstrs projective points are `#[repr(transparent)]` over blst's
    // Jacobian points, plain arrays of u64 limbs, of exactly 4·N bytes.
    unsafe { std::mem::transmute_copy::<P, [u32; N]>(point) }
}

#[test]
fn g1_arithmetic_matches_blstrs() {
    let Some(context) = gpu() else { return };
    let cases = curve_cases::<G1Projective>(40);
    let mut inputs = Vec::new();
    for (p, q, c) in &cases {
        inputs.extend(jacobian_words::<G1Projective, 36>(p));
        inputs.extend(jacobian_words::<G1Projective, 36>(q));
        c.to_affine().push_affine(&mut inputs);
    }
    let outputs = run_ops(context, "g1_ops", &inputs, cases.len(), 108);
    for (i, (p, q, c)) in cases.iter().enumerate() {
        let result = |k: usize| {
            G1Affine::projective_from_words(&outputs[i * 108 + 36 * k..i * 108 + 36 * (k + 1)])
        };
        assert_eq!(result(0), p + q, "add, case {i}");
        assert_eq!(result(1), p.double(), "double, case {i}");
        assert_eq!(result(2), p + c, "mixed add, case {i}");
    }
}

#[test]
fn g2_arithmetic_matches_blstrs() {
    let Some(context) = gpu() else { return };
    let cases = curve_cases::<G2Projective>(20);
    let mut inputs = Vec::new();
    for (p, q, c) in &cases {
        inputs.extend(jacobian_words::<G2Projective, 72>(p));
        inputs.extend(jacobian_words::<G2Projective, 72>(q));
        c.to_affine().push_affine(&mut inputs);
    }
    let outputs = run_ops(context, "g2_ops", &inputs, cases.len(), 216);
    for (i, (p, q, c)) in cases.iter().enumerate() {
        let result = |k: usize| {
            G2Affine::projective_from_words(&outputs[i * 216 + 72 * k..i * 216 + 72 * (k + 1)])
        };
        assert_eq!(result(0), p + q, "add, case {i}");
        assert_eq!(result(1), p.double(), "double, case {i}");
        assert_eq!(result(2), p + c, "mixed add, case {i}");
    }
}

#[test]
fn signed_digits_recompose_every_scalar() {
    let mut rng = rand::thread_rng();
    let mut scalars = vec![
        Scalar::ZERO,
        Scalar::ONE,
        -Scalar::ONE,
        Scalar::from(u64::MAX),
    ];
    scalars.extend((0..200).map(|_| Scalar::random(&mut rng)));
    for scalar in scalars {
        let points = rng.gen_range(1..200_000);
        assert_eq!(
            super::msm::recompose(&super::scalar_limbs(1, &[scalar]).unwrap()[0], points),
            scalar
        );
    }
}
