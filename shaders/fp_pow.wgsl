// Exponentiation in Fp by the two public exponents the kernels need:
// inversion a^(p−2) and square roots a^((p+1)/4) (p ≡ 3 mod 4).

// a^e, e given as 12 little-endian words: square-and-multiply over the 384
// bits from the top, in one loop so the kernel holds one multiplication.
fn fp_pow(a: Fp, exponent: array<u32, 12>) -> Fp {
    var e = exponent;
    var r = fp_one();
    for (var k = runtime_zero; k < 384u; k++) {
        let bit = 383u - k;
        let multiply = ((e[bit / 32u] >> (bit % 32u)) & 1u) == 1u;
        r = fp_mul(r, r);
        let factor = fp_select(fp_one(), a, multiply);
        r = fp_mul(r, factor);
    }
    return r;
}

// a⁻¹, and 0 for 0 (RFC 9380's inv0).
fn fp_inverse(a: Fp) -> Fp {
    return fp_pow(a, FP_EXP_INVERSE);
}

// A square root of a if a is a square (check by squaring).
fn fp_sqrt_candidate(a: Fp) -> Fp {
    return fp_pow(a, FP_EXP_SQRT);
}
