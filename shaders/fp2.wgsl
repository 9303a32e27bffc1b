// Arithmetic in Fp2 = Fp[i]/(i² + 1), the field of G2's coordinates.
//
// Layout: c0 + c1·i, each an Fp (see field.wgsl); packed in buffers as c0's
// 12 words then c1's — blst's layout of an Fp2.

struct Fp2 {
    c0: Fp,
    c1: Fp,
}

fn fp2_zero() -> Fp2 {
    return Fp2(fp_zero(), fp_zero());
}

fn fp2_one() -> Fp2 {
    return Fp2(fp_one(), fp_zero());
}

fn fp2_is_zero(a: Fp2) -> bool {
    return fp_is_zero(a.c0) && fp_is_zero(a.c1);
}

fn fp2_eq(a: Fp2, b: Fp2) -> bool {
    return fp_eq(a.c0, b.c0) && fp_eq(a.c1, b.c1);
}

fn fp2_select(a: Fp2, b: Fp2, condition: bool) -> Fp2 {
    return Fp2(fp_select(a.c0, b.c0, condition), fp_select(a.c1, b.c1, condition));
}

fn fp2_add(a: Fp2, b: Fp2) -> Fp2 {
    return Fp2(fp_add(a.c0, b.c0), fp_add(a.c1, b.c1));
}

fn fp2_sub(a: Fp2, b: Fp2) -> Fp2 {
    return Fp2(fp_sub(a.c0, b.c0), fp_sub(a.c1, b.c1));
}

fn fp2_neg(a: Fp2) -> Fp2 {
    return Fp2(fp_neg(a.c0), fp_neg(a.c1));
}

fn fp2_double(a: Fp2) -> Fp2 {
    return fp2_add(a, a);
}

// Karatsuba: three Fp multiplications, run as one loop so the kernel
// holds one copy of fp_mul (shader compilers inline every call).
fn fp2_mul(a: Fp2, b: Fp2) -> Fp2 {
    var left: array<Fp, 3>;
    var right: array<Fp, 3>;
    left[0] = a.c0;
    right[0] = b.c0;
    left[1] = a.c1;
    right[1] = b.c1;
    left[2] = fp_add(a.c0, a.c1);
    right[2] = fp_add(b.c0, b.c1);
    var products: array<Fp, 3>;
    for (var k = runtime_zero; k < 3u; k++) {
        products[k] = fp_mul(left[k], right[k]);
    }
    return Fp2(fp_sub(products[0], products[1]), fp_sub(fp_sub(products[2], products[0]), products[1]));
}

fn fp2_square(a: Fp2) -> Fp2 {
    return fp2_mul(a, a);
}

fn fp2_from_words(w: array<u32, 24>) -> Fp2 {
    var words = w;
    var low: array<u32, 12>;
    var high: array<u32, 12>;
    for (var i = runtime_zero; i < 12u; i++) {
        low[i] = words[i];
        high[i] = words[12u + i];
    }
    return Fp2(fp_from_words(low), fp_from_words(high));
}

fn fp2_to_words(a: Fp2) -> array<u32, 24> {
    var low = fp_to_words(a.c0);
    var high = fp_to_words(a.c1);
    var w: array<u32, 24>;
    for (var i = runtime_zero; i < 12u; i++) {
        w[i] = low[i];
        w[12u + i] = high[i];
    }
    return w;
}
