//! The random oracle behind every derived value of the protocol: proof
//! challenges, encryption pads and signature re-randomizers.
//!
//! SHA-512 over length-prefixed `(label, value)` pairs, starting from a
//! domain separator that names the use and the curve; 64 output bytes are
//! reduced to a scalar, so the result is uniform mod n.

use group::GroupEncoding;
use sha2::{Digest, Sha512};

use super::curve::IdkgCurve;
use ff::PrimeField;

/// A running hash for one derived value.
#[derive(Clone)]
pub(crate) struct Oracle {
    hasher: Sha512,
}

impl Oracle {
    /// An oracle for the use named `domain` on curve `C`.
    pub(crate) fn new<C: IdkgCurve>(domain: &'static str) -> Self {
        let mut oracle = Oracle {
            hasher: Sha512::new(),
        };
        oracle.bytes(b"domain", domain.as_bytes());
        oracle.bytes(b"curve", C::NAME.as_bytes());
        oracle
    }

    /// Absorbs one labelled byte string.
    pub(crate) fn bytes(&mut self, label: &'static [u8], value: &[u8]) -> &mut Self {
        for part in [label, value] {
            self.hasher.update((part.len() as u64).to_be_bytes());
            self.hasher.update(part);
        }
        self
    }

    /// Absorbs an integer.
    pub(crate) fn u64(&mut self, label: &'static [u8], value: u64) -> &mut Self {
        self.bytes(label, &value.to_be_bytes())
    }

    /// Absorbs a point (compressed encoding).
    pub(crate) fn point<C: IdkgCurve>(
        &mut self,
        label: &'static [u8],
        point: &C::Point,
    ) -> &mut Self {
        self.bytes(label, point.to_bytes().as_ref())
    }

    /// Absorbs labelled points as [`Oracle::point`] would one by one, but
    /// encoded together (one field inversion for all).
    pub(crate) fn points<C: IdkgCurve>(
        &mut self,
        labelled: &[(&'static [u8], &C::Point)],
    ) -> &mut Self {
        let points: Vec<C::Point> = labelled.iter().map(|(_, point)| **point).collect();
        for ((label, _), encoding) in labelled.iter().zip(C::encode_all(&points)) {
            self.bytes(label, &encoding);
        }
        self
    }

    /// Absorbs a scalar.
    pub(crate) fn scalar<C: IdkgCurve>(
        &mut self,
        label: &'static [u8],
        scalar: &C::Scalar,
    ) -> &mut Self {
        self.bytes(label, scalar.to_repr().as_ref())
    }

    /// The oracle's output as a scalar.
    pub(crate) fn output<C: IdkgCurve>(&self) -> C::Scalar {
        let digest: [u8; 64] = self.hasher.clone().finalize().into();
        C::scalar_from_wide(&digest)
    }

    /// The raw 64-byte hash (to bind a long statement once).
    pub(crate) fn digest(&self) -> [u8; 64] {
        self.hasher.clone().finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Secp256k1;
    use group::Group;

    #[test]
    fn points_absorbs_exactly_what_point_does_one_by_one() {
        let mut rng = rand::thread_rng();
        let a = k256::ProjectivePoint::random(&mut rng);
        let b = k256::ProjectivePoint::random(&mut rng);
        let identity = k256::ProjectivePoint::IDENTITY;
        let mut one_by_one = Oracle::new::<Secp256k1>("test");
        one_by_one
            .point::<Secp256k1>(b"a", &a)
            .point::<Secp256k1>(b"identity", &identity)
            .point::<Secp256k1>(b"b", &b);
        let mut together = Oracle::new::<Secp256k1>("test");
        together.points::<Secp256k1>(&[(b"a", &a), (b"identity", &identity), (b"b", &b)]);
        assert_eq!(one_by_one.digest(), together.digest());
        let mut swapped = Oracle::new::<Secp256k1>("test");
        swapped.points::<Secp256k1>(&[(b"a", &b), (b"identity", &identity), (b"b", &a)]);
        assert_ne!(one_by_one.digest(), swapped.digest());
    }
}
