//! Points and field elements as the shaders store them: u32 words that are
//! byte for byte blst's in-memory Montgomery representation (little-endian
//! limbs, R = 2³⁸⁴ for Fp), so crossing the host boundary is a copy.

use blst::{blst_fp, blst_fp2, blst_p1, blst_p1_affine, blst_p2, blst_p2_affine};
use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective};

/// Words of one Fp element.
pub(crate) const FP_WORDS: usize = 12;

/// Appends an Fp element's 12 words.
pub(crate) fn push_fp(out: &mut Vec<u32>, element: &blst_fp) {
    for limb in element.l {
        out.push(limb as u32);
        out.push((limb >> 32) as u32);
    }
}

fn fp_from_words(words: &[u32]) -> blst_fp {
    let mut element = blst_fp::default();
    for (limb, pair) in element.l.iter_mut().zip(words.chunks_exact(2)) {
        *limb = u64::from(pair[0]) | (u64::from(pair[1]) << 32);
    }
    element
}

fn fp2_from_words(words: &[u32]) -> blst_fp2 {
    blst_fp2 {
        fp: [
            fp_from_words(&words[..FP_WORDS]),
            fp_from_words(&words[FP_WORDS..]),
        ],
    }
}

/// A group whose points the kernels handle.
pub(crate) trait GpuPoint: Copy {
    /// The projective (Jacobian) form the host computes with.
    type Projective: group::Group + Copy;
    /// Words of one coordinate (12 for Fp, 24 for Fp2).
    const COORDINATE_WORDS: usize;

    /// Appends the affine (x, y) words; the identity is (0, 0).
    fn push_affine(&self, out: &mut Vec<u32>);

    /// Reads a Jacobian (x, y, z) point of `3 · COORDINATE_WORDS` words.
    fn projective_from_words(words: &[u32]) -> Self::Projective;
}

impl GpuPoint for G1Affine {
    type Projective = G1Projective;
    const COORDINATE_WORDS: usize = FP_WORDS;

    fn push_affine(&self, out: &mut Vec<u32>) {
        // SAFETY: `G1Affine` is `#[repr(transparent)]` over `blst_p1_affine`
        // (the identity is all zeros).
        let raw = unsafe { std::mem::transmute::<G1Affine, blst_p1_affine>(*self) };
        push_fp(out, &raw.x);
        push_fp(out, &raw.y);
    }

    fn projective_from_words(words: &[u32]) -> G1Projective {
        let raw = blst_p1 {
            x: fp_from_words(&words[..FP_WORDS]),
            y: fp_from_words(&words[FP_WORDS..2 * FP_WORDS]),
            z: fp_from_words(&words[2 * FP_WORDS..3 * FP_WORDS]),
        };
        // SAFETY: `G1Projective` is `#[repr(transparent)]` over `blst_p1`,
        // and the kernels only write points of the curve (Jacobian, as blst).
        unsafe { std::mem::transmute::<blst_p1, G1Projective>(raw) }
    }
}

impl GpuPoint for G2Affine {
    type Projective = G2Projective;
    const COORDINATE_WORDS: usize = 2 * FP_WORDS;

    fn push_affine(&self, out: &mut Vec<u32>) {
        // SAFETY: `G2Affine` is `#[repr(transparent)]` over `blst_p2_affine`.
        let raw = unsafe { std::mem::transmute::<G2Affine, blst_p2_affine>(*self) };
        for element in raw.x.fp.iter().chain(&raw.y.fp) {
            push_fp(out, element);
        }
    }

    fn projective_from_words(words: &[u32]) -> G2Projective {
        let c = Self::COORDINATE_WORDS;
        let raw = blst_p2 {
            x: fp2_from_words(&words[..c]),
            y: fp2_from_words(&words[c..2 * c]),
            z: fp2_from_words(&words[2 * c..3 * c]),
        };
        // SAFETY: `G2Projective` is `#[repr(transparent)]` over `blst_p2`.
        unsafe { std::mem::transmute::<blst_p2, G2Projective>(raw) }
    }
}
