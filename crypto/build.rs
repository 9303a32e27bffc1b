//! Assembles the WGSL kernels in `../shaders` into one module per pipeline,
//! with every constant generated here from its defining value (moduli,
//! RFC 9380 hash-to-curve parameters), so no shader holds a hand-copied
//! Montgomery constant.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use num_bigint::BigUint;
use num_traits::One;

/// The BLS12-381 base field modulus p.
const P: &str = "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab";
/// The BLS12-381 scalar field modulus r.
const R: &str = "73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001";
/// RFC 9380 §8.8.1: the curve E' isogenous to G1 and the SSWU constant Z.
const ISO_A: &str = "144698a3b8e9433d693a02c96d4982b0ea985383ee66a8d8e8981aefd881ac98936f8da0e0f97f5cf428082d584c1d";
const ISO_B: &str = "12e2908d11688030018b12e8753eee3b2016c1f0f24f4070a0b9c14fcef35ef55a23215a316ceaa5d1cc48e98e172be0";
const SSWU_Z: u64 = 11;
/// RFC 9380 Appendix E.2: the 11-isogeny E' → E, coefficients k_(i, 0..).
const ISO_X_NUM: [&str; 12] = [
    "11a05f2b1e833340b809101dd99815856b303e88a2d7005ff2627b56cdb4e2c85610c2d5f2e62d6eaeac1662734649b7",
    "17294ed3e943ab2f0588bab22147a81c7c17e75b2f6a8417f565e33c70d1e86b4838f2a6f318c356e834eef1b3cb83bb",
    "d54005db97678ec1d1048c5d10a9a1bce032473295983e56878e501ec68e25c958c3e3d2a09729fe0179f9dac9edcb0",
    "1778e7166fcc6db74e0609d307e55412d7f5e4656a8dbf25f1b33289f1b330835336e25ce3107193c5b388641d9b6861",
    "e99726a3199f4436642b4b3e4118e5499db995a1257fb3f086eeb65982fac18985a286f301e77c451154ce9ac8895d9",
    "1630c3250d7313ff01d1201bf7a74ab5db3cb17dd952799b9ed3ab9097e68f90a0870d2dcae73d19cd13c1c66f652983",
    "d6ed6553fe44d296a3726c38ae652bfb11586264f0f8ce19008e218f9c86b2a8da25128c1052ecaddd7f225a139ed84",
    "17b81e7701abdbe2e8743884d1117e53356de5ab275b4db1a682c62ef0f2753339b7c8f8c8f475af9ccb5618e3f0c88e",
    "80d3cf1f9a78fc47b90b33563be990dc43b756ce79f5574a2c596c928c5d1de4fa295f296b74e956d71986a8497e317",
    "169b1f8e1bcfa7c42e0c37515d138f22dd2ecb803a0c5c99676314baf4bb1b7fa3190b2edc0327797f241067be390c9e",
    "10321da079ce07e272d8ec09d2565b0dfa7dccdde6787f96d50af36003b14866f69b771f8c285decca67df3f1605fb7b",
    "6e08c248e260e70bd1e962381edee3d31d79d7e22c837bc23c0bf1bc24c6b68c24b1b80b64d391fa9c8ba2e8ba2d229",
];
const ISO_X_DEN: [&str; 10] = [
    "8ca8d548cff19ae18b2e62f4bd3fa6f01d5ef4ba35b48ba9c9588617fc8ac62b558d681be343df8993cf9fa40d21b1c",
    "12561a5deb559c4348b4711298e536367041e8ca0cf0800c0126c2588c48bf5713daa8846cb026e9e5c8276ec82b3bff",
    "b2962fe57a3225e8137e629bff2991f6f89416f5a718cd1fca64e00b11aceacd6a3d0967c94fedcfcc239ba5cb83e19",
    "3425581a58ae2fec83aafef7c40eb545b08243f16b1655154cca8abc28d6fd04976d5243eecf5c4130de8938dc62cd8",
    "13a8e162022914a80a6f1d5f43e7a07dffdfc759a12062bb8d6b44e833b306da9bd29ba81f35781d539d395b3532a21e",
    "e7355f8e4e667b955390f7f0506c6e9395735e9ce9cad4d0a43bcef24b8982f7400d24bc4228f11c02df9a29f6304a5",
    "772caacf16936190f3e0c63e0596721570f5799af53a1894e2e073062aede9cea73b3538f0de06cec2574496ee84a3a",
    "14a7ac2a9d64a8b230b3f5b074cf01996e7f63c21bca68a81996e1cdf9822c580fa5b9489d11e2d311f7d99bbdcc5a5e",
    "a10ecf6ada54f825e920b3dafc7a3cce07f8d1d7161366b74100da67f39883503826692abba43704776ec3a79a1d641",
    "95fc13ab9e92ad4476d6e3eb3a56680f682b4ee96f7d03776df533978f31c1593174e4b4b7865002d6384d168ecdd0a",
];
const ISO_Y_NUM: [&str; 16] = [
    "90d97c81ba24ee0259d1f094980dcfa11ad138e48a869522b52af6c956543d3cd0c7aee9b3ba3c2be9845719707bb33",
    "134996a104ee5811d51036d776fb46831223e96c254f383d0f906343eb67ad34d6c56711962fa8bfe097e75a2e41c696",
    "cc786baa966e66f4a384c86a3b49942552e2d658a31ce2c344be4b91400da7d26d521628b00523b8dfe240c72de1f6",
    "1f86376e8981c217898751ad8746757d42aa7b90eeb791c09e4a3ec03251cf9de405aba9ec61deca6355c77b0e5f4cb",
    "8cc03fdefe0ff135caf4fe2a21529c4195536fbe3ce50b879833fd221351adc2ee7f8dc099040a841b6daecf2e8fedb",
    "16603fca40634b6a2211e11db8f0a6a074a7d0d4afadb7bd76505c3d3ad5544e203f6326c95a807299b23ab13633a5f0",
    "4ab0b9bcfac1bbcb2c977d027796b3ce75bb8ca2be184cb5231413c4d634f3747a87ac2460f415ec961f8855fe9d6f2",
    "987c8d5333ab86fde9926bd2ca6c674170a05bfe3bdd81ffd038da6c26c842642f64550fedfe935a15e4ca31870fb29",
    "9fc4018bd96684be88c9e221e4da1bb8f3abd16679dc26c1e8b6e6a1f20cabe69d65201c78607a360370e577bdba587",
    "e1bba7a1186bdb5223abde7ada14a23c42a0ca7915af6fe06985e7ed1e4d43b9b3f7055dd4eba6f2bafaaebca731c30",
    "19713e47937cd1be0dfd0b8f1d43fb93cd2fcbcb6caf493fd1183e416389e61031bf3a5cce3fbafce813711ad011c132",
    "18b46a908f36f6deb918c143fed2edcc523559b8aaf0c2462e6bfe7f911f643249d9cdf41b44d606ce07c8a4d0074d8e",
    "b182cac101b9399d155096004f53f447aa7b12a3426b08ec02710e807b4633f06c851c1919211f20d4c04f00b971ef8",
    "245a394ad1eca9b72fc00ae7be315dc757b3b080d4c158013e6632d3c40659cc6cf90ad1c232a6442d9d3f5db980133",
    "5c129645e44cf1102a159f748c4a3fc5e673d81d7e86568d9ab0f5d396a7ce46ba1049b6579afb7866b1e715475224b",
    "15e6be4e990f03ce4ea50b3b42df2eb5cb181d8f84965a3957add4fa95af01b2b665027efec01c7704b456be69c8b604",
];
const ISO_Y_DEN: [&str; 15] = [
    "16112c4c3a9c98b252181140fad0eae9601a6de578980be6eec3232b5be72e7a07f3688ef60c206d01479253b03663c1",
    "1962d75c2381201e1a0cbd6c43c348b885c84ff731c4d59ca4a10356f453e01f78a4260763529e3532f6102c2e49a03d",
    "58df3306640da276faaae7d6e8eb15778c4855551ae7f310c35a5dd279cd2eca6757cd636f96f891e2538b53dbf67f2",
    "16b7d288798e5395f20d23bf89edb4d1d115c5dbddbcd30e123da489e726af41727364f2c28297ada8d26d98445f5416",
    "be0e079545f43e4b00cc912f8228ddcc6d19c9f0f69bbb0542eda0fc9dec916a20b15dc0fd2ededda39142311a5001d",
    "8d9e5297186db2d9fb266eaac783182b70152c65550d881c5ecd87b6f0f5a6449f38db9dfa9cce202c6477faaf9b7ac",
    "166007c08a99db2fc3ba8734ace9824b5eecfdfa8d0cf8ef5dd365bc400a0051d5fa9c01a58b1fb93d1a1399126a775c",
    "16a3ef08be3ea7ea03bcddfabba6ff6ee5a4375efa1f4fd7feb34fd206357132b920f5b00801dee460ee415a15812ed9",
    "1866c8ed336c61231a1be54fd1d74cc4f9fb0ce4c6af5920abc5750c4bf39b4852cfe2f7bb9248836b233d9d55535d4a",
    "167a55cda70a6e1cea820597d94a84903216f763e13d87bb5308592e7ea7d4fbc7385ea3d529b35e346ef48bb8913f55",
    "4d2f259eea405bd48f010a01ad2911d9c6dd039bb61a6290e591b36e636a5c871a5c29f4f83060400f8b49cba8f6aa8",
    "accbb67481d033ff5852c1e48c50c477f94ff8aefce42d28c0f9a88cea7913516f968986f7ebbea9684b529e2561092",
    "ad6b9514c767fe3c3613144b45f1496543346d98adf02267d5ceef9a00d9b8693000763e3b90ac11e99b138573345cc",
    "2660400eb2e4f3b628bdd0d53cd76f2bf565b94e72927c1cb748df27942480e420517bd8714cc80d1fadc1326ed06f7",
    "e0fa1d816ddc03e6b24255e0d7819c171c40f65e273b853324efcd6356caa205ca2f570f13497804415473a1d634b8f",
];

