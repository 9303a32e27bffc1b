// Montgomery arithmetic in a prime field (template: instantiated by
// crypto/build.rs as Fp, the BLS12-381 base field, 24 limbs, and Fr, its
// scalar field, 16 limbs).
//
// Layout. In registers an element is $N little-endian 16-bit limbs, each in
// a u32, in Montgomery form a·R mod m with R = 2^(16·$N). In buffers it is
// packed two limbs per u32 ($W words, little-endian) — byte for byte
// blst's in-memory Montgomery representation, so the host uploads and reads
// back blst points without any conversion.
//
// Why 16-bit limbs: WGSL has no 64-bit integers and no high-half multiply.
// A 16×16-bit product plus two 16-bit values is at most 2^32 − 1, so the
// CIOS Montgomery multiplication below runs on plain u32 arithmetic with a
// carry per step and no deferred-carry bookkeeping.

struct $F {
    l: array<u32, $N>,
}

fn $f_zero() -> $F {
    return $F(array<u32, $N>());
}

fn $f_one() -> $F {
    return $F($U_ONE);
}

fn $f_is_zero(a: $F) -> bool {
    var x = a;
    var acc = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        acc |= x.l[i];
    }
    return acc == 0u;
}

fn $f_eq(a: $F, b: $F) -> bool {
    var x = a;
    var y = b;
    var acc = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        acc |= x.l[i] ^ y.l[i];
    }
    return acc == 0u;
}

// t − m if t ≥ m (t given with one extra top limb), else t.
fn $f_reduce_once(t: array<u32, $N1>) -> $F {
    var x = t;
    var m = $U_MODULUS;
    var d: array<u32, $N>;
    var borrow = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        let s = x[i] + 0x10000u - m[i] - borrow;
        d[i] = s & 0xffffu;
        borrow = 1u - (s >> 16u);
    }
    var r: array<u32, $N>;
    let keep = x[$Nu] < borrow; // t < m: the subtraction borrowed past the top limb
    for (var i = runtime_zero; i < $Nu; i++) {
        r[i] = select(d[i], x[i], keep);
    }
    return $F(r);
}

fn $f_add(a: $F, b: $F) -> $F {
    var x = a;
    var y = b;
    var t: array<u32, $N1>;
    var carry = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        let s = x.l[i] + y.l[i] + carry;
        t[i] = s & 0xffffu;
        carry = s >> 16u;
    }
    t[$Nu] = carry;
    return $f_reduce_once(t);
}

fn $f_sub(a: $F, b: $F) -> $F {
    var x = a;
    var y = b;
    var d: array<u32, $N>;
    var borrow = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        let s = x.l[i] + 0x10000u - y.l[i] - borrow;
        d[i] = s & 0xffffu;
        borrow = 1u - (s >> 16u);
    }
    // Add m back if the subtraction borrowed (computed always, then selected).
    var m = $U_MODULUS;
    var r: array<u32, $N>;
    var carry = 0u;
    for (var i = runtime_zero; i < $Nu; i++) {
        let s = d[i] + m[i] + carry;
        r[i] = (d[i] & (borrow - 1u)) | (s & 0xffffu & (0u - borrow));
        carry = s >> 16u;
    }
    return $F(r);
}

// b if `condition`, else a, limb by limb. Kernels choose between computed
// values with this rather than branch around arithmetic: no divergence
// between invocations, and no branch on secret data.
fn $f_select(a: $F, b: $F, condition: bool) -> $F {
    var x = a;
    var y = b;
    let mask = 0u - u32(condition);
    var r: array<u32, $N>;
    for (var i = runtime_zero; i < $Nu; i++) {
        r[i] = (x.l[i] & ~mask) | (y.l[i] & mask);
    }
    return $F(r);
}

fn $f_neg(a: $F) -> $F {
    return $f_sub($f_zero(), a);
}

fn $f_double(a: $F) -> $F {
    return $f_add(a, a);
}

// Montgomery product a·b·R⁻¹ mod m (CIOS: multiply one limb of a, then
// reduce one limb, keeping the running sum t below 2m).
fn $f_mul(a: $F, b: $F) -> $F {
    var x = a;
    var y = b;
    var m = $U_MODULUS;
    var t: array<u32, $N2>;
    for (var i = runtime_zero; i < $Nu; i++) {
        let ai = x.l[i];
        var carry = 0u;
        for (var j = runtime_zero; j < $Nu; j++) {
            let s = t[j] + ai * y.l[j] + carry;
            t[j] = s & 0xffffu;
            carry = s >> 16u;
        }
        var s = t[$Nu] + carry;
        t[$Nu] = s & 0xffffu;
        t[$N1u] = s >> 16u;

        let q = (t[0] * $U_INV) & 0xffffu;
        s = t[0] + q * m[0];
        carry = s >> 16u;
        for (var j = 1u + runtime_zero; j < $Nu; j++) {
            s = t[j] + q * m[j] + carry;
            t[j - 1u] = s & 0xffffu;
            carry = s >> 16u;
        }
        s = t[$Nu] + carry;
        t[$Nu - 1u] = s & 0xffffu;
        t[$Nu] = t[$N1u] + (s >> 16u);
    }
    var r: array<u32, $N1>;
    for (var i = runtime_zero; i < $N1u; i++) {
        r[i] = t[i];
    }
    return $f_reduce_once(r);
}

fn $f_square(a: $F) -> $F {
    return $f_mul(a, a);
}

// The canonical (non-Montgomery) value a·R⁻¹, for parity tests.
fn $f_from_montgomery(a: $F) -> $F {
    var one_plain: array<u32, $N>;
    one_plain = array<u32, $N>();
    one_plain[0] = 1u;
    return $f_mul(a, $F(one_plain));
}

// Unpacks $W little-endian words (two limbs each).
fn $f_from_words(w: array<u32, $W>) -> $F {
    var words = w;
    var r: array<u32, $N>;
    for (var i = runtime_zero; i < $Wu; i++) {
        r[2u * i] = words[i] & 0xffffu;
        r[2u * i + 1u] = words[i] >> 16u;
    }
    return $F(r);
}

fn $f_to_words(a: $F) -> array<u32, $W> {
    var x = a;
    var w: array<u32, $W>;
    for (var i = runtime_zero; i < $Wu; i++) {
        w[i] = x.l[2u * i] | (x.l[2u * i + 1u] << 16u);
    }
    return w;
}
