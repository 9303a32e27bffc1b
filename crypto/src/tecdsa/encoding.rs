//! Byte encodings of dealings, signature shares and MEGa keys, so a node
//! can send them over the network and store them.
//!
//! Every encoding is canonical (one value, one byte string) and starts with
//! a byte naming its type and format version, so one type is never read as
//! another and the format can change later. After it:
//!
//! - integers and counts are `u32` big-endian, and every list is preceded
//!   by its count;
//! - points are the curve's wire encoding ([`IdkgCurve::to_wire`]): for
//!   secp256k1 uncompressed SEC1, 65 bytes, all zeros for the identity
//!   (twice the size of a compressed point, but decoding needs no square
//!   root: every receiver of a dealing decodes it);
//! - scalars are their `PrimeField::Repr` (32 bytes big-endian for secp256k1).
//!
//! | type | tag | after the tag |
//! |---|---|---|
//! | [`Dealing`] | 1 | dealer, masking (0 unmasked, 1 masked), commitment points, ephemeral key, its proof of possession, per receiver the ciphertext's scalars, proof kind (0 none, 1 reshare of masked, 2 product) and proof |
//! | [`SignatureShare`] | 2 | signer, `ν` value and mask, `μ` value and mask |
//! | [`MegaPublicKey`] | 3 | the point |
//! | [`MegaSecretKey`] | 4 | the scalar |
//! | [`Complaint`] | 5 | dealer, complainer, the Diffie–Hellman point, its proof's two nonce points and response |
//! | [`Opening`] | 6 | dealer, receiver index, value, masked (0 or 1), the mask if masked |
//!
//! A discrete-logarithm proof is its nonce point and response scalar; a
//! product proof its two nonce points and two response scalars.
//! [`EcdsaSignature`] keeps its standard untagged `r ‖ s` form.
//!
//! Decoders take untrusted bytes and never panic: they reject truncated
//! input, trailing bytes, unknown tags, invalid or non-canonical points,
//! non-canonical scalars, and counts larger than the rest of the input could
//! hold (checked before anything is allocated). They check the format only:
//! a decoded dealing must still pass [`Dealing::verify`] (or come from a
//! finalized block, see [`VerifiedDealing::assume_verified`]).
//!
//! [`VerifiedDealing::assume_verified`]: super::VerifiedDealing::assume_verified

use std::marker::PhantomData;

use ff::{Field, PrimeField};
use group::Group;
use zeroize::{Zeroize, Zeroizing};

use super::commitment::{Commitment, Masking, Share};
use super::complaints::{Complaint, Opening};
use super::curve::IdkgCurve;
use super::dealing::{Dealing, DealingProof};
use super::mega::{Ciphertexts, MegaPublicKey, MegaSecretKey};
use super::proofs::{DleqProof, DlogProof, ProductProof};
use super::signing::{EcdsaSignature, SignatureShare};
use super::TecdsaError;

const DEALING: u8 = 1;
const SIGNATURE_SHARE: u8 = 2;
const MEGA_PUBLIC_KEY: u8 = 3;
const MEGA_SECRET_KEY: u8 = 4;
const COMPLAINT: u8 = 5;
const OPENING: u8 = 6;

fn malformed(reason: &'static str) -> TecdsaError {
    TecdsaError::Malformed(reason)
}

fn scalar_len<C: IdkgCurve>() -> usize {
    <C::Scalar as PrimeField>::Repr::default().as_ref().len()
}

/// Appends encodings to a buffer that starts with a type tag.
struct Writer<C: IdkgCurve> {
    bytes: Vec<u8>,
    curve: PhantomData<C>,
}

impl<C: IdkgCurve> Writer<C> {
    fn new(tag: u8) -> Self {
        Writer {
            bytes: vec![tag],
            curve: PhantomData,
        }
    }

    fn u8(&mut self, value: u8) {
        self.bytes.push(value);
    }

    fn u32(&mut self, value: u32) {
        self.bytes.extend_from_slice(&value.to_be_bytes());
    }

