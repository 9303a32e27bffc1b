//! Min-sig and min-pk: which group holds signatures and which holds keys.
//!
//! BLS signatures live in one source group of the pairing and public keys in
//! the other. The Internet Computer puts signatures in G1 (48 bytes, cheap to
//! hash to and aggregate: [`MinSig`]); Ethereum puts public keys in G1
//! ([`MinPk`]). Everything else in this crate is written once, generic over
//! [`Scheme`], so both share the same code path.

use std::fmt::Debug;
use std::hash::Hash;

use blstrs::{Bls12, G1Affine, G1Projective, G2Affine, G2Prepared, G2Projective};
use group::Group;
use pairing::{MillerLoopResult, MultiMillerLoop};

use crate::curve::{Affine, BlsGroup};

/// Assignment of signatures and public keys to the two source groups.
pub trait Scheme: Copy + Debug + Default + Eq + Hash + Send + Sync + 'static {
    /// Group of public keys (and of threshold public commitments).
    type PublicKeyGroup: BlsGroup;
    /// Group of signatures and of hashed messages.
    type SignatureGroup: BlsGroup;

    /// Short human name, `"min-sig"` or `"min-pk"`.
    const NAME: &'static str;

    /// Whether public keys are the G2 argument of the pairing, so that their
    /// Miller-loop line coefficients can be prepared once and cached.
    const KEYS_IN_G2: bool;

    /// Orders one (signature-side, public-key-side) pair into the pairing's
    /// (G1, G2) argument order.
    fn pairing_arguments(
        signature_side: &Affine<Self::SignatureGroup>,
        public_key_side: &Affine<Self::PublicKeyGroup>,
    ) -> (G1Affine, G2Affine);
}

/// Signatures in G1 (48 bytes), public keys in G2 (96 bytes): the Internet Computer's choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MinSig;

/// Signatures in G2 (96 bytes), public keys in G1 (48 bytes): Ethereum's choice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MinPk;

impl Scheme for MinSig {
    type PublicKeyGroup = G2Projective;
    type SignatureGroup = G1Projective;
    const NAME: &'static str = "min-sig";
    const KEYS_IN_G2: bool = true;

    fn pairing_arguments(
        signature_side: &G1Affine,
        public_key_side: &G2Affine,
    ) -> (G1Affine, G2Affine) {
        (*signature_side, *public_key_side)
    }
}

impl Scheme for MinPk {
    type PublicKeyGroup = G1Projective;
    type SignatureGroup = G2Projective;
    const NAME: &'static str = "min-pk";
    const KEYS_IN_G2: bool = false;

    fn pairing_arguments(
        signature_side: &G2Affine,
        public_key_side: &G1Affine,
    ) -> (G1Affine, G2Affine) {
        (*public_key_side, *signature_side)
    }
}

/// One factor `e(a, b)` of a pairing product: `a` in the signature group,
/// `b` in the public-key group.
pub(crate) type PairingTerm<S> = (
    Affine<<S as Scheme>::SignatureGroup>,
    Affine<<S as Scheme>::PublicKeyGroup>,
);

/// Checks Π e(aᵢ, bᵢ) = 1 for pairs (aᵢ in the signature group, bᵢ in the
/// public-key group) with one multi-Miller loop and one final exponentiation.
///
/// Every verification equation of this crate is brought into this form, e.g.
/// `e(σ, g) = e(H(m), pk)` becomes `e(σ, −g)·e(H(m), pk) = 1`.
pub(crate) fn pairing_product_is_one<S: Scheme>(terms: &[PairingTerm<S>]) -> bool {
    let arguments: Vec<(G1Affine, G2Prepared)> = terms
        .iter()
        .map(|(sig_side, pk_side)| {
            let (g1, g2) = S::pairing_arguments(sig_side, pk_side);
            (g1, G2Prepared::from(g2))
        })
        .collect();
    let references: Vec<(&G1Affine, &G2Prepared)> = arguments.iter().map(|(a, b)| (a, b)).collect();
    Bls12::multi_miller_loop(&references)
        .final_exponentiation()
        .is_identity()
        .into()
}
