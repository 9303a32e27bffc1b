//! Per-caller keys from one master key, exactly as the Internet Computer
//! derives them for `ecdsa_public_key` and `sign_with_ecdsa`.
//!
//! The path is the caller's principal followed by the caller's own
//! derivation path (byte strings of any length). Each element is a BIP32
//! non-hardened child step generalised to arbitrary bytes:
//! `HMAC-SHA512(chain code, SEC1-compressed key ‖ element)` splits into a
//! tweak `IL` (added to the key: `K' = K + IL·G`) and the next chain code
//! `IR`. When `IL ≥ n` or `K'` is the identity, the step is retried with
//! `0x01 ‖ IR` (resp. `0x01 ‖ chain code`) in place of the key, as in
//! SLIP-0010. The master chain code is 32 zero bytes. A 4-byte big-endian
//! index below 2³¹ therefore gives exactly BIP32's public derivation.
//!
//! Derivation is public: the secret key of a child is the master secret
//! plus the sum of the tweaks, so a threshold signature under a derived key
//! only needs the tweak ([`DerivedKey::tweak`]) — no node's share changes.

use ff::{Field, PrimeField};
use group::{Group, GroupEncoding};
use hmac::{Hmac, Mac};
use sha2::Sha512;

use super::curve::IdkgCurve;
use super::TecdsaError;

/// The longest path the Internet Computer accepts (caller included).
pub const MAX_PATH_LENGTH: usize = 255;

/// A derivation path: byte-string elements applied in order.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DerivationPath(Vec<Vec<u8>>);

impl DerivationPath {
    /// A path of the given elements.
    pub fn new(elements: Vec<Vec<u8>>) -> Self {
        DerivationPath(elements)
    }

    /// The path the management canister uses for `caller`: the caller's
    /// principal bytes, then `path`.
    pub fn for_caller(caller: &[u8], path: &[Vec<u8>]) -> Self {
        let mut elements = Vec::with_capacity(path.len() + 1);
        elements.push(caller.to_vec());
        elements.extend_from_slice(path);
        DerivationPath(elements)
    }

    /// The elements.
    pub fn elements(&self) -> &[Vec<u8>] {
        &self.0
    }
}

/// A derived public key with its chain code and the tweak that leads to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DerivedKey<C: IdkgCurve> {
    /// `master + tweak·G`.
    pub public_key: C::Point,
    /// The chain code after the last element (returned by `ecdsa_public_key`).
    pub chain_code: [u8; 32],
    /// The sum of the per-step tweaks: the derived secret is `master secret + tweak`.
    pub tweak: C::Scalar,
}

/// The IC's master chain code.
pub const MASTER_CHAIN_CODE: [u8; 32] = [0; 32];

/// Derives `path` from `master` with chain code `chain_code`.
///
/// # Errors
/// [`TecdsaError::DerivationPathTooLong`] beyond [`MAX_PATH_LENGTH`] elements.
pub fn derive<C: IdkgCurve>(
    master: &C::Point,
    chain_code: &[u8; 32],
    path: &DerivationPath,
) -> Result<DerivedKey<C>, TecdsaError> {
    if path.0.len() > MAX_PATH_LENGTH {
        return Err(TecdsaError::DerivationPathTooLong {
            length: path.0.len(),
        });
    }
    let mut key = DerivedKey {
        public_key: *master,
        chain_code: *chain_code,
        tweak: C::Scalar::ZERO,
    };
    for element in &path.0 {
        let (public_key, chain_code, tweak) = child::<C>(&key.public_key, &key.chain_code, element);
        key = DerivedKey {
            public_key,
            chain_code,
            tweak: key.tweak + tweak,
        };
    }
    Ok(key)
}

/// One public child step with SLIP-0010's retries.
fn child<C: IdkgCurve>(
    parent: &C::Point,
    chain_code: &[u8; 32],
    element: &[u8],
) -> (C::Point, [u8; 32], C::Scalar) {
    let mut input = parent.to_bytes().as_ref().to_vec();
    loop {
        let (tweak, next_chain_code) = tweak_and_chain_code::<C>(chain_code, &input, element);
        let child = *parent + C::mul_g(&tweak);
        if !bool::from(child.is_identity()) {
            return (child, next_chain_code, tweak);
        }
        input = [&[1u8][..], &next_chain_code].concat();
    }
}

/// `HMAC-SHA512(chain_code, input ‖ element)` as (tweak < n, chain code),
/// retrying with `0x01 ‖ IR` while `IL ≥ n`.
fn tweak_and_chain_code<C: IdkgCurve>(
    chain_code: &[u8; 32],
    input: &[u8],
    element: &[u8],
) -> (C::Scalar, [u8; 32]) {
    let mut input = input.to_vec();
    loop {
        let mut mac =
            Hmac::<Sha512>::new_from_slice(chain_code).expect("HMAC takes any key length");
        mac.update(&input);
        mac.update(element);
        let output = mac.finalize().into_bytes();
        let (left, right) = output.split_at(32);
        let right: [u8; 32] = right.try_into().expect("32 bytes");
        let mut repr = <C::Scalar as PrimeField>::Repr::default();
        repr.as_mut().copy_from_slice(left);
        if let Some(tweak) = Option::<C::Scalar>::from(C::Scalar::from_repr(repr)) {
            return (tweak, right);
        }
        input = [&[1u8][..], &right].concat();
    }
}

/// The management canister's `ecdsa_public_key`: the derived key of
/// `caller` and `path` under `master` (SEC1 compressed) and its chain code.
///
/// # Errors
/// [`TecdsaError::DerivationPathTooLong`].
pub fn ecdsa_public_key<C: IdkgCurve>(
    master: &C::Point,
    caller: &[u8],
    path: &[Vec<u8>],
) -> Result<(Vec<u8>, [u8; 32]), TecdsaError> {
    let derived = derive::<C>(
        master,
        &MASTER_CHAIN_CODE,
        &DerivationPath::for_caller(caller, path),
    )?;
    Ok((
        derived.public_key.to_bytes().as_ref().to_vec(),
        derived.chain_code,
    ))
}