    fn count(&mut self, len: usize) {
        // Only a list of 2³² items (hundreds of gigabytes) could fail.
        self.u32(u32::try_from(len).expect("fewer than 2³² items"));
    }

    fn point(&mut self, point: &C::Point) {
        self.bytes
            .extend_from_slice(&C::to_wire(std::slice::from_ref(point))[0]);
    }

    /// A count and the points (encoded with one shared inversion).
    fn points(&mut self, points: &[C::Point]) {
        self.count(points.len());
        for encoding in C::to_wire(points) {
            self.bytes.extend_from_slice(&encoding);
        }
    }

    fn scalar(&mut self, scalar: &C::Scalar) {
        self.bytes.extend_from_slice(scalar.to_repr().as_ref());
    }

    /// A count and the scalars.
    fn scalars(&mut self, scalars: &[C::Scalar]) {
        self.count(scalars.len());
        scalars.iter().for_each(|scalar| self.scalar(scalar));
    }

    fn dlog_proof(&mut self, proof: &DlogProof<C>) {
        self.point(&proof.nonce);
        self.scalar(&proof.response);
    }

    fn product_proof(&mut self, proof: &ProductProof<C>) {
        proof.nonces.iter().for_each(|nonce| self.point(nonce));
        self.scalar(&proof.response_a);
        self.scalar(&proof.response_w);
    }
}

/// Reads encodings from untrusted bytes; every read fails rather than panics.
struct Reader<'a, C: IdkgCurve> {
    rest: &'a [u8],
    curve: PhantomData<C>,
}

impl<'a, C: IdkgCurve> Reader<'a, C> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            rest: bytes,
            curve: PhantomData,
        }
    }

    /// A reader of `bytes` after checking that they start with `tag`.
    fn tagged(bytes: &'a [u8], tag: u8) -> Result<Self, TecdsaError> {
        let mut reader = Self::new(bytes);
        if reader.u8()? != tag {
            return Err(malformed("wrong type tag"));
        }
        Ok(reader)
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], TecdsaError> {
        let (head, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(malformed("truncated"))?;
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, TecdsaError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u32(&mut self) -> Result<u32, TecdsaError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], TecdsaError> {
        self.take(N)?.try_into().map_err(|_| malformed("truncated"))
    }

    /// A count-prefixed list of items of at least `min_len > 0` bytes each.
    /// The count is bounded by the remaining input before allocating.
    fn list<T>(
        &mut self,
        min_len: usize,
        mut item: impl FnMut(&mut Self) -> Result<T, TecdsaError>,
    ) -> Result<Vec<T>, TecdsaError> {
        let count = self.u32()? as usize;
        if count > self.rest.len() / min_len {
            return Err(malformed("count larger than the input"));
        }
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(item(self)?);
        }
        Ok(items)
    }

    fn point(&mut self) -> Result<C::Point, TecdsaError> {
        C::from_wire(self.take(C::WIRE_LEN)?).ok_or(malformed("invalid point"))
    }

    fn points(&mut self) -> Result<Vec<C::Point>, TecdsaError> {
        self.list(C::WIRE_LEN, Self::point)
    }

    /// A canonical scalar (the copy of its bytes is wiped: it may be a secret).
    fn scalar(&mut self) -> Result<C::Scalar, TecdsaError> {
        let mut repr = <C::Scalar as PrimeField>::Repr::default();
        repr.as_mut().copy_from_slice(self.take(scalar_len::<C>())?);
        let scalar = Option::from(C::Scalar::from_repr(repr));
        repr.as_mut().zeroize();
        scalar.ok_or(malformed("non-canonical scalar"))
    }

    fn scalars(&mut self) -> Result<Vec<C::Scalar>, TecdsaError> {
        self.list(scalar_len::<C>(), Self::scalar)
    }

    fn dlog_proof(&mut self) -> Result<DlogProof<C>, TecdsaError> {
        Ok(DlogProof {
            nonce: self.point()?,
            response: self.scalar()?,
        })
    }

    fn product_proof(&mut self) -> Result<ProductProof<C>, TecdsaError> {
        Ok(ProductProof {
            nonces: [self.point()?, self.point()?],
            response_a: self.scalar()?,
            response_w: self.scalar()?,
        })
    }

    /// Succeeds only if every byte was read.
    fn finish(self) -> Result<(), TecdsaError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(malformed("trailing bytes"))
        }
    }
}