/// Complete addition on a = 0 curves in homogeneous coordinates: Renes,
/// Costello, Batina, "Complete addition formulas for prime order elliptic
/// curves" (eprint 2015/1060), Algorithm 7 (12M + 2m₃b + 19a), one step per
/// line. Registers: X1 Y1 Z1 X2 Y2 Z2 b3 t0 t1 t2 t3 t4 X3 Y3 Z3.
const COMPLETE_ADDITION: &str = "
    t0 = X1 * X2
    t1 = Y1 * Y2
    t2 = Z1 * Z2
    t3 = X1 + Y1
    t4 = X2 + Y2
    t3 = t3 * t4
    t4 = t0 + t1
    t3 = t3 - t4
    t4 = Y1 + Z1
    X3 = Y2 + Z2
    t4 = t4 * X3
    X3 = t1 + t2
    t4 = t4 - X3
    X3 = X1 + Z1
    Y3 = X2 + Z2
    X3 = X3 * Y3
    Y3 = t0 + t2
    Y3 = X3 - Y3
    X3 = t0 + t0
    t0 = X3 + t0
    t2 = b3 * t2
    Z3 = t1 + t2
    t1 = t1 - t2
    Y3 = b3 * Y3
    X3 = t4 * Y3
    t2 = t3 * t1
    X3 = t2 - X3
    Y3 = Y3 * t0
    t1 = t1 * Z3
    Y3 = t1 + Y3
    t0 = t0 * t3
    Z3 = Z3 * t4
    Z3 = Z3 + t0
