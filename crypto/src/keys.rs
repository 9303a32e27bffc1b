//! Secret keys, public keys and signatures as typed, validated values.
//!
//! Decoding is where untrusted bytes enter, so it is strict (see
//! [`BlsGroup::from_compressed_slice`]); a value of these types is always a
//! valid group element, and a [`PublicKey`] is never the identity.

use std::fmt;
use std::hash::{Hash, Hasher};

use blstrs::Scalar;
use ff::Field;
use group::prime::PrimeCurveAffine;
use group::{Curve, Group};
use rand_core::{CryptoRng, RngCore};
use subtle::{Choice, ConstantTimeEq};
use zeroize::{DefaultIsZeroes, Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::curve::{Affine, BlsGroup};
use crate::error::Error;
use crate::scheme::Scheme;

/// A scalar that is wiped when its owner is dropped. Kept private: it is
/// `Copy` only because `zeroize` needs that to wipe it.
#[derive(Clone, Copy, Default)]
pub(crate) struct SecretScalar(pub(crate) Scalar);

impl DefaultIsZeroes for SecretScalar {}

/// A BLS secret key: a non-zero scalar modulo the group order r.
///
/// The same secret key works for both [`Scheme`]s. It is wiped from memory
/// on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct SecretKey(SecretScalar);

impl SecretKey {
    /// Draws a uniformly random non-zero key from a cryptographic RNG.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        loop {
            let scalar = Scalar::random(&mut *rng);
            if !bool::from(scalar.is_zero()) {
                return SecretKey(SecretScalar(scalar));
            }
        }
    }

    /// Derives a key from input keying material with the IETF BLS `KeyGen`
    /// (draft-irtf-cfrg-bls-signature-05, HKDF-SHA-256, salt
    /// `BLS-SIG-KEYGEN-SALT-`), as implemented by blst.
    ///
    /// # Errors
    /// [`Error::KeyMaterialTooShort`] when `ikm` has fewer than 32 bytes.
    pub fn from_ikm(ikm: &[u8], key_info: &[u8]) -> Result<Self, Error> {
        if ikm.len() < 32 {
            return Err(Error::KeyMaterialTooShort(ikm.len()));
        }
        let key = blst::min_sig::SecretKey::key_gen(ikm, key_info)
            .map_err(|_| Error::KeyMaterialTooShort(ikm.len()))?;
        let bytes = Zeroizing::new(key.to_bytes());
        Self::from_bytes(bytes.as_slice())
    }

    /// Decodes the 32-byte big-endian encoding (IETF `OS2IP`, as Ethereum stores keys).
    ///
    /// # Errors
    /// [`Error::InvalidLength`] for another length; [`Error::InvalidSecretKey`]
    /// for zero or a value not below r.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidLength {
            expected: 32,
            actual: bytes.len(),
        })?;
        let scalar: Option<Scalar> = Scalar::from_bytes_be(bytes).into();
        match scalar {
            Some(scalar) if !bool::from(scalar.is_zero()) => {
                Ok(Self::from_scalar_unchecked(scalar))
            }
            _ => Err(Error::InvalidSecretKey),
        }
    }

    /// The 32-byte big-endian encoding, wiped when dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0 .0.to_bytes_be())
    }

    /// The public key `sk·g` in the scheme's public-key group.
    pub fn public_key<S: Scheme>(&self) -> PublicKey<S> {
        PublicKey((S::PublicKeyGroup::generator() * self.0 .0).to_affine())
    }

    /// Wraps a scalar the caller knows to be non-zero.
    pub(crate) fn from_scalar_unchecked(scalar: Scalar) -> Self {
        SecretKey(SecretScalar(scalar))
    }

    /// The secret scalar, for signing inside this crate.
    pub(crate) fn scalar(&self) -> &Scalar {
        &self.0 .0
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for SecretKey {}

/// Secret keys compare in constant time, so equality checks leak nothing.
impl ConstantTimeEq for SecretKey {
    fn ct_eq(&self, other: &Self) -> Choice {
        self.scalar().ct_eq(other.scalar())
    }
}

impl PartialEq for SecretKey {
    fn eq(&self, other: &Self) -> bool {
        self.ct_eq(other).into()
    }
}

impl Eq for SecretKey {}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Defines a newtype around a group element of a scheme with the shared
/// encoding, comparison and hashing impls.
macro_rules! point_newtype {
    ($(#[$doc:meta])* $name:ident, $group:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        pub struct $name<S: Scheme>(pub(crate) Affine<S::$group>);

        impl<S: Scheme> $name<S> {
            /// Size of the compressed encoding in bytes.
            pub const SIZE: usize = <S::$group as BlsGroup>::COMPRESSED_SIZE;

            /// The compressed encoding.
            pub fn to_bytes(&self) -> Vec<u8> {
                S::$group::to_compressed_vec(&self.0)
            }

            /// The underlying group element, for use with the `group` traits.
            pub fn as_point(&self) -> &Affine<S::$group> {
                &self.0
            }
        }

        impl<S: Scheme> Hash for $name<S> {
            fn hash<H: Hasher>(&self, state: &mut H) {
                // The compressed encoding, without allocating (keys are hashed per job).
                group::GroupEncoding::to_bytes(&self.0).as_ref().hash(state);
            }
        }

        impl<S: Scheme> fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}<{}>(", stringify!($name), S::NAME)?;
                for byte in self.to_bytes() {
                    write!(f, "{byte:02x}")?;
                }
                f.write_str(")")
            }
        }
    };
}

