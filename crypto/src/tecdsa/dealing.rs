//! Transcript parameters and dealings: what a dealer sends, how anyone
//! checks it (the paper's dealing protocol).
//!
//! A transcript is made by one of the paper's five operations:
//!
//! | operation | dealer's secret | commitment | proof |
//! |---|---|---|---|
//! | `Random` | fresh random | masked | — |
//! | `RandomUnmasked` | fresh random | unmasked | — |
//! | `ReshareOfMasked` | its share of a masked transcript | unmasked, `S₀ = s·G` | `C_j − S₀ = r·H` (dlog base `H`) |
//! | `ReshareOfUnmasked` | its share of an unmasked transcript | unmasked, `S₀ = A_j` | — (checked directly) |
//! | `UnmaskedTimesMasked` | product of its shares `a·b` | masked | product proof |
//!
//! where `C_j`, `A_j` are the source commitments evaluated at the dealer.
//! Dealers of the last three are the receivers of the source transcripts,
//! so a dealing is tied to the dealer's share publicly; the combined
//! transcript interpolates over dealers.

use ff::Field;
use rand_core::{CryptoRng, RngCore};

use super::check::{random_weight, LinearCheck};
use super::commitment::{x_of, Commitment, Masking, Share};
use super::curve::IdkgCurve;
use super::mega::{Ciphertexts, EphemeralKey, MegaPublicKey};
use super::oracle::Oracle;
use super::proofs::{Base, DlogProof, ProductProof, ProductStatement};
use super::TecdsaError;
use crate::polynomial::Polynomial;

/// How a transcript's secret comes about (the sources' commitments are
/// public parts of earlier transcripts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation<C: IdkgCurve> {
    /// A fresh random secret, masked.
    Random,
    /// A fresh random secret, unmasked (its `·G` becomes public).
    RandomUnmasked,
    /// The secret of a masked transcript, now unmasked.
    ReshareOfMasked(Commitment<C>),
    /// The secret of an unmasked transcript, to new receivers or a new threshold.
    ReshareOfUnmasked(Commitment<C>),
    /// The product of an unmasked and a masked secret, masked.
    UnmaskedTimesMasked(Commitment<C>, Commitment<C>),
}

impl<C: IdkgCurve> Operation<C> {
    fn name(&self) -> &'static str {
        match self {
            Operation::Random => "Random",
            Operation::RandomUnmasked => "RandomUnmasked",
            Operation::ReshareOfMasked(_) => "ReshareOfMasked",
            Operation::ReshareOfUnmasked(_) => "ReshareOfUnmasked",
            Operation::UnmaskedTimesMasked(..) => "UnmaskedTimesMasked",
        }
    }

    /// The masking of the resulting transcript.
    pub fn masking(&self) -> Masking {
        match self {
            Operation::Random | Operation::UnmaskedTimesMasked(..) => Masking::Masked,
            _ => Masking::Unmasked,
        }
    }

    fn sources(&self) -> Vec<&Commitment<C>> {
        match self {
            Operation::Random | Operation::RandomUnmasked => Vec::new(),
            Operation::ReshareOfMasked(source) | Operation::ReshareOfUnmasked(source) => {
                vec![source]
            }
            Operation::UnmaskedTimesMasked(a, b) => vec![a, b],
        }
    }
}

/// Everything every node must agree on before dealing (agreed through consensus).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptParams<C: IdkgCurve> {
    pub(super) id: [u8; 32],
    pub(super) dealers: usize,
    pub(super) receivers: Vec<MegaPublicKey<C>>,
    pub(super) threshold: usize,
    pub(super) operation: Operation<C>,
    /// Hash of all of the above: the start of every dealing's oracle.
    digest: [u8; 64],
}

impl<C: IdkgCurve> TranscriptParams<C> {
    /// Checked parameters.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidParams`] for an impossible threshold, dealer
    /// count, or mismatched sources.
    pub fn new(
        id: [u8; 32],
        dealers: usize,
        receivers: Vec<MegaPublicKey<C>>,
        threshold: usize,
        operation: Operation<C>,
    ) -> Result<Self, TecdsaError> {
        let invalid = |why: &str| Err(TecdsaError::InvalidParams(why.to_string()));
        if threshold == 0 || threshold > receivers.len() {
            return invalid("the threshold must be between 1 and the number of receivers");
        }
        let mut params = TranscriptParams {
            id,
            dealers,
            receivers,
            threshold,
            operation,
            digest: [0; 64],
        };
        params.digest = params.hash();
        let sources_fit = match &params.operation {
            Operation::Random | Operation::RandomUnmasked => true,
            Operation::ReshareOfMasked(source) => source.masking == Masking::Masked,
            Operation::ReshareOfUnmasked(source) => source.masking == Masking::Unmasked,
            Operation::UnmaskedTimesMasked(a, b) => {
                a.masking == Masking::Unmasked && b.masking == Masking::Masked
            }
        };
        if !sources_fit {
            return invalid("source transcripts of the wrong masking");
        }
        if params.min_dealings() > dealers {
            return invalid("fewer dealers than the transcript needs dealings");
        }
        Ok(params)
    }