";

/// Encodes a formula as steps `op << 12 | d << 8 | a << 4 | b` (op 0 = ·, 1 = +, 2 = −).
fn assemble(formula: &str) -> Vec<u32> {
    const REGISTERS: [&str; 15] = [
        "X1", "Y1", "Z1", "X2", "Y2", "Z2", "b3", "t0", "t1", "t2", "t3", "t4", "X3", "Y3", "Z3",
    ];
    let register = |name: &str| {
        REGISTERS
            .iter()
            .position(|r| *r == name)
            .expect("known register") as u32
    };
    formula
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let tokens: Vec<&str> = line.split_whitespace().collect();
            assert!(
                tokens.len() == 5 && tokens[1] == "=",
                "bad formula step {line:?}"
            );
            let op = match tokens[3] {
                "*" => 0,
                "+" => 1,
                "-" => 2,
                other => panic!("unknown operator {other}"),
            };
            op << 12 | register(tokens[0]) << 8 | register(tokens[2]) << 4 | register(tokens[4])
        })
        .collect()
}

/// A prime field as the shaders see it: `limbs` 16-bit limbs, R = 2^(16·limbs).
struct Field {
    name: &'static str,
    prefix: &'static str,
    modulus: BigUint,
    limbs: usize,
}

impl Field {
    fn r(&self) -> BigUint {
        BigUint::one() << (16 * self.limbs)
    }

