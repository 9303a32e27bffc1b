// Element-wise entry points that apply each field and curve operation to
// host-given inputs, so the test suite can cross-check every function the
// kernels use (Fp, Fr, Fp2, G1, G2) against blstrs, edge cases included.
//
// Buffers (u32 words, layouts as in field.wgsl and curve.wgsl):
//   inputs   per item: operand a, operand b (and for curves an affine c)
//   outputs  per item: the results, in the order each entry point lists
// Workgroups of 64 invocations.

struct OpsParams {
    count: u32,
    zero: u32,
}

@group(0) @binding(0) var<storage, read> inputs: array<u32>;
@group(0) @binding(1) var<storage, read_write> outputs: array<u32>;
@group(0) @binding(2) var<storage, read> ops_params: OpsParams;

fn read8(offset: u32) -> array<u32, 8> {
    var w: array<u32, 8>;
    for (var i = runtime_zero; i < 8u; i++) { w[i] = inputs[offset + i]; }
    return w;
}

fn read12(offset: u32) -> array<u32, 12> {
    var w: array<u32, 12>;
    for (var i = runtime_zero; i < 12u; i++) { w[i] = inputs[offset + i]; }
    return w;
}

fn read24(offset: u32) -> array<u32, 24> {
    var w: array<u32, 24>;
    for (var i = runtime_zero; i < 24u; i++) { w[i] = inputs[offset + i]; }
    return w;
}

fn write8(offset: u32, words: array<u32, 8>) {
    var w = words;
    for (var i = runtime_zero; i < 8u; i++) { outputs[offset + i] = w[i]; }
}

fn write12(offset: u32, words: array<u32, 12>) {
    var w = words;
    for (var i = runtime_zero; i < 12u; i++) { outputs[offset + i] = w[i]; }
}

fn write24(offset: u32, words: array<u32, 24>) {
    var w = words;
    for (var i = runtime_zero; i < 24u; i++) { outputs[offset + i] = w[i]; }
}

// a, b → a + b, a − b, a·b, −a, a⁻¹, a².
@compute @workgroup_size(64)
fn fp_ops(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = ops_params.zero;
    let i = id.x;
    if (i >= ops_params.count) { return; }
    let a = fp_from_words(read12(24u * i));
    let b = fp_from_words(read12(24u * i + 12u));
    let out = 72u * i;
    write12(out, fp_to_words(fp_add(a, b)));
    write12(out + 12u, fp_to_words(fp_sub(a, b)));
    write12(out + 24u, fp_to_words(fp_mul(a, b)));
    write12(out + 36u, fp_to_words(fp_neg(a)));
    write12(out + 60u, fp_to_words(fp_square(a)));
    write12(out + 48u, fp_to_words(fp_inverse(a)));
}

// a, b → a + b, a − b, a·b, −a.
@compute @workgroup_size(64)
fn fr_ops(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = ops_params.zero;
    let i = id.x;
    if (i >= ops_params.count) { return; }
    let a = fr_from_words(read8(16u * i));
    let b = fr_from_words(read8(16u * i + 8u));
    let out = 32u * i;
    write8(out, fr_to_words(fr_add(a, b)));
    write8(out + 8u, fr_to_words(fr_sub(a, b)));
    write8(out + 16u, fr_to_words(fr_mul(a, b)));
    write8(out + 24u, fr_to_words(fr_neg(a)));
}

// a, b → a + b, a − b, a·b, a², −a.
@compute @workgroup_size(64)
fn fp2_ops(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = ops_params.zero;
    let i = id.x;
    if (i >= ops_params.count) { return; }
    let a = fp2_from_words(read24(48u * i));
    let b = fp2_from_words(read24(48u * i + 24u));
    let out = 120u * i;
    write24(out, fp2_to_words(fp2_add(a, b)));
    write24(out + 24u, fp2_to_words(fp2_sub(a, b)));
    write24(out + 48u, fp2_to_words(fp2_mul(a, b)));
    write24(out + 72u, fp2_to_words(fp2_square(a)));
    write24(out + 96u, fp2_to_words(fp2_neg(a)));
}

fn read_g1(offset: u32) -> G1 {
    return g1_from_jacobian(fp_from_words(read12(offset)), fp_from_words(read12(offset + 12u)), fp_from_words(read12(offset + 24u)));
}

fn write_g1(offset: u32, p: G1) {
    let j = g1_to_jacobian(p);
    write12(offset, fp_to_words(j.x));
    write12(offset + 12u, fp_to_words(j.y));
    write12(offset + 24u, fp_to_words(j.z));
}

// p, q (Jacobian), c (affine) → p + q, 2p, p + c (Jacobian).
@compute @workgroup_size(64)
fn g1_ops(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = ops_params.zero;
    let i = id.x;
    if (i >= ops_params.count) { return; }
    let p = read_g1(96u * i);
    let q = read_g1(96u * i + 36u);
    let c = g1_from_affine(fp_from_words(read12(96u * i + 2u * 36u)), fp_from_words(read12(96u * i + 2u * 36u + 12u)));
    // One call site in a loop (compilers inline every call): p + q, p + p, p + c.
    var second: array<G1, 3>;
    second[0] = q;
    second[1] = p;
    second[2] = c;
    for (var k = runtime_zero; k < 3u; k++) {
        write_g1(108u * i + 36u * k, g1_add(p, second[k]));
    }
}

fn read_g2(offset: u32) -> G2 {
    return g2_from_jacobian(fp2_from_words(read24(offset)), fp2_from_words(read24(offset + 24u)), fp2_from_words(read24(offset + 48u)));
}

fn write_g2(offset: u32, p: G2) {
    let j = g2_to_jacobian(p);
    write24(offset, fp2_to_words(j.x));
    write24(offset + 24u, fp2_to_words(j.y));
    write24(offset + 48u, fp2_to_words(j.z));
}

// p, q (Jacobian), c (affine) → p + q, 2p, p + c (Jacobian).
@compute @workgroup_size(64)
fn g2_ops(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = ops_params.zero;
    let i = id.x;
    if (i >= ops_params.count) { return; }
    let p = read_g2(192u * i);
    let q = read_g2(192u * i + 72u);
    let c = g2_from_affine(fp2_from_words(read24(192u * i + 2u * 72u)), fp2_from_words(read24(192u * i + 2u * 72u + 24u)));
    // One call site in a loop (compilers inline every call): p + q, p + p, p + c.
    var second: array<G2, 3>;
    second[0] = q;
    second[1] = p;
    second[2] = c;
    for (var k = runtime_zero; k < 3u; k++) {
        write_g2(216u * i + 72u * k, g2_add(p, second[k]));
    }
}