    /// Verified dealings a transcript needs: the threshold for fresh
    /// secrets (so one honest dealer is included when threshold = f + 1),
    /// the source's threshold for a reshare, `t_a + t_b − 1` for a product
    /// (the dealers' products lie on a polynomial of that many coefficients).
    pub fn min_dealings(&self) -> usize {
        match &self.operation {
            Operation::Random | Operation::RandomUnmasked => self.threshold,
            Operation::ReshareOfMasked(source) | Operation::ReshareOfUnmasked(source) => {
                source.threshold()
            }
            Operation::UnmaskedTimesMasked(a, b) => a.threshold() + b.threshold() - 1,
        }
    }

    /// Whether dealers interpolate (reshares, products) rather than add.
    pub(crate) fn interpolates(&self) -> bool {
        !matches!(
            self.operation,
            Operation::Random | Operation::RandomUnmasked
        )
    }

    /// A hash of all the parameters (sources included): two transcripts
    /// with the same id but other sources have different digests.
    pub fn digest(&self) -> [u8; 64] {
        self.digest
    }

    /// Unique per transcript: binds every dealing and proof to it.
    pub fn id(&self) -> [u8; 32] {
        self.id
    }

    /// Number of dealers (for resharing and products: the source's receivers).
    pub fn dealers(&self) -> usize {
        self.dealers
    }

    /// The receivers' encryption keys; receiver `i` gets the share at `x = i + 1`.
    pub fn receivers(&self) -> &[MegaPublicKey<C>] {
        &self.receivers
    }

    /// Shares needed to reconstruct the new secret (polynomial degree + 1).
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// How the secret comes about.
    pub fn operation(&self) -> &Operation<C> {
        &self.operation
    }

    /// The oracle state every dealing of this transcript starts from.
    pub(crate) fn context(&self) -> Oracle {
        let mut oracle = Oracle::new::<C>("chainkey tECDSA transcript v1");
        oracle.bytes(b"parameters", &self.digest);
        oracle
    }

    fn hash(&self) -> [u8; 64] {
        let mut oracle = Oracle::new::<C>("chainkey tECDSA transcript parameters v1");
        oracle
            .bytes(b"id", &self.id)
            .bytes(b"operation", self.operation.name().as_bytes());
        oracle
            .u64(b"dealers", self.dealers as u64)
            .u64(b"threshold", self.threshold as u64);
        let receivers = self.receivers.iter().map(|key| (&b"receiver"[..], &key.0));
        let sources = self
            .operation
            .sources()
            .into_iter()
            .flat_map(|source| source.points.iter().map(|point| (&b"source"[..], point)));
        oracle.points::<C>(&receivers.chain(sources).collect::<Vec<_>>());
        oracle.digest()
    }

    pub(crate) fn dealer_context(&self, dealer: u32) -> Oracle {
        let mut oracle = self.context();
        oracle.u64(b"dealer", u64::from(dealer));
        oracle
    }
}

/// The proof a dealing carries, by operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DealingProof<C: IdkgCurve> {
    /// `Random`, `RandomUnmasked`, `ReshareOfUnmasked`: nothing to prove.
    None,
    /// `ReshareOfMasked`: `C_j − S₀ = r·H`.
    ReshareOfMasked(DlogProof<C>),
    /// `UnmaskedTimesMasked`.
    Product(ProductProof<C>),
}

/// One dealer's contribution to a transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dealing<C: IdkgCurve> {
    /// The dealer's index (for reshares and products, its receiver index in the sources).
    pub dealer: u32,
    /// Commitment to the dealer's polynomial.
    pub commitment: Commitment<C>,
    /// The receivers' encrypted shares.
    pub ciphertexts: Ciphertexts<C>,
    /// Proof tying the constant term to the dealer's source shares.
    pub proof: DealingProof<C>,
}

/// The dealer's secret inputs for an operation.
pub enum DealerInput<'a, C: IdkgCurve> {
    /// `Random` and `RandomUnmasked`.
    Fresh,
    /// Reshares: the dealer's share of the source.
    Reshare(&'a Share<C>),
    /// Products: the dealer's shares of the unmasked and the masked source.
    Product(&'a Share<C>, &'a Share<C>),
}

impl<C: IdkgCurve> Dealing<C> {
    /// Deals for `params` as `dealer`, with a fresh ephemeral key.
    ///
    /// # Errors
    /// As [`Dealing::create_with_ephemeral`].
    pub fn create(
        params: &TranscriptParams<C>,
        dealer: u32,
        input: DealerInput<'_, C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Self, TecdsaError> {
        let ephemeral = EphemeralKey::generate(rng);
        Self::create_with_ephemeral(params, dealer, input, &ephemeral, rng)
    }

