//! The zero-knowledge proofs that make dealings publicly verifiable
//! (the paper's proofs of correct dealing), all Fiat–Shamir sigma
//! protocols bound to the dealing's context and kept in commitment form
//! (nonce points and responses), so their equations can be batched:
//!
//! - [`DlogProof`]: knowledge of `w` with `P = w·B` for `B = G` or `H` —
//!   possession of the encryption's ephemeral key (base `G`), and for a
//!   reshare of a masked sharing, that the old commitment `C = s·G + r·H`
//!   and the new constant term `S = s·G` differ by a multiple of `H`
//!   (`C − S = r·H`): the dealer reshares exactly its old value.
//! - [`ProductProof`]: for `A = a·G` (unmasked share) and `B` (masked share
//!   commitment), the new constant term satisfies `C = a·B + w·H`, so it
//!   commits to `a·b` — the multiplication step of presignatures.

use ff::Field;
use rand_core::{CryptoRng, RngCore};

use super::check::LinearCheck;
use super::curve::IdkgCurve;
use super::oracle::Oracle;

/// The base of a discrete-logarithm proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// The group generator `G`.
    G,
    /// The Pedersen generator `H`.
    H,
}

impl Base {
    fn times<C: IdkgCurve>(self, scalar: &C::Scalar) -> C::Point {
        match self {
            Base::G => C::mul_g(scalar),
            Base::H => C::mul_h(scalar),
        }
    }
}

/// Schnorr proof of knowledge of a discrete logarithm: `z·B = T + c·P`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlogProof<C: IdkgCurve> {
    pub(super) nonce: C::Point,
    pub(super) response: C::Scalar,
}

fn dlog_challenge<C: IdkgCurve>(
    context: &Oracle,
    base: Base,
    public: &C::Point,
    nonce: &C::Point,
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle
        .bytes(b"dlog base", if base == Base::G { b"G" } else { b"H" })
        .points::<C>(&[(b"dlog public", public), (b"dlog nonce", nonce)]);
    oracle.output::<C>()
}

impl<C: IdkgCurve> DlogProof<C> {
    /// Proves knowledge of `witness` with `public = witness·base`.
    pub(crate) fn prove(
        context: &Oracle,
        base: Base,
        public: &C::Point,
        witness: &C::Scalar,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let mut k = C::Scalar::random(&mut *rng);
        let nonce = base.times::<C>(&k);
        let challenge = dlog_challenge::<C>(context, base, public, &nonce);
        let response = k + challenge * witness;
        zeroize::Zeroize::zeroize(&mut k);
        DlogProof { nonce, response }
    }

    /// Adds `weight·(z·B − T − c·P)` to `check`.
    pub(crate) fn add_to(
        &self,
        check: &mut LinearCheck<C>,
        context: &Oracle,
        base: Base,
        public: &C::Point,
        weight: C::Scalar,
    ) {
        let challenge = dlog_challenge::<C>(context, base, public, &self.nonce);
        match base {
            Base::G => check.g(weight * self.response),
            Base::H => check.h(weight * self.response),
        }
        check.term(self.nonce, -weight);
        check.term(*public, -(weight * challenge));
    }
}

/// Proof that `C = a·B + w·H` for the `a` of `A = a·G`:
/// `z_a·G = T₁ + c·A` and `z_a·B + z_w·H = T₂ + c·C`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductProof<C: IdkgCurve> {
    pub(super) nonces: [C::Point; 2],
    pub(super) response_a: C::Scalar,
    pub(super) response_w: C::Scalar,
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
    nonces: &[C::Point; 2],
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle.points::<C>(&[
        (b"product a", &statement.a),
        (b"product b", &statement.b),
        (b"product c", &statement.product),
        (b"nonce 1", &nonces[0]),
        (b"nonce 2", &nonces[1]),
    ]);
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
        let mut k_a = C::Scalar::random(&mut *rng);
        let mut k_w = C::Scalar::random(&mut *rng);
        let nonces = [C::mul_g(&k_a), statement.b * k_a + C::mul_h(&k_w)];
        let challenge = product_challenge(context, statement, &nonces);
        let proof = ProductProof {
            nonces,
            response_a: k_a + challenge * a,
            response_w: k_w + challenge * w,
        };
        zeroize::Zeroize::zeroize(&mut k_a);
        zeroize::Zeroize::zeroize(&mut k_w);
        proof
    }

    /// Adds both equations, weighted by `weight` and an independent second weight, to `check`.
    pub(crate) fn add_to(
        &self,
        check: &mut LinearCheck<C>,
        context: &Oracle,
        statement: &ProductStatement<C>,
        weights: [C::Scalar; 2],
    ) {
        let challenge = product_challenge(context, statement, &self.nonces);
        let [first, second] = weights;
        check.g(first * self.response_a);
        check.term(self.nonces[0], -first);
        check.term(statement.a, -(first * challenge));
        check.term(statement.b, second * self.response_a);
        check.h(second * self.response_w);
        check.term(self.nonces[1], -second);
        check.term(statement.product, -(second * challenge));
    }
}

/// Proof that `log_G(Y) = log_V(S)`: the revealed `S` is the receiver's true
/// Diffie–Hellman value for ephemeral key `V` (a complaint's evidence).
/// `z·G = T₁ + c·Y` and `z·V = T₂ + c·S`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DleqProof<C: IdkgCurve> {
    pub(super) nonces: [C::Point; 2],
    pub(super) response: C::Scalar,
}

fn dleq_challenge<C: IdkgCurve>(
    context: &Oracle,
    points: [&C::Point; 3],
    nonces: &[C::Point; 2],
) -> C::Scalar {
    let mut oracle = context.clone();
    oracle.points::<C>(&[
        (b"dleq key", points[0]),
        (b"dleq base", points[1]),
        (b"dleq value", points[2]),
        (b"nonce 1", &nonces[0]),
        (b"nonce 2", &nonces[1]),
    ]);
    oracle.output::<C>()
}

impl<C: IdkgCurve> DleqProof<C> {
    /// Proves `key = y·G` and `value = y·base`.
    pub(crate) fn prove(
        context: &Oracle,
        base: &C::Point,
        y: &C::Scalar,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let mut k = C::Scalar::random(&mut *rng);
        let nonces = [C::mul_g(&k), *base * k];
        let challenge = dleq_challenge::<C>(context, [&C::mul_g(y), base, &(*base * y)], &nonces);
        let proof = DleqProof {
            nonces,
            response: k + challenge * y,
        };
        zeroize::Zeroize::zeroize(&mut k);
        proof
    }

    /// Whether the proof holds for `key`, `base` and `value`.
    pub(crate) fn verify(
        &self,
        context: &Oracle,
        key: &C::Point,
        base: &C::Point,
        value: &C::Point,
    ) -> bool {
        let challenge = dleq_challenge::<C>(context, [key, base, value], &self.nonces);
        let [first, second] = [
            super::check::random_weight::<C>(),
            super::check::random_weight::<C>(),
        ];
        let mut check = LinearCheck::<C>::new();
        check.g(first * self.response);
        check.term(self.nonces[0], -first);
        check.term(*key, -(first * challenge));
        check.term(*base, second * self.response);
        check.term(self.nonces[1], -second);
        check.term(*value, -(second * challenge));
        check.holds()
    }
}
