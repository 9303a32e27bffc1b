// Point arithmetic on $G (y² = x³ + b over $E) (template: instantiated by
// crypto/build.rs for G1 over Fp and G2 over Fp2).
//
// Inside the kernels a point is in homogeneous projective coordinates
// (X : Y : Z) = (X/Z, Y/Z), identity (0 : 1 : 0), and every addition uses
// the complete formula of Renes–Costello–Batina (eprint 2015/1060,
// Algorithm 7, a = 0): no special cases, so identity operands, P + P and
// P + (−P) all come out right without branches. Doubling is P + P.
// At the host boundary points are Jacobian (X/Z², Y/Z³; Z = 0 is the
// identity) as blst stores them, and affine inputs are (x, y) with (0, 0)
// for the identity (never on the curve).
//
// The formula runs as a program (`COMPLETE_ADDITION`, assembled by
// build.rs from the paper's steps) over a register file, so each kernel
// contains one copy of $e multiplication instead of a dozen inlined ones:
// shader compilers inline every call, and the straight-line version took
// lavapipe's LLVM minutes per kernel.

struct $G {
    x: $E,
    y: $E,
    z: $E,
}

fn $g_identity() -> $G {
    return $G($e_zero(), $e_one(), $e_zero());
}

fn $g_is_identity(p: $G) -> bool {
    return $e_is_zero(p.z);
}

// Registers: 0–2 (X1, Y1, Z1), 3–5 (X2, Y2, Z2), 6 = 3b, 7–11 t0–t4, 12–14 (X3, Y3, Z3).
fn $g_add(p: $G, q: $G) -> $G {
    var r: array<$E, 15>;
    r[0] = p.x;
    r[1] = p.y;
    r[2] = p.z;
    r[3] = q.x;
    r[4] = q.y;
    r[5] = q.z;
    r[6] = $g_b3();
    var program = COMPLETE_ADDITION;
    for (var pc = runtime_zero; pc < COMPLETE_ADDITION_STEPS; pc++) {
        let step = program[pc];
        let d = (step >> 8u) & 15u;
        let a = (step >> 4u) & 15u;
        let b = step & 15u;
        switch (step >> 12u) {
            case 0u: { r[d] = $e_mul(r[a], r[b]); }
            case 1u: { r[d] = $e_add(r[a], r[b]); }
            default: { r[d] = $e_sub(r[a], r[b]); }
        }
    }
    return $G(r[12], r[13], r[14]);
}

fn $g_double(p: $G) -> $G {
    return $g_add(p, p);
}

// b if `condition`, else a (no branch; see $e_select).
fn $g_select(a: $G, b: $G, condition: bool) -> $G {
    return $G($e_select(a.x, b.x, condition), $e_select(a.y, b.y, condition), $e_select(a.z, b.z, condition));
}

fn $g_from_affine(x: $E, y: $E) -> $G {
    return $g_select($G(x, y, $e_one()), $g_identity(), $e_is_zero(x) && $e_is_zero(y));
}

// Jacobian (X, Y, Z) → homogeneous (X·Z, Y, Z³).
fn $g_from_jacobian(x: $E, y: $E, z: $E) -> $G {
    let p = $G($e_mul(x, z), y, $e_mul($e_square(z), z));
    return $g_select(p, $g_identity(), $e_is_zero(z));
}

// Homogeneous (X, Y, Z) → Jacobian (X·Z, Y·Z², Z), returned in a $G whose
// fields then hold Jacobian coordinates (for the host).
fn $g_to_jacobian(p: $G) -> $G {
    return $G($e_mul(p.x, p.z), $e_mul(p.y, $e_square(p.z)), p.z);
}
