//! The two BLS12-381 source groups behind one trait.
//!
//! [`BlsGroup`] is what the signature code needs from a group beyond the
//! `group` crate's traits: hashing to it, strict decoding, and multi-scalar
//! multiplication. It is implemented for [`G1Projective`] and [`G2Projective`],
//! which lets every scheme be written once and instantiated for min-sig and
//! min-pk (see [`crate::Scheme`]).

use blstrs::{G1Affine, G1Projective, G2Affine, G2Projective, Scalar};
use group::prime::PrimeCurve;
use group::GroupEncoding;

use crate::backend::msm::BlstGroup;
use crate::backend::{Backend, Msm};
use crate::error::Error;

/// The affine form of a [`BlsGroup`] element.
pub type Affine<G> = <G as PrimeCurve>::Affine;

/// A prime-order source group of BLS12-381 (G1 or G2).
///
/// Encodings are the compressed ZCash format used by Ethereum, the IETF
/// drafts and the Internet Computer.
pub trait BlsGroup: PrimeCurve<Scalar = Scalar> + BlstGroup + 'static {
    /// Name used in IETF ciphersuite identifiers: `"BLS12381G1"` or `"BLS12381G2"`.
    const CURVE_NAME: &'static str;

    /// Length of the compressed encoding in bytes (48 for G1, 96 for G2).
    const COMPRESSED_SIZE: usize;

    /// Hashes `msg` to the group with `hash_to_curve` (RFC 9380,
    /// `XMD:SHA-256_SSWU_RO_`) under the domain separation tag `dst`.
    fn hash_to_curve(msg: &[u8], dst: &[u8]) -> Self;

    /// Whether `point` lies in the prime-order subgroup.
    fn is_torsion_free(point: &Affine<Self>) -> bool;

    /// Whether `point` satisfies the curve equation.
    fn is_on_curve(point: &Affine<Self>) -> bool;

    /// Checks that a point built elsewhere (e.g. with blstrs' unchecked
    /// constructors) is on the curve and in the prime-order subgroup.
    ///
    /// # Errors
    /// [`Error::NotOnCurve`] or [`Error::NotInSubgroup`].
    fn check_point(point: &Affine<Self>) -> Result<(), Error> {
        if !Self::is_on_curve(point) {
            return Err(Error::NotOnCurve);
        }
        if !Self::is_torsion_free(point) {
            return Err(Error::NotInSubgroup);
        }
        Ok(())
    }

    /// Hashes many messages through a batch [`Backend`].
    fn hash_with(backend: &dyn Backend, messages: &[&[u8]], dst: &[u8]) -> Vec<Affine<Self>>;

    /// Computes independent 64-bit-weight MSMs through a batch [`Backend`].
    fn msm_with(backend: &dyn Backend, msms: &[Msm<Affine<Self>>]) -> Vec<Affine<Self>>;

    /// Decodes a compressed point, strictly: the flag bits must be canonical,
    /// coordinates below the modulus, the point on the curve and in the
    /// prime-order subgroup. The identity (infinity flag set, all else zero)
    /// is accepted; reject it where a protocol forbids it.
    fn from_compressed_slice(bytes: &[u8]) -> Result<Affine<Self>, Error> {
        let mut repr = <Affine<Self> as GroupEncoding>::Repr::default();
        if bytes.len() != repr.as_ref().len() {
            return Err(Error::InvalidLength {
                expected: repr.as_ref().len(),
                actual: bytes.len(),
            });
        }
        repr.as_mut().copy_from_slice(bytes);
        let point: Option<Affine<Self>> = Affine::<Self>::from_bytes_unchecked(&repr).into();
        let point = point.ok_or(Error::InvalidPointEncoding)?;
        if !Self::is_torsion_free(&point) {
            return Err(Error::NotInSubgroup);
        }
        Ok(point)
    }

    /// Encodes a point in compressed form.
    fn to_compressed_vec(point: &Affine<Self>) -> Vec<u8> {
        point.to_bytes().as_ref().to_vec()
    }
}

impl BlsGroup for G1Projective {
    const CURVE_NAME: &'static str = "BLS12381G1";
    const COMPRESSED_SIZE: usize = 48;

    fn hash_to_curve(msg: &[u8], dst: &[u8]) -> Self {
        G1Projective::hash_to_curve(msg, dst, &[])
    }

    fn is_torsion_free(point: &G1Affine) -> bool {
        point.is_torsion_free().into()
    }

    fn is_on_curve(point: &G1Affine) -> bool {
        point.is_on_curve().into()
    }

    fn hash_with(backend: &dyn Backend, messages: &[&[u8]], dst: &[u8]) -> Vec<G1Affine> {
        backend.hash_to_g1(messages, dst)
    }

    fn msm_with(backend: &dyn Backend, msms: &[Msm<G1Affine>]) -> Vec<G1Affine> {
        backend.msm_g1(msms)
    }
}

impl BlsGroup for G2Projective {
    const CURVE_NAME: &'static str = "BLS12381G2";
    const COMPRESSED_SIZE: usize = 96;

    fn hash_to_curve(msg: &[u8], dst: &[u8]) -> Self {
        G2Projective::hash_to_curve(msg, dst, &[])
    }

    fn is_torsion_free(point: &G2Affine) -> bool {
        point.is_torsion_free().into()
    }

    fn is_on_curve(point: &G2Affine) -> bool {
        point.is_on_curve().into()
    }

    fn hash_with(backend: &dyn Backend, messages: &[&[u8]], dst: &[u8]) -> Vec<G2Affine> {
        backend.hash_to_g2(messages, dst)
    }

    fn msm_with(backend: &dyn Backend, msms: &[Msm<G2Affine>]) -> Vec<G2Affine> {
        backend.msm_g2(msms)
    }
}
