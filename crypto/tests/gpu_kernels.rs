//! The GPU MSM and hash-to-G1 kernels against blstrs (bit-exact points) on
//! random inputs and edge cases, and against the RFC 9380 vectors. Each run
//! prints the adapter; with no adapter the tests skip, unless
//! `CHAINKEY_REQUIRE_GPU=1` (as in CI), where they fail.
#![cfg(feature = "gpu")]

mod common;

use std::sync::OnceLock;

use blstrs::{G1Affine, G1Projective, G2Projective, Scalar};
use chainkey_crypto::backend::gpu::GpuContext;
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand::Rng;

fn gpu() -> Option<&'static GpuContext> {
    static CONTEXT: OnceLock<Option<GpuContext>> = OnceLock::new();
    CONTEXT.get_or_init(common::discover_gpu).as_ref()
}

/// Bases and scalars with the edge cases mixed in: identity bases, repeated
/// and opposite bases, scalars 0, 1, r − 1 and 2¹²⁸ − 1.
fn edge_case_inputs<G>(n: usize) -> (Vec<G::AffineRepr>, Vec<Scalar>)
where
    G: Group<Scalar = Scalar> + Curve,
    G::AffineRepr: Default + Copy,
{
    let mut rng = rand::thread_rng();
    let generator_multiples: Vec<G> = (0..n.min(64))
        .map(|_| G::generator() * Scalar::random(&mut rng))
        .collect();
    let mut bases: Vec<G> = (0..n)
        .map(|i| generator_multiples[i % generator_multiples.len()])
        .collect();
    let mut scalars: Vec<Scalar> = (0..n).map(|_| Scalar::random(&mut rng)).collect();
    if n >= 8 {
        bases[1] = G::identity();
        bases[2] = bases[0]; // duplicate
        bases[3] = -bases[0]; // opposite
        scalars[3] = scalars[0]; // cancels bases[0]'s term with bases[3]'s
        scalars[4] = Scalar::ZERO;
        scalars[5] = Scalar::ONE;
        scalars[6] = -Scalar::ONE;
        scalars[7] = Scalar::from(u64::MAX) * Scalar::from(u64::MAX)
            + Scalar::from(u64::MAX) * Scalar::from(2);
    }
    let mut affine = vec![G::AffineRepr::default(); n];
    G::batch_normalize(&bases, &mut affine);
    (affine, scalars)
}

#[test]
fn g1_msm_matches_blstrs() {
    let Some(gpu) = gpu() else { return };
    for n in [1usize, 2, 3, 8, 100, 1000, 1 << 16] {
        let (bases, scalars) = edge_case_inputs::<G1Projective>(n);
        let projective: Vec<G1Projective> = bases.iter().map(G1Projective::from).collect();
        let expected = G1Projective::multi_exp(&projective, &scalars);
        assert_eq!(gpu.msm_g1(&bases, &scalars).unwrap(), expected, "n = {n}");
    }
    // All-zero scalars and all-identity bases give the identity.
    let bases = vec![G1Affine::generator(); 5];
    assert!(bool::from(
        gpu.msm_g1(&bases, &[Scalar::ZERO; 5])
            .unwrap()
            .is_identity()
    ));
    let identities = vec![G1Affine::identity(); 5];
    assert!(bool::from(
        gpu.msm_g1(&identities, &[Scalar::ONE; 5])
            .unwrap()
            .is_identity()
    ));
}

#[test]
fn g2_msm_matches_blstrs() {
    let Some(gpu) = gpu() else { return };
    for n in [1usize, 3, 8, 300, 1 << 12] {
        let (bases, scalars) = edge_case_inputs::<G2Projective>(n);
        let projective: Vec<G2Projective> = bases.iter().map(G2Projective::from).collect();
        let expected = G2Projective::multi_exp(&projective, &scalars);
        assert_eq!(gpu.msm_g2(&bases, &scalars).unwrap(), expected, "n = {n}");
    }
}

#[test]
#[ignore = "slow on lavapipe: a 2^16-point G2 MSM (run with --ignored)"]
fn g2_msm_of_2_pow_16_points_matches_blstrs() {
    let Some(gpu) = gpu() else { return };
    let (bases, scalars) = edge_case_inputs::<G2Projective>(1 << 16);
    let projective: Vec<G2Projective> = bases.iter().map(G2Projective::from).collect();
    assert_eq!(
        gpu.msm_g2(&bases, &scalars).unwrap(),
        G2Projective::multi_exp(&projective, &scalars)
    );
}

#[test]
fn hash_to_g1_matches_the_rfc_9380_vectors() {
    let Some(gpu) = gpu() else { return };
    let suite = common::json_file("hash-to-curve/BLS12381G1_XMD_SHA-256_SSWU_RO_.json");
    let dst = suite["dst"].as_str().unwrap().as_bytes();
    let vectors = suite["vectors"].as_array().unwrap();
    let messages: Vec<&[u8]> = vectors
        .iter()
        .map(|v| v["msg"].as_str().unwrap().as_bytes())
        .collect();
    let points = gpu.hash_to_g1(&messages, dst).unwrap();
    assert_eq!(points.len(), vectors.len());
    for (point, vector) in points.iter().zip(vectors) {
        let affine = point.to_affine();
        let x = common::unhex(&vector["P"]["x"]);
        let y = common::unhex(&vector["P"]["y"]);
        let mut uncompressed = [0u8; 96];
        uncompressed[48 - x.len()..48].copy_from_slice(&x);
        uncompressed[96 - y.len()..].copy_from_slice(&y);
        assert_eq!(
            affine.to_uncompressed(),
            uncompressed,
            "message {:?}",
            vector["msg"]
        );
    }
}

