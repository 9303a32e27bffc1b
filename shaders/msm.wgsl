// Pippenger multi-scalar multiplication on $G, in two kernels
// (template: instantiated by crypto/build.rs for G1 and G2).
//
// The host splits every scalar into signed c-bit window digits and sorts
// the (point, sign) entries of all windows by bucket — bucket b of window w
// collects the points whose digit is ±(b + 1) — so the GPU work is:
//
// 1. `accumulate`: one invocation per bucket adds its points (negating y
//    for negative digits) into a bucket sum.
// 2. `reduce`: one invocation per (window, segment) of `segment_length`
//    consecutive buckets computes, with running sums from the top bucket
//    down, the segment's weighted sum Σ (b − start + 1)·B_b and its plain
//    sum Σ B_b. The host finishes each window as Σ_s weighted_s +
//    start_s·plain_s and combines the windows (doublings), which is a few
//    hundred operations.
//
// Buffers (u32 words; an $E coordinate is $K words, see field.wgsl):
//   bases          affine points (x, y), (0, 0) for the identity
//   entries        point index | sign << 31, grouped by bucket
//   bucket_starts  first entry of each bucket, plus one end offset
//   bucket_sums    homogeneous (x, y, z) per bucket     (written by accumulate)
//   segment_sums   Jacobian weighted, plain per segment (written by reduce, read by the host)
// Workgroups of 64 invocations, one-dimensional.

struct MsmParams {
    buckets: u32,
    buckets_per_window: u32,
    windows: u32,
    segments: u32,
    segment_length: u32,
    zero: u32,
}

@group(0) @binding(0) var<storage, read> bases: array<u32>;
@group(0) @binding(1) var<storage, read> entries: array<u32>;
@group(0) @binding(2) var<storage, read> bucket_starts: array<u32>;
@group(0) @binding(3) var<storage, read_write> bucket_sums: array<u32>;
@group(0) @binding(4) var<storage, read_write> segment_sums: array<u32>;
@group(0) @binding(5) var<storage, read> params: MsmParams;

fn load_coordinate(buffer_offset: u32) -> $E {
    var w: array<u32, $K>;
    for (var i = runtime_zero; i < $Ku; i++) {
        w[i] = bases[buffer_offset + i];
    }
    return $e_from_words(w);
}

fn load_bucket(index: u32) -> $G {
    let offset = index * 3u * $Ku;
    var x: array<u32, $K>;
    var y: array<u32, $K>;
    var z: array<u32, $K>;
    for (var i = runtime_zero; i < $Ku; i++) {
        x[i] = bucket_sums[offset + i];
        y[i] = bucket_sums[offset + $Ku + i];
        z[i] = bucket_sums[offset + 2u * $Ku + i];
    }
    return $G($e_from_words(x), $e_from_words(y), $e_from_words(z));
}

fn store_bucket(index: u32, p: $G) {
    let offset = index * 3u * $Ku;
    var x = $e_to_words(p.x);
    var y = $e_to_words(p.y);
    var z = $e_to_words(p.z);
    for (var i = runtime_zero; i < $Ku; i++) {
        bucket_sums[offset + i] = x[i];
        bucket_sums[offset + $Ku + i] = y[i];
        bucket_sums[offset + 2u * $Ku + i] = z[i];
    }
}

fn store_segment(index: u32, p: $G) {
    let offset = index * 3u * $Ku;
    let jacobian = $g_to_jacobian(p);
    var x = $e_to_words(jacobian.x);
    var y = $e_to_words(jacobian.y);
    var z = $e_to_words(jacobian.z);
    for (var i = runtime_zero; i < $Ku; i++) {
        segment_sums[offset + i] = x[i];
        segment_sums[offset + $Ku + i] = y[i];
        segment_sums[offset + 2u * $Ku + i] = z[i];
    }
}

@compute @workgroup_size(64)
fn accumulate(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = params.zero;
    let bucket = id.x;
    if (bucket >= params.buckets) {
        return;
    }
    var sum = $g_identity();
    let end = bucket_starts[bucket + 1u];
    for (var e = bucket_starts[bucket]; e < end; e++) {
        let entry = entries[e];
        let offset = (entry & 0x7fffffffu) * 2u * $Ku;
        let x = load_coordinate(offset);
        var y = load_coordinate(offset + $Ku);
        y = $e_select(y, $e_neg(y), (entry >> 31u) == 1u);
        sum = $g_add(sum, $g_from_affine(x, y));
    }
    store_bucket(bucket, sum);
}

@compute @workgroup_size(64)
fn reduce(@builtin(global_invocation_id) id: vec3<u32>) {
    runtime_zero = params.zero;
    let index = id.x;
    if (index >= params.windows * params.segments) {
        return;
    }
    let window = index / params.segments;
    let segment = index % params.segments;
    let start = segment * params.segment_length;
    let end = min(start + params.segment_length, params.buckets_per_window);
    // Alternating steps, one addition each (one inlined copy of $g_add):
    // even steps add bucket b to the running sum, odd steps add the
    // running sum to the weighted sum.
    var running = $g_identity();
    var weighted = $g_identity();
    var bucket = $g_identity();
    for (var k = runtime_zero; k < 2u * (end - start); k++) {
        let adds_bucket = (k & 1u) == 0u;
        if (adds_bucket) {
            bucket = load_bucket(window * params.buckets_per_window + end - 1u - k / 2u);
        }
        let sum = $g_add($g_select(weighted, running, adds_bucket), $g_select(running, bucket, adds_bucket));
        running = $g_select(running, sum, adds_bucket);
        weighted = $g_select(sum, weighted, adds_bucket);
    }
    var sums: array<$G, 2>;
    sums[0] = weighted;
    sums[1] = running;
    for (var k = runtime_zero; k < 2u; k++) {
        store_segment(2u * index + k, sums[k]);
    }
}