    /// Deals for `params` as `dealer`, encrypting under `ephemeral`, which
    /// the dealer may use for all its dealings of a round (see [`EphemeralKey`]).
    ///
    /// The input shares must be the dealer's own, as [`Transcript::open_share`]
    /// returned them (a share that does not open the source makes the
    /// dealing fail verification).
    ///
    /// [`Transcript::open_share`]: super::Transcript::open_share
    ///
    /// # Errors
    /// [`TecdsaError::WrongDealerInput`] when the input does not fit the
    /// operation or carries another index.
    pub fn create_with_ephemeral(
        params: &TranscriptParams<C>,
        dealer: u32,
        input: DealerInput<'_, C>,
        ephemeral: &EphemeralKey<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Self, TecdsaError> {
        let wrong = || TecdsaError::WrongDealerInput { dealer };
        if dealer as usize >= params.dealers {
            return Err(wrong());
        }
        let (mut secret, mut mask) = match (&params.operation, &input) {
            (Operation::Random, DealerInput::Fresh) => (
                C::Scalar::random(&mut *rng),
                Some(C::Scalar::random(&mut *rng)),
            ),
            (Operation::RandomUnmasked, DealerInput::Fresh) => (C::Scalar::random(&mut *rng), None),
            (
                Operation::ReshareOfMasked(_) | Operation::ReshareOfUnmasked(_),
                DealerInput::Reshare(share),
            ) => (share.value, None),
            (Operation::UnmaskedTimesMasked(..), DealerInput::Product(a, b)) => {
                (a.value * b.value, Some(C::Scalar::random(&mut *rng)))
            }
            _ => return Err(wrong()),
        };
        let own_shares = match &input {
            DealerInput::Reshare(share) => share.index == dealer,
            DealerInput::Product(a, b) => a.index == dealer && b.index == dealer,
            DealerInput::Fresh => true,
        };
        if !own_shares {
            return Err(wrong());
        }

        let values =
            Polynomial::random_with_secret(secret, params.threshold, rng).map_err(|_| wrong())?;
        let masks = mask
            .map(|mask| Polynomial::random_with_secret(mask, params.threshold, rng))
            .transpose()
            .map_err(|_| wrong())?;
        zeroize::Zeroize::zeroize(&mut secret);
        if let Some(mask) = mask.as_mut() {
            zeroize::Zeroize::zeroize(mask);
        }
        let points = (0..params.threshold)
            .map(|k| {
                let mut point = C::mul_g(&values.coefficients()[k]);
                if let Some(masks) = &masks {
                    point += C::mul_h(&masks.coefficients()[k]);
                }
                point
            })
            .collect();
        let commitment = Commitment {
            masking: params.operation.masking(),
            points,
        };
        let shares: Vec<Share<C>> = (0..params.receivers.len() as u32)
            .map(|index| Share {
                index,
                value: values.evaluate(x_of::<C>(index)),
                mask: masks.as_ref().map(|masks| masks.evaluate(x_of::<C>(index))),
            })
            .collect();
        let context = params.dealer_context(dealer);
        let ciphertexts =
            Ciphertexts::encrypt(&context, &params.receivers, &shares, ephemeral, rng);
        let proof = match (&params.operation, &input) {
            // The source opens at the dealer, so C_j − s·G = r·H.
            (Operation::ReshareOfMasked(source), DealerInput::Reshare(share)) => {
                let difference = source.evaluate(dealer) - commitment.constant_term();
                let mask = share.mask.ok_or_else(wrong)?;
                DealingProof::ReshareOfMasked(DlogProof::prove(
                    &context,
                    Base::H,
                    &difference,
                    &mask,
                    rng,
                ))
            }
            (Operation::UnmaskedTimesMasked(a, b), DealerInput::Product(share_a, share_b)) => {
                let statement = ProductStatement {
                    a: a.evaluate(dealer),
                    b: b.evaluate(dealer),
                    product: commitment.constant_term(),
                };
                let mut w = masks
                    .as_ref()
                    .map(|m| m.coefficients()[0])
                    .unwrap_or(C::Scalar::ZERO)
                    - share_a.value * share_b.mask.ok_or_else(wrong)?;
                let proof = ProductProof::prove(&context, &statement, &share_a.value, &w, rng);
                zeroize::Zeroize::zeroize(&mut w);
                DealingProof::Product(proof)
            }
            _ => DealingProof::None,
        };
        Ok(Dealing {
            dealer,
            commitment,
            ciphertexts,
            proof,
        })
    }

    /// Checks everything public about the dealing: dealer,
    /// commitment shape, ciphertext shape, ephemeral key possession, and
    /// the tie between the constant term and the dealer's source shares.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidDealing`] naming the dealer and the failed check.
    pub fn verify(&self, params: &TranscriptParams<C>) -> Result<(), TecdsaError> {
        self.check_structure(params)?;
        let context = params.dealer_context(self.dealer);
        let mut possession = LinearCheck::new();
        self.ciphertexts
            .add_possession_to(&mut possession, &context, random_weight::<C>());
        if !possession.holds() {
            return Err(self.invalid("ciphertexts"));
        }
        let mut tie = LinearCheck::new();
        self.add_tie_to(&mut tie, params, &context);
        if !tie.holds() {
            return Err(self.invalid("proof"));
        }
        Ok(())
    }

    fn invalid(&self, check: &'static str) -> TecdsaError {
        TecdsaError::InvalidDealing {
            dealer: self.dealer,
            check,
        }
    }

    /// The checks that need no group arithmetic beyond evaluating commitments.
    fn check_structure(&self, params: &TranscriptParams<C>) -> Result<(), TecdsaError> {
        if self.dealer as usize >= params.dealers {
            return Err(self.invalid("dealer index"));
        }
        if self.commitment.masking != params.operation.masking()
            || self.commitment.threshold() != params.threshold
        {
            return Err(self.invalid("commitment shape"));
        }
        if !self
            .ciphertexts
            .has_shape(params.receivers.len(), self.commitment.masking)
        {
            return Err(self.invalid("ciphertexts"));
        }
        let tied = match (&params.operation, &self.proof) {
            (Operation::Random | Operation::RandomUnmasked, DealingProof::None) => true,
            (Operation::ReshareOfUnmasked(source), DealingProof::None) => {
                source.evaluate(self.dealer) == self.commitment.constant_term()
            }
            (Operation::ReshareOfMasked(_), DealingProof::ReshareOfMasked(_))
            | (Operation::UnmaskedTimesMasked(..), DealingProof::Product(_)) => true,
            _ => false,
        };
        if tied {
            Ok(())
        } else {
            Err(self.invalid("proof"))
        }
    }

    /// Adds the proof tying the constant term to the dealer's source shares.
    fn add_tie_to(
        &self,
        check: &mut LinearCheck<C>,
        params: &TranscriptParams<C>,
        context: &Oracle,
    ) {
        let constant = self.commitment.constant_term();
        match (&params.operation, &self.proof) {
            (Operation::ReshareOfMasked(source), DealingProof::ReshareOfMasked(proof)) => {
                let difference = source.evaluate(self.dealer) - constant;
                proof.add_to(check, context, Base::H, &difference, random_weight::<C>());
            }
            (Operation::UnmaskedTimesMasked(a, b), DealingProof::Product(proof)) => {
                let statement = ProductStatement {
                    a: a.evaluate(self.dealer),
                    b: b.evaluate(self.dealer),
                    product: constant,
                };
                proof.add_to(
                    check,
                    context,
                    &statement,
                    [random_weight::<C>(), random_weight::<C>()],
                );
            }
            _ => {}
        }
    }
}

/// Verifies many dealings of one transcript: the structural checks one by
/// one, then every proof equation of every dealing in one weighted check;
/// only if that fails are dealings checked apart, to name the invalid ones.
pub fn verify_dealings<C: IdkgCurve>(
    params: &TranscriptParams<C>,
    dealings: &[Dealing<C>],
) -> Vec<Result<(), TecdsaError>> {
    let pairs: Vec<(&TranscriptParams<C>, &Dealing<C>)> =
        dealings.iter().map(|dealing| (params, dealing)).collect();
    verify_dealings_of(&pairs)
}

/// [`verify_dealings`] for dealings of any transcripts, each with its
/// parameters: one weighted check for all (a larger multi-scalar
/// multiplication costs less per term than many small ones).
pub fn verify_dealings_of<C: IdkgCurve>(
    dealings: &[(&TranscriptParams<C>, &Dealing<C>)],
) -> Vec<Result<(), TecdsaError>> {
    let mut verdicts: Vec<Result<(), TecdsaError>> = dealings
        .iter()
        .map(|(params, dealing)| dealing.check_structure(params))
        .collect();
    let mut batch = LinearCheck::new();
    for ((params, dealing), verdict) in dealings.iter().zip(&verdicts) {
        if verdict.is_ok() {
            let context = params.dealer_context(dealing.dealer);
            dealing
                .ciphertexts
                .add_possession_to(&mut batch, &context, random_weight::<C>());
            dealing.add_tie_to(&mut batch, params, &context);
        }
    }
    if batch.holds() {
        return verdicts;
    }
    for ((params, dealing), verdict) in dealings.iter().zip(verdicts.iter_mut()) {
        if verdict.is_ok() {
            *verdict = dealing.verify(params);
        }
    }
    verdicts
}
