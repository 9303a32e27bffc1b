//! The zero-knowledge proofs that make dealings publicly verifiable
//! (paper §4, "proofs of correct dealing"), all Fiat–Shamir sigma
//! protocols bound to the dealing's context:
//!
//! - [`DlogProof`]: knowledge of `w` with `P = w·B` — possession of the
//!   encryption's ephemeral key (base `G`), and for a reshare of a masked
//!   sharing, that the old commitment `C = s·G + r·H` and the new constant
//!   term `S = s·G` differ by a multiple of `H` (`C − S = r·H`), i.e. the
//!   dealer reshares exactly its old value.
//! - [`ProductProof`]: for `A = a·G` (unmasked share) and `B` (masked share
//!   commitment), the new constant term satisfies `C = a·B + w·H`, so it
//!   commits to `a·b` — the multiplication step of presignatures.

use ff::Field;
use group::Group;
use rand_core::{CryptoRng, RngCore};

use super::curve::IdkgCurve;
use super::oracle::Oracle;

/// Schnorr proof of knowledge of a discrete logarithm.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlogProof<C: IdkgCurve> {
    challenge: C::Scalar,
    response: C::Scalar,
}

fn dlog_challenge<C: IdkgCurve>(
    context: &Oracle,
    base: &C::Point,
    public: &C::Point,
    nonce: &C::Point,
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle
        .point::<C>(b"dlog base", base)
        .point::<C>(b"dlog public", public)
        .point::<C>(b"dlog nonce", nonce);
    oracle.output::<C>()
}

impl<C: IdkgCurve> DlogProof<C> {
    /// Proves knowledge of `witness` with `public = witness·base`.
    pub(crate) fn prove(
        context: &Oracle,
        base: &C::Point,
        witness: &C::Scalar,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let mut nonce = C::Scalar::random(&mut *rng);
        let challenge = dlog_challenge::<C>(context, base, &(*base * witness), &(*base * nonce));
        let response = nonce + challenge * witness;
        zeroize::Zeroize::zeroize(&mut nonce);
        DlogProof {
            challenge,
            response,
        }
    }

    /// Whether the proof holds for `public` over `base`.
    pub(crate) fn verify(&self, context: &Oracle, base: &C::Point, public: &C::Point) -> bool {
        let nonce = *base * self.response - *public * self.challenge;
        dlog_challenge::<C>(context, base, public, &nonce) == self.challenge
    }
}

/// Proof that `C = a·B + w·H` for the `a` of `A = a·G`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductProof<C: IdkgCurve> {
    challenge: C::Scalar,
    response_a: C::Scalar,
    response_w: C::Scalar,
}

/// The public values a product proof talks about.
pub(crate) struct ProductStatement<C: IdkgCurve> {
    /// `a·G`.
    pub(crate) a: C::Point,
    /// The masked factor's commitment `b·G + r·H`.
    pub(crate) b: C::Point,
    /// The product's commitment `a·b·G + z·H = a·B + (z − a·r)·H`.
    pub(crate) product: C::Point,
}

fn product_challenge<C: IdkgCurve>(
    context: &Oracle,
    statement: &ProductStatement<C>,
    nonces: [&C::Point; 2],
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle
        .point::<C>(b"product a", &statement.a)
        .point::<C>(b"product b", &statement.b)
        .point::<C>(b"product c", &statement.product)
        .point::<C>(b"nonce 1", nonces[0])
        .point::<C>(b"nonce 2", nonces[1]);
    oracle.output::<C>()
}

impl<C: IdkgCurve> ProductProof<C> {
    /// Proves the statement from `a` and `w = z − a·r`.
    pub(crate) fn prove(
        context: &Oracle,
        statement: &ProductStatement<C>,
        a: &C::Scalar,
        w: &C::Scalar,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let h = C::pedersen_generator();
        let mut nonce_a = C::Scalar::random(&mut *rng);
        let mut nonce_w = C::Scalar::random(&mut *rng);
        let first = C::Point::generator() * nonce_a;
        let second = statement.b * nonce_a + h * nonce_w;
        let challenge = product_challenge(context, statement, [&first, &second]);
        let proof = ProductProof {
            challenge,
            response_a: nonce_a + challenge * a,
            response_w: nonce_w + challenge * w,
        };
        zeroize::Zeroize::zeroize(&mut nonce_a);
        zeroize::Zeroize::zeroize(&mut nonce_w);
        proof
    }

    /// Whether the proof holds.
    pub(crate) fn verify(&self, context: &Oracle, statement: &ProductStatement<C>) -> bool {
        let h = C::pedersen_generator();
        let first = C::Point::generator() * self.response_a - statement.a * self.challenge;
        let second = statement.b * self.response_a + h * self.response_w
            - statement.product * self.challenge;
        product_challenge(context, statement, [&first, &second]) == self.challenge
    }
}
