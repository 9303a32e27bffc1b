//! The curve a threshold ECDSA key lives on: its group, scalar field,
//! second Pedersen generator and the few curve-specific operations ECDSA
//! needs. Everything else in `tecdsa` is generic over [`IdkgCurve`], so a
//! P-256 implementation is one more `impl`.

use std::sync::OnceLock;

use ff::PrimeField;
use group::prime::PrimeGroup;
use group::GroupEncoding;
use k256::elliptic_curve::bigint::U512;
use k256::elliptic_curve::hash2curve::{ExpandMsgXmd, GroupDigest};
use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::batch::Secp256k1;

/// A prime-order curve for threshold ECDSA.
pub trait IdkgCurve: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// The scalar field (integers mod the group order n); its `Repr` is the
    /// 32-byte big-endian SEC1 encoding.
    type Scalar: PrimeField + Zeroize + Send + Sync;
    /// The group; `GroupEncoding` is the compressed SEC1 encoding.
    type Point: PrimeGroup<Scalar = Self::Scalar> + GroupEncoding + Send + Sync;

    /// A short name, bound into every hash (domain separation per curve).
    const NAME: &'static str;

    /// A second generator `H` with unknown discrete logarithm to the base
    /// `G` (hashed to the curve), for Pedersen commitments `a·G + b·H`.
    fn pedersen_generator() -> Self::Point;

    /// The x-coordinate of `point` reduced mod n (ECDSA's `r`); zero for
    /// the identity.
    fn x_coordinate(point: &Self::Point) -> Self::Scalar;

    /// A uniformly distributed scalar from 64 uniform bytes.
    fn scalar_from_wide(bytes: &[u8; 64]) -> Self::Scalar;

    /// Whether `s > n/2` (the "high" form ECDSA's low-s rule replaces by `n − s`).
    fn is_high(s: &Self::Scalar) -> bool;
}

impl IdkgCurve for Secp256k1 {
    type Scalar = k256::Scalar;
    type Point = k256::ProjectivePoint;

    const NAME: &'static str = "secp256k1";

    fn pedersen_generator() -> k256::ProjectivePoint {
        static H: OnceLock<k256::ProjectivePoint> = OnceLock::new();
        *H.get_or_init(|| {
            k256::Secp256k1::hash_from_bytes::<ExpandMsgXmd<Sha256>>(
                &[b"Pedersen generator H"],
                &[b"chainkey-tecdsa-v1-secp256k1_XMD:SHA-256_SSWU_RO_"],
            )
            .expect("the domain separator is short enough")
        })
    }

    fn x_coordinate(point: &k256::ProjectivePoint) -> k256::Scalar {
        <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&point.to_affine().x())
    }

    fn scalar_from_wide(bytes: &[u8; 64]) -> k256::Scalar {
        <k256::Scalar as Reduce<U512>>::reduce_bytes(bytes.into())
    }

    fn is_high(s: &k256::Scalar) -> bool {
        s.is_high().into()
    }
}