impl<C: IdkgCurve> Dealing<C> {
    /// The dealing's canonical bytes, to send it to other nodes or include
    /// it in a block (format in [`encoding`](super::encoding)).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::<C>::new(DEALING);
        writer.u32(self.dealer);
        writer.u8(match self.commitment.masking {
            Masking::Unmasked => 0,
            Masking::Masked => 1,
        });
        writer.points(&self.commitment.points);
        writer.point(&self.ciphertexts.ephemeral);
        writer.dlog_proof(&self.ciphertexts.proof_of_possession);
        writer.count(self.ciphertexts.shares.len());
        for slots in &self.ciphertexts.shares {
            writer.scalars(slots);
        }
        match &self.proof {
            DealingProof::None => writer.u8(0),
            DealingProof::ReshareOfMasked(proof) => {
                writer.u8(1);
                writer.dlog_proof(proof);
            }
            DealingProof::Product(proof) => {
                writer.u8(2);
                writer.product_proof(proof);
            }
        }
        writer.bytes
    }

    /// Decodes [`Dealing::to_bytes`] from untrusted bytes. This checks the
    /// encoding only: the dealing must still pass [`Dealing::verify`] for
    /// its transcript before it is used.
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, DEALING)?;
        let dealer = reader.u32()?;
        let masking = match reader.u8()? {
            0 => Masking::Unmasked,
            1 => Masking::Masked,
            _ => return Err(malformed("unknown masking")),
        };
        let points = reader.points()?;
        let ephemeral = reader.point()?;
        let proof_of_possession = reader.dlog_proof()?;
        // Each receiver's ciphertext takes at least its 4-byte count.
        let shares = reader.list(4, Reader::scalars)?;
        let proof = match reader.u8()? {
            0 => DealingProof::None,
            1 => DealingProof::ReshareOfMasked(reader.dlog_proof()?),
            2 => DealingProof::Product(reader.product_proof()?),
            _ => return Err(malformed("unknown proof kind")),
        };
        reader.finish()?;
        Ok(Dealing {
            dealer,
            commitment: Commitment { masking, points },
            ciphertexts: Ciphertexts {
                ephemeral,
                proof_of_possession,
                shares,
            },
            proof,
        })
    }
}

impl<C: IdkgCurve> SignatureShare<C> {
    /// The share's canonical bytes, to send it to the nodes that combine
    /// signatures.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::<C>::new(SIGNATURE_SHARE);
        writer.u32(self.signer);
        self.nu
            .iter()
            .chain(&self.mu)
            .for_each(|scalar| writer.scalar(scalar));
        writer.bytes
    }

    /// Decodes [`SignatureShare::to_bytes`] from untrusted bytes; whether
    /// the share is valid is for [`combine`](super::combine) to check.
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, SIGNATURE_SHARE)?;
        let signer = reader.u32()?;
        let nu = [reader.scalar()?, reader.scalar()?];
        let mu = [reader.scalar()?, reader.scalar()?];
        reader.finish()?;
        Ok(SignatureShare { signer, nu, mu })
    }
}

