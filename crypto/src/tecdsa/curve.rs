//! The curve a threshold ECDSA key lives on: its group, scalar field,
//! second Pedersen generator and the few curve-specific operations ECDSA
//! needs. Everything else in `tecdsa` is generic over [`IdkgCurve`], so a
//! P-256 implementation is one more `impl`.

use std::sync::OnceLock;

use ff::PrimeField;
use group::prime::PrimeGroup;
use group::{Group, GroupEncoding};
use k256::elliptic_curve::bigint::U512;
use k256::elliptic_curve::hash2curve::{ExpandMsgXmd, GroupDigest};
use k256::elliptic_curve::ops::{MulByGenerator, Reduce};
use k256::elliptic_curve::point::AffineCoordinates;
use k256::elliptic_curve::scalar::IsHigh;
use k256::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use k256::elliptic_curve::BatchNormalize;
use sha2::Sha256;
use subtle::{ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroize;

use crate::batch::Secp256k1;
use crate::linear_check::CheckGroup;

/// A prime-order curve for threshold ECDSA.
pub trait IdkgCurve: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// The scalar field (integers mod the group order n); its `Repr` is the
    /// 32-byte big-endian SEC1 encoding.
    type Scalar: PrimeField + Zeroize + Send + Sync;
    /// The group; `GroupEncoding` is the compressed SEC1 encoding.
    type Point: PrimeGroup<Scalar = Self::Scalar>
        + CheckGroup
        + GroupEncoding
        + ConditionallySelectable
        + Send
        + Sync;

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

    /// Bytes per point in [`IdkgCurve::to_wire`]'s encoding.
    const WIRE_LEN: usize;

    /// The encodings of `points` sent between nodes and stored: canonical,
    /// and cheap to decode (secp256k1: uncompressed, so a receiver checks
    /// the curve equation instead of taking a square root per point).
    fn to_wire(points: &[Self::Point]) -> Vec<Vec<u8>>;

    /// The point [`IdkgCurve::to_wire`] encoded as `bytes` (`WIRE_LEN`
    /// of them), if `bytes` is the one canonical encoding of a point.
    fn from_wire(bytes: &[u8]) -> Option<Self::Point>;

    /// `scalar·G` through the curve's precomputed generator table.
    fn mul_g(scalar: &Self::Scalar) -> Self::Point;

    /// The compressed encodings of `points` (implementations share one
    /// field inversion among all of them).
    fn encode_all(points: &[Self::Point]) -> Vec<Vec<u8>> {
        points
            .iter()
            .map(|point| point.to_bytes().as_ref().to_vec())
            .collect()
    }

    /// `scalar·H` through a table built once (a commitment's every mask
    /// term multiplies `H`).
    fn mul_h(scalar: &Self::Scalar) -> Self::Point;
}

/// Multiples `j·16ⁱ·B` of a fixed base `B` (64 windows of 4 bits over the
/// big-endian scalar encoding): a multiplication is 64 additions instead of
/// 256 doublings and additions.
pub(crate) struct FixedBaseTable<C: IdkgCurve> {
    windows: Vec<[C::Point; 16]>,
}

impl<C: IdkgCurve> FixedBaseTable<C> {
    pub(crate) fn new(base: C::Point) -> Self {
        let bits = C::Scalar::NUM_BITS.div_ceil(4) as usize;
        let mut windows = Vec::with_capacity(bits);
        let mut window_base = base;
        for _ in 0..bits {
            let mut row = [C::Point::identity(); 16];
            for j in 1..16 {
                row[j] = row[j - 1] + window_base;
            }
            windows.push(row);
            window_base = row[15] + window_base;
        }
        FixedBaseTable { windows }
    }

    /// `scalar·B`. The table lookup is indexed by secret nibbles; every
    /// entry of a window is read (selected in constant time).
    pub(crate) fn mul(&self, scalar: &C::Scalar) -> C::Point {
        let repr = scalar.to_repr();
        let bytes = repr.as_ref();
        let mut sum = C::Point::identity();
        for (i, row) in self.windows.iter().enumerate() {
            let byte = bytes[bytes.len() - 1 - i / 2];
            let nibble = if i % 2 == 0 { byte & 15 } else { byte >> 4 };
            let mut entry = C::Point::identity();
            for (j, candidate) in row.iter().enumerate() {
                entry.conditional_assign(candidate, (j as u8).ct_eq(&nibble));
            }
            sum += entry;
        }
        sum
    }
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

    fn encode_all(points: &[k256::ProjectivePoint]) -> Vec<Vec<u8>> {
        if points.is_empty() {
            // k256's batch inversion asserts on an empty batch.
            return Vec::new();
        }
        k256::ProjectivePoint::batch_normalize(points)
            .iter()
            .map(|affine| affine.to_bytes().to_vec())
            .collect()
    }

    /// SEC1 uncompressed, `0x04 ‖ x ‖ y`; the identity is 65 zero bytes.
    const WIRE_LEN: usize = 65;

    fn to_wire(points: &[k256::ProjectivePoint]) -> Vec<Vec<u8>> {
        if points.is_empty() {
            return Vec::new();
        }
        k256::ProjectivePoint::batch_normalize(points)
            .iter()
            .map(|affine| {
                let encoded = affine.to_encoded_point(false);
                match encoded.as_bytes() {
                    [0] => vec![0; Self::WIRE_LEN],
                    bytes => bytes.to_vec(),
                }
            })
            .collect()
    }