    fn montgomery(&self, value: &BigUint) -> BigUint {
        (value * self.r()) % &self.modulus
    }
}

fn hex(value: &str) -> BigUint {
    BigUint::parse_bytes(value.as_bytes(), 16).expect("valid hex constant")
}

/// `count` little-endian 16-bit limbs of `value`.
fn limbs16(value: &BigUint, count: usize) -> Vec<u32> {
    let mask = BigUint::from(0xffffu32);
    (0..count)
        .map(|i| {
            ((value >> (16 * i)) & &mask)
                .try_into()
                .expect("16-bit limb")
        })
        .collect()
}

/// `count` little-endian 32-bit words of `value`.
fn words32(value: &BigUint, count: usize) -> Vec<u32> {
    let mask = BigUint::from(u32::MAX);
    (0..count)
        .map(|i| {
            ((value >> (32 * i)) & &mask)
                .try_into()
                .expect("32-bit word")
        })
        .collect()
}

fn array(values: &[u32]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v}u")).collect();
    format!("array<u32, {}>({})", values.len(), items.join(", "))
}

/// A field element constant in Montgomery form, as its limb array. (Shaders
/// wrap it in the field's struct where they use it: constant structs of
/// arrays were miscompiled by Mesa 22.3's lavapipe, constant arrays are not.)
fn element(field: &Field, value: &BigUint) -> String {
    array(&limbs16(&field.montgomery(value), field.limbs))
}

fn field_constants(field: &Field, out: &mut String) {
    let upper = field.prefix.to_uppercase();
    // −p⁻¹ mod 2¹⁶, for Montgomery reduction one limb at a time.
    let base = BigUint::one() << 16;
    let inverse = field
        .modulus
        .modpow(&(BigUint::from(1u32 << 15) - 1u32), &base); // p^(2¹⁵−1) = p⁻¹ mod 2¹⁶
    let minus_inverse = (&base - inverse) % &base;
    writeln!(
        out,
        "const {upper}_MODULUS = {};",
        array(&limbs16(&field.modulus, field.limbs))
    )
    .unwrap();
    writeln!(
        out,
        "const {upper}_INV: u32 = {}u;",
        u32::try_from(minus_inverse).unwrap()
    )
    .unwrap();
    writeln!(
        out,
        "const {upper}_ONE = {};",
        element(field, &BigUint::one())
    )
    .unwrap();
}