impl<C: IdkgCurve> Complaint<C> {
    /// The complaint's canonical bytes, to send it to the other receivers.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::<C>::new(COMPLAINT);
        writer.u32(self.dealer);
        writer.u32(self.complainer);
        writer.point(&self.shared);
        self.proof
            .nonces
            .iter()
            .for_each(|nonce| writer.point(nonce));
        writer.scalar(&self.proof.response);
        writer.bytes
    }

    /// Decodes [`Complaint::to_bytes`] from untrusted bytes; whether it
    /// proves anything is for [`Transcript::verify_complaint`] to check.
    ///
    /// [`Transcript::verify_complaint`]: super::Transcript::verify_complaint
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, COMPLAINT)?;
        let complaint = Complaint {
            dealer: reader.u32()?,
            complainer: reader.u32()?,
            shared: reader.point()?,
            proof: DleqProof {
                nonces: [reader.point()?, reader.point()?],
                response: reader.scalar()?,
            },
        };
        reader.finish()?;
        Ok(complaint)
    }
}

impl<C: IdkgCurve> Opening<C> {
    /// The opening's canonical bytes, to send it to the complainer (it
    /// reveals a share of a dealing proven faulty).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::<C>::new(OPENING);
        writer.u32(self.dealer);
        writer.u32(self.share.index);
        writer.scalar(&self.share.value);
        match &self.share.mask {
            None => writer.u8(0),
            Some(mask) => {
                writer.u8(1);
                writer.scalar(mask);
            }
        }
        writer.bytes
    }

    /// Decodes [`Opening::to_bytes`] from untrusted bytes; whether it is a
    /// true share is for [`Transcript::verify_opening`] to check.
    ///
    /// [`Transcript::verify_opening`]: super::Transcript::verify_opening
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, OPENING)?;
        let dealer = reader.u32()?;
        let index = reader.u32()?;
        let value = reader.scalar()?;
        let mask = match reader.u8()? {
            0 => None,
            1 => Some(reader.scalar()?),
            _ => return Err(malformed("opening masking")),
        };
        reader.finish()?;
        Ok(Opening {
            dealer,
            share: Share { index, value, mask },
        })
    }
}

impl<C: IdkgCurve> MegaPublicKey<C> {
    /// The key's canonical bytes, to publish it (e.g. in a node's registry
    /// record) so dealers can encrypt to the node.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut writer = Writer::<C>::new(MEGA_PUBLIC_KEY);
        writer.point(&self.0);
        writer.bytes
    }

    /// Decodes [`MegaPublicKey::to_bytes`] from untrusted bytes, rejecting
    /// the identity (the key of the secret 0, which anyone could decrypt for).
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding of
    /// a point other than the identity.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, MEGA_PUBLIC_KEY)?;
        let point = reader.point()?;
        reader.finish()?;
        if bool::from(point.is_identity()) {
            return Err(malformed("identity key"));
        }
        Ok(MegaPublicKey(point))
    }
}

impl<C: IdkgCurve> MegaSecretKey<C> {
    /// The key's bytes, for the node's own secure storage. The buffer is
    /// wiped on drop; never send it anywhere.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        let mut repr = self.scalar().to_repr();
        // Sized up front: no reallocation leaves a copy behind.
        let mut bytes = Zeroizing::new(Vec::with_capacity(1 + repr.as_ref().len()));
        bytes.push(MEGA_SECRET_KEY);
        bytes.extend_from_slice(repr.as_ref());
        repr.as_mut().zeroize();
        bytes
    }

    /// Decodes [`MegaSecretKey::to_bytes`] (the caller wipes `bytes`),
    /// rejecting the secret 0.
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for anything but a canonical encoding of
    /// a nonzero scalar.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::tagged(bytes, MEGA_SECRET_KEY)?;
        let mut scalar = reader.scalar()?;
        reader.finish()?;
        if bool::from(scalar.is_zero()) {
            return Err(malformed("zero key"));
        }
        let key = MegaSecretKey::from_scalar(scalar);
        scalar.zeroize();
        Ok(key)
    }
}