    /// k256 reads coordinates only below the field modulus and checks the
    /// curve equation: one encoding per point.
    fn from_wire(bytes: &[u8]) -> Option<k256::ProjectivePoint> {
        if bytes.len() != Self::WIRE_LEN {
            return None;
        }
        if bytes.iter().all(|byte| *byte == 0) {
            return Some(k256::ProjectivePoint::IDENTITY);
        }
        if bytes[0] != 4 {
            return None;
        }
        let encoded = k256::EncodedPoint::from_bytes(bytes).ok()?;
        Option::<k256::AffinePoint>::from(k256::AffinePoint::from_encoded_point(&encoded))
            .map(k256::ProjectivePoint::from)
    }

    fn mul_g(scalar: &k256::Scalar) -> k256::ProjectivePoint {
        k256::ProjectivePoint::mul_by_generator(scalar)
    }

    fn mul_h(scalar: &k256::Scalar) -> k256::ProjectivePoint {
        static TABLE: OnceLock<FixedBaseTable<Secp256k1>> = OnceLock::new();
        TABLE
            .get_or_init(|| FixedBaseTable::new(Self::pedersen_generator()))
            .mul(scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ff::Field;

    #[test]
    fn secp256k1_shortcuts_agree_with_the_generic_operations() {
        let mut rng = rand::thread_rng();
        let mut points: Vec<k256::ProjectivePoint> = (0..5)
            .map(|_| k256::ProjectivePoint::random(&mut rng))
            .collect();
        points.insert(2, k256::ProjectivePoint::IDENTITY);
        let expected: Vec<Vec<u8>> = points
            .iter()
            .map(|point| point.to_bytes().to_vec())
            .collect();
        assert_eq!(Secp256k1::encode_all(&points), expected);
        assert!(Secp256k1::encode_all(&[]).is_empty());
        for scalar in [
            k256::Scalar::ZERO,
            k256::Scalar::ONE,
            -k256::Scalar::ONE,
            k256::Scalar::random(&mut rng),
        ] {
            assert_eq!(
                Secp256k1::mul_h(&scalar),
                Secp256k1::pedersen_generator() * scalar
            );
            assert_eq!(
                Secp256k1::mul_g(&scalar),
                k256::ProjectivePoint::GENERATOR * scalar
            );
        }
        assert_ne!(
            Secp256k1::pedersen_generator(),
            k256::ProjectivePoint::GENERATOR
        );
    }

    /// Every point's wire encoding decodes to it; `x + p` (the same x if
    /// decoding reduced mod p), a point off the curve, SEC1's compressed
    /// and hybrid tags and a non-zero identity are refused.
    #[test]
    fn secp256k1_wire_encoding_is_canonical() {
        let mut rng = rand::thread_rng();
        let mut points: Vec<k256::ProjectivePoint> = (0..4)
            .map(|_| k256::ProjectivePoint::random(&mut rng))
            .collect();
        points.push(k256::ProjectivePoint::IDENTITY);
        for (point, bytes) in points.iter().zip(Secp256k1::to_wire(&points)) {
            assert_eq!(bytes.len(), Secp256k1::WIRE_LEN);
            assert_eq!(Secp256k1::from_wire(&bytes), Some(*point));
            assert_eq!(Secp256k1::from_wire(&bytes[..64]), None);
        }
        let random = Secp256k1::to_wire(&points[..1]).remove(0);
        let mut off_curve = random.clone();
        off_curve[64] ^= 1;
        assert_eq!(Secp256k1::from_wire(&off_curve), None);
        for tag in [2, 3, 6, 7] {
            let mut other_tag = random.clone();
            other_tag[0] = tag;
            assert_eq!(Secp256k1::from_wire(&other_tag), None, "tag {tag}");
        }
        let mut not_identity = vec![0; 65];
        not_identity[64] = 1;
        assert_eq!(Secp256k1::from_wire(&not_identity), None);

        // p = 2²⁵⁶ − 2³² − 977, big-endian; x + p fits in 256 bits for small x.
        let mut p = [0xff; 32];
        p[27..].copy_from_slice(&[0xfe, 0xff, 0xff, 0xfc, 0x2f]);
        let mut found = 0;
        for x in 1u8..=60 {
            let mut compressed = k256::CompressedPoint::default();
            compressed[0] = 2;
            compressed[32] = x;
            let Some(point) = Option::<k256::ProjectivePoint>::from(
                k256::ProjectivePoint::from_bytes(&compressed),
            ) else {
                continue;
            };
            found += 1;
            let mut shifted = Secp256k1::to_wire(&[point]).remove(0);
            assert_eq!(shifted[32], x);
            let mut carry = 0u16;
            for i in (0..32).rev() {
                let sum = shifted[1 + i] as u16 + p[i] as u16 + carry;
                shifted[1 + i] = sum as u8;
                carry = sum >> 8;
            }
            assert_eq!(carry, 0);
            assert_eq!(Secp256k1::from_wire(&shifted), None, "x = {x} + p");
        }
        assert!(found > 5, "only {found} small x-coordinates on the curve");
    }
}