#[test]
fn hash_to_g1_matches_blstrs_on_random_messages() {
    let Some(gpu) = gpu() else { return };
    let mut rng = rand::thread_rng();
    let messages: Vec<Vec<u8>> = (0..100)
        .map(|i| (0..i * 3).map(|_| rng.gen()).collect())
        .collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    let dst = b"BLS_SIG_BLS12381G1_XMD:SHA-256_SSWU_RO_NUL_";
    let points = gpu.hash_to_g1(&refs, dst).unwrap();
    for (point, message) in points.iter().zip(&refs) {
        assert_eq!(*point, G1Projective::hash_to_curve(message, dst, &[]));
    }
    assert!(
        gpu.hash_to_g1(&refs, b"").is_err(),
        "an empty DST is a typed error"
    );
}

/// The backend path (128-bit batch weights, several MSMs per call, some
/// below the crossover) agrees with the CPU backend.
#[test]
fn gpu_backend_msms_match_the_cpu_backend() {
    use std::sync::Arc;

    use chainkey_crypto::backend::gpu::{Crossover, GpuBackend};
    use chainkey_crypto::backend::{Backend, CpuBackend, Msm};

    let Some(_) = gpu() else { return };
    let context = Arc::new(GpuContext::new().unwrap());
    let cpu = Arc::new(CpuBackend::new(2));
    let crossover = Crossover {
        msm_points: 8,
        hash_messages: 0,
    };
    let backend = GpuBackend::new(context, cpu.clone(), crossover);
    let mut rng = rand::thread_rng();
    let g1: Vec<Msm<G1Affine>> = [1usize, 7, 8, 64, 1000]
        .iter()
        .map(|&n| {
            let (bases, _) = edge_case_inputs::<G1Projective>(n);
            Msm {
                bases,
                scalars: (0..n).map(|_| rng.gen::<u128>()).collect(),
            }
        })
        .collect();
    assert_eq!(backend.msm_g1(&g1), cpu.msm_g1(&g1));
    let g2: Vec<Msm<blstrs::G2Affine>> = [3usize, 9, 100]
        .iter()
        .map(|&n| {
            let (bases, _) = edge_case_inputs::<G2Projective>(n);
            Msm {
                bases,
                scalars: (0..n).map(|_| rng.gen::<u128>()).collect(),
            }
        })
        .collect();
    assert_eq!(backend.msm_g2(&g2), cpu.msm_g2(&g2));
}

/// The full-width MSMs of the random-weight checks on the GPU backend
/// (above and below its crossover) agree with blstrs, and NIDKG batch
/// verification on it names exactly the dealing with a broken proof.
#[test]
fn gpu_backend_runs_the_random_weight_checks_of_nidkg() {
    use std::sync::Arc;

    use chainkey_crypto::backend::gpu::{Crossover, GpuBackend};
    use chainkey_crypto::backend::{Backend, CpuBackend};
    use chainkey_crypto::nidkg::{
        verify_dealings_on, Dealing, DealingFault, DkgConfig, DkgError, EncryptionSecretKey,
    };

    let Some(_) = gpu() else { return };
    let context = Arc::new(GpuContext::new().unwrap());
    let crossover = Crossover {
        msm_points: 8,
        hash_messages: 0,
    };
    let backend = GpuBackend::new(context, Arc::new(CpuBackend::new(2)), crossover);
    for n in [3usize, 8, 1000] {
        let (bases, scalars) = edge_case_inputs::<G1Projective>(n);
        let points: Vec<G1Projective> = bases.iter().map(G1Projective::from).collect();
        let expected = G1Projective::multi_exp(&points, &scalars);
        assert_eq!(
            backend.msm_g1_full(&points, &scalars),
            expected,
            "G1, n = {n}"
        );
        let (bases, scalars) = edge_case_inputs::<G2Projective>(n);
        let points: Vec<G2Projective> = bases.iter().map(G2Projective::from).collect();
        let expected = G2Projective::multi_exp(&points, &scalars);
        assert_eq!(
            backend.msm_g2_full(&points, &scalars),
            expected,
            "G2, n = {n}"
        );
    }

    let mut rng = rand::thread_rng();
    let keys: Vec<_> = (0..4)
        .map(|_| EncryptionSecretKey::generate(&mut rng))
        .collect();
    let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
    let config = DkgConfig::new(b"gpu nidkg", receivers, 2, 2).unwrap();
    let mut dealings: Vec<(u32, Dealing)> = (0..4)
        .map(|dealer| (dealer, Dealing::create(&config, dealer, &mut rng).unwrap()))
        .collect();
    // Dealing 1 ends with dealing 0's last chunking-proof scalar (z_β):
    // well formed, but its chunking proof is false.
    let mut bytes = dealings[1].1.to_bytes();
    let from = bytes.len() - 32;
    bytes[from..].copy_from_slice(&dealings[0].1.to_bytes()[from..]);
    dealings[1].1 = Dealing::from_bytes(&bytes, &config).unwrap();
    let verdicts = verify_dealings_on(&backend, &config, dealings);
    for (dealer, verdict) in verdicts.iter().enumerate() {
        match dealer {
            1 => assert_eq!(
                verdict.as_ref().unwrap_err(),
                &DkgError::InvalidDealing {
                    dealer: 1,
                    fault: DealingFault::ChunkingProof
                }
            ),
            _ => assert!(verdict.is_ok(), "dealer {dealer}: {verdict:?}"),
        }
    }
}