impl<C: IdkgCurve> EcdsaSignature<C> {
    /// Decodes [`EcdsaSignature::to_bytes`] (`r ‖ s`, 64 bytes for
    /// secp256k1), e.g. a signature stored or returned to a caller.
    ///
    /// # Errors
    /// [`TecdsaError::Malformed`] for a wrong length, non-canonical
    /// scalars, `r = 0`, `s = 0`, or a high `s` (this type holds low-s
    /// signatures only).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TecdsaError> {
        let mut reader = Reader::<C>::new(bytes);
        let (r, s) = (reader.scalar()?, reader.scalar()?);
        reader.finish()?;
        if bool::from(r.is_zero() | s.is_zero()) {
            return Err(malformed("zero r or s"));
        }
        if C::is_high(&s) {
            return Err(malformed("high s"));
        }
        Ok(EcdsaSignature { r, s })
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    use super::*;
    use crate::batch::Secp256k1;
    use crate::tecdsa::{
        combine, DealerInput, DerivationPath, LocalSubnet, Operation, SigningRequest, Transcript,
        TranscriptParams, VerifiedDealing,
    };

    type Subnet = LocalSubnet<Secp256k1>;
    const POINT: usize = 65;
    const SCALAR: usize = 32;

    /// A dealing of every operation, with the parameters it verifies under.
    fn dealings_of_every_kind(
        subnet: &Subnet,
        rng: &mut StdRng,
    ) -> Vec<(TranscriptParams<Secp256k1>, Dealing<Secp256k1>)> {
        let nodes = subnet.nodes();
        let masked = subnet.random(false, rng).unwrap();
        let unmasked = subnet.random(true, rng).unwrap();
        let masked_share = subnet.share(&masked, 1).unwrap();
        let unmasked_share = subnet.share(&unmasked, 1).unwrap();
        let operations = [
            (Operation::Random, DealerInput::Fresh),
            (Operation::RandomUnmasked, DealerInput::Fresh),
            (
                Operation::ReshareOfMasked(masked.commitment().clone()),
                DealerInput::Reshare(&masked_share),
            ),
            (
                Operation::ReshareOfUnmasked(unmasked.commitment().clone()),
                DealerInput::Reshare(&unmasked_share),
            ),
            (
                Operation::UnmaskedTimesMasked(
                    unmasked.commitment().clone(),
                    masked.commitment().clone(),
                ),
                DealerInput::Product(&unmasked_share, &masked_share),
            ),
        ];
        operations
            .into_iter()
            .map(|(operation, input)| {
                let params = subnet.params(nodes, operation).unwrap();
                let dealing = Dealing::create(&params, 1, input, rng).unwrap();
                (params, dealing)
            })
            .collect()
    }

    /// A `Random` dealing (2 points, 4 receivers, no proof) and its encoding.
    fn random_dealing(rng: &mut StdRng) -> (Dealing<Secp256k1>, Vec<u8>) {
        let subnet = Subnet::new("encoding", 4, 2, rng);
        let params = subnet.params(4, Operation::Random).unwrap();
        let dealing = Dealing::create(&params, 0, DealerInput::Fresh, rng).unwrap();
        let bytes = dealing.to_bytes();
        (dealing, bytes)
    }

    type Decode<T> = fn(&[u8]) -> Result<T, TecdsaError>;

    /// Whether `decode` rejects `bytes` as malformed.
    fn rejects<T>(decode: Decode<T>, bytes: &[u8]) -> bool {
        matches!(decode(bytes), Err(TecdsaError::Malformed(_)))
    }

    /// Whether `decode` rejects every proper prefix of `bytes`.
    fn rejects_truncations<T>(decode: Decode<T>, bytes: &[u8]) -> bool {
        (0..bytes.len()).all(|len| rejects(decode, &bytes[..len]))
    }

    #[test]
    fn dealings_of_every_operation_round_trip_and_still_verify() {
        let mut rng = StdRng::seed_from_u64(1);
        let subnet = Subnet::new("encoding", 4, 2, &mut rng);
        for (params, dealing) in dealings_of_every_kind(&subnet, &mut rng) {
            let bytes = dealing.to_bytes();
            let decoded = Dealing::from_bytes(&bytes).unwrap();
            assert_eq!(decoded, dealing, "{:?}", params.operation());
            assert_eq!(decoded.to_bytes(), bytes);
            decoded.verify(&params).unwrap();
        }
    }

