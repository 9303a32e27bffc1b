// Batch hash-to-G1, the map-to-curve half of RFC 9380's
// BLS12381G1_XMD:SHA-256_SSWU_RO_: the host hashes each message to two
// field elements (u0, u1) with expand_message_xmd; one invocation per
// message computes clear_cofactor(iso_map(sswu(u0)) + iso_map(sswu(u1))).
//
// Buffers (u32 words, see field.wgsl):
//   field_elements  u0, u1 per message (2 × 12 words, Montgomery form)
//   points          the hashed points, Jacobian (3 × 12 words), as blst stores them
// Workgroups of 64 invocations. Messages are public, so branches on
// their values are fine.

struct HashParams {
    count: u32,
    zero: u32,
}

@group(0) @binding(0) var<storage, read> field_elements: array<u32>;
@group(0) @binding(1) var<storage, read_write> points: array<u32>;
@group(0) @binding(2) var<storage, read> hash_params: HashParams;

struct AffineFp {
    x: Fp,
    y: Fp,
}

fn sgn0(a: Fp) -> u32 {
    return fp_from_montgomery(a).l[0] & 1u;
}

// Simplified SWU onto E': y² = x³ + A'x + B' (RFC 9380 §6.6.2). Both
// candidate x and both square roots are computed and the right ones
// selected, without branches (see Fp's select).
fn map_to_curve_sswu(u: Fp) -> AffineFp {
    let zu2 = fp_mul(Fp(SSWU_Z), fp_square(u));
    let tv1 = fp_inverse(fp_add(fp_square(zu2), zu2));
    let x1 = fp_select(
        fp_mul(Fp(SSWU_MINUS_B_OVER_A), fp_add(fp_one(), tv1)),
        Fp(SSWU_B_OVER_ZA),
        fp_is_zero(tv1),
    );
    let gx1 = fp_add(fp_mul(fp_add(fp_square(x1), Fp(ISO_A)), x1), Fp(ISO_B));
    let x2 = fp_mul(zu2, x1);
    let gx2 = fp_add(fp_mul(fp_add(fp_square(x2), Fp(ISO_A)), x2), Fp(ISO_B));
    // One exponentiation call site: the loop runs over (gx1, gx2).
    var candidates: array<Fp, 2>;
    candidates[0] = gx1;
    candidates[1] = gx2;
    var roots: array<Fp, 2>;
    for (var k = runtime_zero; k < 2u; k++) {
        roots[k] = fp_sqrt_candidate(candidates[k]);
    }
    let gx1_is_square = fp_eq(fp_square(roots[0]), gx1);
    let x = fp_select(x2, x1, gx1_is_square);
    let y = fp_select(roots[1], roots[0], gx1_is_square);
    return AffineFp(x, fp_select(y, fp_neg(y), sgn0(u) != sgn0(y)));
}

// The 11-isogeny E' → E, straight to homogeneous coordinates (no
// inversion): (xn·yd, y'·yn·xd, xd·yd). A zero denominator gives Z = 0,
// the identity, as RFC 9380 prescribes. The four polynomials (x numerator,
// x denominator, y numerator, y denominator) are rows of ISO_POLYNOMIALS,
// low coefficient first, evaluated by Horner's rule in one loop.
fn iso_map(p: AffineFp) -> G1 {
    var table = ISO_POLYNOMIALS;
    var lengths = ISO_LENGTHS;
    var values: array<Fp, 4>;
    for (var j = runtime_zero; j < 4u; j++) {
        var acc = fp_zero();
        for (var i = lengths[j]; i > 0u; i--) {
            acc = fp_add(fp_mul(acc, p.x), Fp(table[j][i - 1u]));
        }
        values[j] = acc;
    }
    let z = fp_mul(values[1], values[3]);
    let q = G1(fp_mul(values[0], values[3]), fp_mul(fp_mul(p.y, values[2]), values[1]), z);
    return g1_select(q, g1_identity(), fp_is_zero(z));
}

// Multiplication by h_eff = 0xd201000000010001 (RFC 9380 §8.8.1).
fn clear_cofactor(p: G1) -> G1 {
    var words = array<u32, 2>(0x00010001u, 0xd2010000u);
    var r = g1_identity();
    for (var word = 2u + runtime_zero; word > 0u; word--) {
        let bits = words[word - 1u];
        for (var bit = 32u + runtime_zero; bit > 0u; bit--) {
            r = g1_double(r);
            r = g1_select(r, g1_add(r, p), ((bits >> (bit - 1u)) & 1u) == 1u);
        }
    }
    return r;
}

fn load_field_element(offset: u32) -> Fp {
    var w: array<u32, 12>;
    for (var i = runtime_zero; i < 12u; i++) {
        w[i] = field_elements[offset + i];
    }
    return fp_from_words(w);
}

@compute @workgroup_size(64)
fn hash_to_g1(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = hash_params.zero;
    let index = id.x;
    if (index >= hash_params.count) {
        return;
    }
    // One loop rather than two calls: compilers inline every call, and the
    // map is the bulk of this kernel's code.
    var sum = g1_identity();
    for (var k = runtime_zero; k < 2u; k++) {
        sum = g1_add(sum, iso_map(map_to_curve_sswu(load_field_element(24u * index + 12u * k))));
    }
    let p = g1_to_jacobian(clear_cofactor(sum));
    var x = fp_to_words(p.x);
    var y = fp_to_words(p.y);
    var z = fp_to_words(p.z);
    for (var i = runtime_zero; i < 12u; i++) {
        points[36u * index + i] = x[i];
        points[36u * index + 12u + i] = y[i];
        points[36u * index + 24u + i] = z[i];
    }
}