point_newtype!(
    /// A BLS public key: a non-identity element of the scheme's public-key group.
    PublicKey,
    PublicKeyGroup
);

point_newtype!(
    /// A BLS signature (or aggregate signature): an element of the scheme's
    /// signature group. The identity is a well-formed signature that no
    /// valid public key verifies.
    Signature,
    SignatureGroup
);

impl<S: Scheme> PublicKey<S> {
    /// Decodes and validates a compressed public key (IETF `KeyValidate`).
    ///
    /// # Errors
    /// Any decoding error of [`BlsGroup::from_compressed_slice`], and
    /// [`Error::IdentityPublicKey`] for the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Self::from_subgroup_point(S::PublicKeyGroup::from_compressed_slice(bytes)?)
    }

    /// Wraps a group element after checking it (on the curve, in the
    /// subgroup, not the identity): blstrs can build points that are not.
    ///
    /// # Errors
    /// [`Error::NotOnCurve`], [`Error::NotInSubgroup`] or [`Error::IdentityPublicKey`].
    pub fn from_point(point: Affine<S::PublicKeyGroup>) -> Result<Self, Error> {
        S::PublicKeyGroup::check_point(&point)?;
        Self::from_subgroup_point(point)
    }

    /// Wraps a point known to be in the subgroup, rejecting the identity.
    pub(crate) fn from_subgroup_point(point: Affine<S::PublicKeyGroup>) -> Result<Self, Error> {
        if bool::from(point.is_identity()) {
            return Err(Error::IdentityPublicKey);
        }
        Ok(PublicKey(point))
    }

    /// Sums public keys, as for verifying a same-message aggregate.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for no keys; [`Error::IdentityPublicKey`] if the sum is the identity.
    pub fn aggregate<'a>(keys: impl IntoIterator<Item = &'a Self>) -> Result<Self, Error> {
        let sum = sum_points::<S::PublicKeyGroup>(keys.into_iter().map(|key| &key.0))?;
        Self::from_subgroup_point(sum)
    }
}

impl<S: Scheme> Signature<S> {
    /// Decodes a compressed signature, checking that it is a subgroup element.
    ///
    /// # Errors
    /// Any decoding error of [`BlsGroup::from_compressed_slice`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        S::SignatureGroup::from_compressed_slice(bytes).map(Signature)
    }

    /// Wraps a group element after checking it is on the curve and in the
    /// subgroup (any such element, the identity included, is well-formed).
    ///
    /// # Errors
    /// [`Error::NotOnCurve`] or [`Error::NotInSubgroup`].
    pub fn from_point(point: Affine<S::SignatureGroup>) -> Result<Self, Error> {
        S::SignatureGroup::check_point(&point)?;
        Ok(Signature(point))
    }

    /// Sums signatures into one aggregate signature.
    ///
    /// # Errors
    /// [`Error::EmptyInput`] for no signatures.
    pub fn aggregate<'a>(signatures: impl IntoIterator<Item = &'a Self>) -> Result<Self, Error> {
        sum_points::<S::SignatureGroup>(signatures.into_iter().map(|sig| &sig.0)).map(Signature)
    }
}

/// Sums affine points in projective form; an empty input is an error.
fn sum_points<'a, G: BlsGroup>(
    points: impl Iterator<Item = &'a Affine<G>>,
) -> Result<Affine<G>, Error> {
    let mut count = 0usize;
    let sum = points.fold(G::identity(), |acc, point| {
        count += 1;
        acc + point.to_curve()
    });
    if count == 0 {
        return Err(Error::EmptyInput);
    }
    Ok(sum.to_affine())
}