    #[test]
    fn decoded_dealings_assumed_verified_form_a_transcript() {
        let mut rng = StdRng::seed_from_u64(2);
        let subnet = Subnet::new("encoding", 4, 2, &mut rng);
        let params = subnet.params(4, Operation::Random).unwrap();
        let dealings = (0..4)
            .map(|dealer| {
                let dealing = Dealing::create(&params, dealer, DealerInput::Fresh, &mut rng);
                let decoded = Dealing::from_bytes(&dealing.unwrap().to_bytes()).unwrap();
                VerifiedDealing::assume_verified(decoded)
            })
            .collect();
        let transcript = Transcript::create(&params, dealings).unwrap();
        for index in 0..4 {
            subnet.share(&transcript, index).unwrap();
        }
    }

    #[test]
    fn signature_shares_and_signatures_round_trip() {
        let mut rng = StdRng::seed_from_u64(3);
        let subnet = Subnet::new("encoding", 4, 2, &mut rng);
        let key = subnet.generate_key(&mut rng).unwrap();
        let (presignature, node_shares) = subnet.presignature(&key, &mut rng).unwrap();
        let request = SigningRequest {
            message_hash: [5; 32],
            path: DerivationPath::for_caller(b"caller", &[]),
            randomness: [6; 32],
        };
        let decoded: Vec<SignatureShare<Secp256k1>> = node_shares
            .into_iter()
            .map(|shares| {
                let share = SignatureShare::create(shares, &presignature, &key, &request).unwrap();
                let decoded = SignatureShare::from_bytes(&share.to_bytes()).unwrap();
                assert_eq!(decoded, share);
                decoded
            })
            .collect();
        let combined = combine(&presignature, &key, &request, &decoded).unwrap();
        assert!(combined.invalid_signers.is_empty());
        let signature = combined.signature;
        assert_eq!(
            EcdsaSignature::from_bytes(&signature.to_bytes()),
            Ok(signature)
        );
        let high = EcdsaSignature::<Secp256k1> {
            s: -signature.s,
            ..signature
        };
        assert!(rejects(
            EcdsaSignature::<Secp256k1>::from_bytes,
            &high.to_bytes()
        ));
        let zero = EcdsaSignature::<Secp256k1> {
            r: k256::Scalar::ZERO,
            ..signature
        };
        assert!(rejects(
            EcdsaSignature::<Secp256k1>::from_bytes,
            &zero.to_bytes()
        ));
    }

    #[test]
    fn mega_keys_round_trip() {
        let mut rng = StdRng::seed_from_u64(4);
        let secret = MegaSecretKey::<Secp256k1>::generate(&mut rng);
        let decoded = MegaSecretKey::<Secp256k1>::from_bytes(&secret.to_bytes()).unwrap();
        assert_eq!(decoded.scalar(), secret.scalar());
        assert_eq!(decoded.public_key(), secret.public_key());
        let public = secret.public_key();
        assert_eq!(MegaPublicKey::from_bytes(&public.to_bytes()), Ok(public));

        let identity = MegaPublicKey::<Secp256k1>(k256::ProjectivePoint::IDENTITY);
        assert!(rejects(
            MegaPublicKey::<Secp256k1>::from_bytes,
            &identity.to_bytes()
        ));
        let mut zero = vec![MEGA_SECRET_KEY];
        zero.extend_from_slice(&[0; SCALAR]);
        assert!(rejects(MegaSecretKey::<Secp256k1>::from_bytes, &zero));
        // The public key's bytes are not a secret key's, nor the other way.
        assert!(rejects(
            MegaSecretKey::<Secp256k1>::from_bytes,
            &public.to_bytes()
        ));
        assert!(rejects(
            MegaPublicKey::<Secp256k1>::from_bytes,
            &secret.to_bytes()
        ));
    }