fn render_template(template: &str, substitutions: &[(&str, String)]) -> String {
    let mut text = template.to_string();
    for (key, value) in substitutions {
        text = text.replace(key, value);
    }
    assert!(
        !text.contains('$'),
        "unsubstituted placeholder in a shader template"
    );
    text
}

fn main() {
    // Read when the script runs, not when it was compiled: cargo reuses a
    // compiled build script for a checkout at another path.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let shaders = Path::new(&manifest_dir).join("../shaders");
    // Every file, not just the directory: a directory's own timestamp does
    // not change when a file in it is edited.
    for entry in std::fs::read_dir(&shaders).expect("shaders/ beside crypto/") {
        println!(
            "cargo:rerun-if-changed={}",
            entry.expect("a directory entry").path().display()
        );
    }
    println!("cargo:rerun-if-changed=build.rs");
    let read = |name: &str| {
        std::fs::read_to_string(shaders.join(name))
            .unwrap_or_else(|e| panic!("reading shaders/{name}: {e}"))
    };
    let fp = Field {
        name: "Fp",
        prefix: "fp",
        modulus: hex(P),
        limbs: 24,
    };
    let fr = Field {
        name: "Fr",
        prefix: "fr",
        modulus: hex(R),
        limbs: 16,
    };

    let field_template = read("field.wgsl");
    let field = |f: &Field| {
        let mut constants = String::new();
        field_constants(f, &mut constants);
        constants
            + &render_template(
                &field_template,
                &[
                    ("$F", f.name.to_string()),
                    ("$f", f.prefix.to_string()),
                    ("$U", f.prefix.to_uppercase()),
                    ("$N1", (f.limbs + 1).to_string()),
                    ("$N2", (f.limbs + 2).to_string()),
                    ("$N", f.limbs.to_string()),
                    ("$W", (f.limbs / 2).to_string()),
                ],
            )
    };
    let curve_template = read("curve.wgsl");
    let curve = |group: &str, coordinate: &str, prefix: &str, b3: String| {
        format!("fn {group}_b3() -> {coordinate} {{\n    return {b3};\n}}\n")
            + &render_template(
                &curve_template,
                &[
                    ("$G", group.to_uppercase()),
                    ("$g", group.to_string()),
                    ("$E", coordinate.to_string()),
                    ("$e", prefix.to_string()),
                ],
            )
    };

    // Constants: field parameters, then hash-to-G1 parameters.
    let mut constants = String::from(
        "// Generated by crypto/build.rs from the moduli and RFC 9380; do not edit.\n\n\
         // 0 at run time, but opaque to the shader compiler: every fixed-count loop\n\
         // starts from it so drivers keep loops instead of unrolling them (fully\n\
         // unrolled and inlined field arithmetic takes LLVM minutes to compile).\n\
         // Each entry point sets it from its parameters' `zero` field first.\n\
         var<private> runtime_zero: u32;\n\n",
    );
    let p = &fp.modulus;
    let a = hex(ISO_A);
    let b = hex(ISO_B);
    let z = BigUint::from(SSWU_Z);
    let inverse = |x: &BigUint| x.modpow(&(p - 2u32), p);
    let minus_b_over_a = (p - (&b * inverse(&a)) % p) % p;
    let b_over_za = (&b * inverse(&((&z * &a) % p))) % p;
    for (name, value) in [
        ("ISO_A", &a),
        ("ISO_B", &b),
        ("SSWU_Z", &z),
        ("SSWU_MINUS_B_OVER_A", &minus_b_over_a),
        ("SSWU_B_OVER_ZA", &b_over_za),
    ] {
        writeln!(constants, "const {name} = {};", element(&fp, value)).unwrap();
    }
    let program = assemble(COMPLETE_ADDITION);
    writeln!(constants, "const COMPLETE_ADDITION = {};", array(&program)).unwrap();
    writeln!(
        constants,
        "const COMPLETE_ADDITION_STEPS: u32 = {}u;",
        program.len()
    )
    .unwrap();
    writeln!(
        constants,
        "const FP_EXP_INVERSE = {};",
        array(&words32(&(p - 2u32), 12))
    )
    .unwrap();
    writeln!(
        constants,
        "const FP_EXP_SQRT = {};",
        array(&words32(&((p + 1u32) >> 2), 12))
    )
    .unwrap();
    // The four isogeny polynomials as one table, each padded to 16
    // coefficients (low first; the denominators' implicit leading 1 made
    // explicit), with their lengths: the kernel evaluates them in one loop.
    let one = BigUint::one();
    let zero = BigUint::default();
    let mut polynomials = Vec::new();
    let mut lengths = Vec::new();
    for (coefficients, monic) in [
        (&ISO_X_NUM[..], false),
        (&ISO_X_DEN[..], true),
        (&ISO_Y_NUM[..], false),
        (&ISO_Y_DEN[..], true),
    ] {
        let mut values: Vec<BigUint> = coefficients.iter().map(|c| hex(c)).collect();
        if monic {
            values.push(one.clone());
        }
        lengths.push(values.len() as u32);
        values.resize(16, zero.clone());
        let items: Vec<String> = values.iter().map(|value| element(&fp, value)).collect();
        polynomials.push(format!("array<array<u32, 24>, 16>({})", items.join(", ")));
    }
    writeln!(
        constants,
        "const ISO_POLYNOMIALS = array<array<array<u32, 24>, 16>, 4>({});",
        polynomials.join(", ")
    )
    .unwrap();
    writeln!(constants, "const ISO_LENGTHS = {};", array(&lengths)).unwrap();

    let fp_source = field(&fp);
    let fr_source = field(&fr);
    let fp2 = read("fp2.wgsl");
    let fp_pow = read("fp_pow.wgsl");
    // 3·b: b = 4 on G1, 4(1 + i) on G2.
    let twelve = element(&fp, &BigUint::from(12u32));
    let g1 = curve("g1", "Fp", "fp", format!("Fp({twelve})"));
    let g2 = curve(
        "g2",
        "Fp2",
        "fp2",
        format!("Fp2(Fp({twelve}), Fp({twelve}))"),
    );
    let modules: [(&str, Vec<&str>); 4] = [
        ("msm_g1.wgsl", vec![&constants, &fp_source, &g1, "@MSM_G1"]),
        (
            "msm_g2.wgsl",
            vec![&constants, &fp_source, &fp2, &g2, "@MSM_G2"],
        ),
        (
            "hash_to_g1.wgsl",
            vec![&constants, &fp_source, &fp_pow, &g1, "@HASH"],
        ),
        (
            "field_ops.wgsl",
            vec![
                &constants, &fp_source, &fp_pow, &fr_source, &fp2, &g1, &g2, "@OPS",
            ],
        ),
    ];
    let msm_template = read("msm.wgsl");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (name, parts) in modules {
        let mut source = String::new();
        for part in parts {
            let text = match part {
                "@MSM_G1" => render_template(
                    &msm_template,
                    &[
                        ("$G", "G1".into()),
                        ("$g", "g1".into()),
                        ("$E", "Fp".into()),
                        ("$e", "fp".into()),
                        ("$K", "12".into()),
                    ],
                ),
                "@MSM_G2" => render_template(
                    &msm_template,
                    &[
                        ("$G", "G2".into()),
                        ("$g", "g2".into()),
                        ("$E", "Fp2".into()),
                        ("$e", "fp2".into()),
                        ("$K", "24".into()),
                    ],
                ),
                "@HASH" => read("hash_to_g1.wgsl"),
                "@OPS" => read("field_ops.wgsl"),
                other => other.to_string(),
            };
            source.push_str(&text);
            source.push('\n');
        }
        std::fs::write(out.join(name), source).expect("writing a generated shader");
    }
}