    #[test]
    fn every_truncation_is_rejected() {
        let mut rng = StdRng::seed_from_u64(5);
        let subnet = Subnet::new("encoding", 4, 2, &mut rng);
        for (_, dealing) in dealings_of_every_kind(&subnet, &mut rng) {
            assert!(rejects_truncations(
                Dealing::<Secp256k1>::from_bytes,
                &dealing.to_bytes()
            ));
        }
        let share = SignatureShare::<Secp256k1> {
            signer: 3,
            nu: [k256::Scalar::ONE; 2],
            mu: [k256::Scalar::ONE; 2],
        };
        assert!(rejects_truncations(
            SignatureShare::<Secp256k1>::from_bytes,
            &share.to_bytes()
        ));
        let secret = MegaSecretKey::<Secp256k1>::generate(&mut rng);
        assert!(rejects_truncations(
            MegaSecretKey::<Secp256k1>::from_bytes,
            &secret.to_bytes()
        ));
        let public = secret.public_key().to_bytes();
        assert!(rejects_truncations(
            MegaPublicKey::<Secp256k1>::from_bytes,
            &public
        ));
        let signature = [1; 64];
        assert!(EcdsaSignature::<Secp256k1>::from_bytes(&signature).is_ok());
        assert!(rejects_truncations(
            EcdsaSignature::<Secp256k1>::from_bytes,
            &signature
        ));
    }

    #[test]
    fn complaints_and_openings_round_trip_and_still_prove() {
        let mut rng = StdRng::seed_from_u64(17);
        let subnet = LocalSubnet::<Secp256k1>::new("complaint", 4, 2, &mut rng);
        let params = subnet.params(4, Operation::Random).unwrap();
        let mut dealings: Vec<_> = (0..4)
            .map(|dealer| Dealing::create(&params, dealer, DealerInput::Fresh, &mut rng).unwrap())
            .collect();
        dealings[3].ciphertexts.shares[1][0] += <Secp256k1 as IdkgCurve>::Scalar::ONE;
        let verified = dealings
            .into_iter()
            .map(|dealing| VerifiedDealing::verify(dealing, &params).unwrap())
            .collect();
        let transcript = Transcript::create(&params, verified).unwrap();
        let complaint = subnet.complain(&transcript, 1, &mut rng).unwrap().remove(0);
        let bytes = complaint.to_bytes();
        let decoded = Complaint::<Secp256k1>::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, complaint);
        assert_eq!(transcript.verify_complaint(&decoded), Ok(()));
        assert!(rejects_truncations(
            Complaint::<Secp256k1>::from_bytes,
            &bytes
        ));
        let opening = subnet.open_for(&transcript, &complaint, 0).unwrap();
        let bytes = opening.to_bytes();
        let decoded = Opening::<Secp256k1>::from_bytes(&bytes).unwrap();
        assert_eq!(decoded.to_bytes(), bytes);
        assert!(transcript.verify_opening(&decoded));
        assert!(rejects_truncations(
            Opening::<Secp256k1>::from_bytes,
            &bytes
        ));
        let mut bad_flag = bytes.clone();
        bad_flag[1 + 4 + 4 + 32] = 2;
        assert!(rejects(Opening::<Secp256k1>::from_bytes, &bad_flag));
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut rng = StdRng::seed_from_u64(6);
        let (_, mut bytes) = random_dealing(&mut rng);
        bytes.push(0);
        assert_eq!(
            Dealing::<Secp256k1>::from_bytes(&bytes),
            Err(TecdsaError::Malformed("trailing bytes"))
        );
        let mut public = MegaSecretKey::<Secp256k1>::generate(&mut rng)
            .public_key()
            .to_bytes();
        public.push(0);
        assert!(rejects(MegaPublicKey::<Secp256k1>::from_bytes, &public));
    }

    #[test]
    fn bad_tags_are_rejected() {
        let mut rng = StdRng::seed_from_u64(7);
        let (_, bytes) = random_dealing(&mut rng);
        // The type tag, the masking and the proof kind (the last byte).
        for (position, reason) in [
            (0, "wrong type tag"),
            (5, "unknown masking"),
            (bytes.len() - 1, "unknown proof kind"),
        ] {
            let mut corrupt = bytes.clone();
            corrupt[position] ^= 0x80;
            assert_eq!(
                Dealing::<Secp256k1>::from_bytes(&corrupt),
                Err(TecdsaError::Malformed(reason))
            );
        }
        // A dealing relabelled as another type is still rejected.
        let mut relabelled = bytes.clone();
        relabelled[0] = SIGNATURE_SHARE;
        assert!(rejects(
            SignatureShare::<Secp256k1>::from_bytes,
            &relabelled
        ));
    }

    #[test]
    fn corrupted_bytes_are_rejected_or_decode_canonically() {
        let mut rng = StdRng::seed_from_u64(10);
        let (dealing, bytes) = random_dealing(&mut rng);
        for position in 0..bytes.len() {
            let mut corrupt = bytes.clone();
            corrupt[position] ^= 0x5a;
            match Dealing::<Secp256k1>::from_bytes(&corrupt) {
                // A changed share or dealer index is still a dealing (that
                // fails verification); it must re-encode to the same bytes.
                Ok(decoded) => {
                    assert_ne!(decoded, dealing);
                    assert_eq!(decoded.to_bytes(), corrupt);
                }
                Err(error) => assert!(matches!(error, TecdsaError::Malformed(_))),
            }
        }
    }

    #[test]
    fn huge_counts_are_rejected_without_allocating() {
        let mut rng = StdRng::seed_from_u64(8);
        let (_, bytes) = random_dealing(&mut rng);
        // Tag, dealer and masking; then the points; then the ephemeral key
        // and its proof; then the receivers, each with its slot count.
        let points = 6;
        let receivers = points + 4 + 2 * POINT + POINT + POINT + SCALAR;
        let first_slots = receivers + 4;
        for offset in [points, receivers, first_slots] {
            let mut corrupt = bytes.clone();
            corrupt[offset..offset + 4].copy_from_slice(&u32::MAX.to_be_bytes());
            assert_eq!(
                Dealing::<Secp256k1>::from_bytes(&corrupt),
                Err(TecdsaError::Malformed("count larger than the input"))
            );
        }
    }

    #[test]
    fn invalid_points_and_scalars_are_rejected() {
        let mut rng = StdRng::seed_from_u64(9);
        let (dealing, bytes) = random_dealing(&mut rng);
        let ephemeral = 6 + 4 + 2 * POINT;
        let response = ephemeral + 2 * POINT;
        let mut not_a_point = bytes.clone();
        // x = 2²⁵⁶ − 1 is above the field modulus.
        not_a_point[ephemeral..ephemeral + POINT].copy_from_slice(&[0xff; POINT]);
        not_a_point[ephemeral] = 2;
        assert_eq!(
            Dealing::<Secp256k1>::from_bytes(&not_a_point),
            Err(TecdsaError::Malformed("invalid point"))
        );
        // The identity's only encoding is all zeros.
        let mut not_identity = bytes.clone();
        not_identity[ephemeral..ephemeral + POINT].copy_from_slice(&[0; POINT]);
        not_identity[ephemeral + POINT - 1] = 1;
        assert!(rejects(Dealing::<Secp256k1>::from_bytes, &not_identity));
        let mut identity = dealing.clone();
        identity.commitment.points[1] = k256::ProjectivePoint::IDENTITY;
        assert_eq!(
            Dealing::from_bytes(&identity.to_bytes()).as_ref(),
            Ok(&identity)
        );
        // 2²⁵⁶ − 1 is above the group order.
        let mut not_a_scalar = bytes.clone();
        not_a_scalar[response..response + SCALAR].copy_from_slice(&[0xff; SCALAR]);
        assert_eq!(
            Dealing::<Secp256k1>::from_bytes(&not_a_scalar),
            Err(TecdsaError::Malformed("non-canonical scalar"))
        );
    }
}
