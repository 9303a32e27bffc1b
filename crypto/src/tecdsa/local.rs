//! Every node of a subnet in one process: runs transcripts, key
//! generation, resharing, presignatures and signing end to end. For tests,
//! benchmarks and examples — a real node holds one decryption key and
//! exchanges dealings and shares through consensus.

use rand_core::{CryptoRng, RngCore};

use super::commitment::Share;
use super::curve::IdkgCurve;
use super::dealing::{DealerInput, Dealing, Operation, TranscriptParams};
use super::mega::{MegaPublicKey, MegaSecretKey};
use super::signing::{
    combine, Combined, Presignature, PresignatureShares, SignatureShare, SigningRequest,
};
use super::transcript::{Transcript, VerifiedDealing};
use super::TecdsaError;

/// The nodes of one subnet: their decryption keys and the threshold.
pub struct LocalSubnet<C: IdkgCurve> {
    keys: Vec<MegaSecretKey<C>>,
    receivers: Vec<MegaPublicKey<C>>,
    threshold: usize,
    name: &'static str,
    transcripts: u64,
}

impl<C: IdkgCurve> LocalSubnet<C> {
    /// `nodes` nodes with fresh keys; `threshold` shares sign.
    pub fn new(
        name: &'static str,
        nodes: usize,
        threshold: usize,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        let keys: Vec<MegaSecretKey<C>> =
            (0..nodes).map(|_| MegaSecretKey::generate(rng)).collect();
        let receivers = keys.iter().map(MegaSecretKey::public_key).collect();
        LocalSubnet {
            keys,
            receivers,
            threshold,
            name,
            transcripts: 0,
        }
    }

    /// The number of nodes.
    pub fn nodes(&self) -> usize {
        self.keys.len()
    }

    /// The signing threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Parameters with a fresh transcript id.
    ///
    /// # Errors
    /// [`TecdsaError::InvalidParams`].
    pub fn params(
        &mut self,
        dealers: usize,
        operation: Operation<C>,
    ) -> Result<TranscriptParams<C>, TecdsaError> {
        self.transcripts += 1;
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&self.transcripts.to_be_bytes());
        let name = self.name.as_bytes();
        id[8..8 + name.len().min(24)].copy_from_slice(&name[..name.len().min(24)]);
        TranscriptParams::new(
            id,
            dealers,
            self.receivers.clone(),
            self.threshold,
            operation,
        )
    }

    /// Node `index`'s share of `transcript`.
    ///
    /// # Errors
    /// Those of [`Transcript::open_share`].
    pub fn share(&self, transcript: &Transcript<C>, index: u32) -> Result<Share<C>, TecdsaError> {
        transcript.open_share(index, &self.keys[index as usize])
    }

    /// Every dealer deals with its input, every dealing is verified, and
    /// the transcript is formed.
    ///
    /// # Errors
    /// Any dealing, verification or transcript error.
    pub fn run<'a>(
        params: &TranscriptParams<C>,
        inputs: impl IntoIterator<Item = (u32, DealerInput<'a, C>)>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let dealings = inputs
            .into_iter()
            .map(|(dealer, input)| {
                VerifiedDealing::verify(Dealing::create(params, dealer, input, rng)?, params)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Transcript::create(params, dealings)
    }

    /// A transcript of a fresh secret dealt by every node.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn random(
        &mut self,
        unmasked: bool,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let operation = if unmasked {
            Operation::RandomUnmasked
        } else {
            Operation::Random
        };
        let params = self.params(self.nodes(), operation)?;
        Self::run(
            &params,
            (0..self.nodes() as u32).map(|dealer| (dealer, DealerInput::Fresh)),
            rng,
        )
    }

    /// A new master key: `Random`, then `ReshareOfMasked`.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn generate_key(
        &mut self,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let masked = self.random(false, rng)?;
        let params = self.params(
            self.nodes(),
            Operation::ReshareOfMasked(masked.commitment().clone()),
        )?;
        let shares = self.all_shares(&masked)?;
        Self::run(
            &params,
            shares
                .iter()
                .map(|share| (share.index, DealerInput::Reshare(share))),
            rng,
        )
    }

    /// This subnet's `key` reshared to `target`'s nodes and threshold (the
    /// public key is unchanged); `target` then holds the new key transcript.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn reshare_key(
        &self,
        key: &Transcript<C>,
        target: &mut LocalSubnet<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let params = target.params(
            self.nodes(),
            Operation::ReshareOfUnmasked(key.commitment().clone()),
        )?;
        let shares = self.all_shares(key)?;
        Self::run(
            &params,
            shares
                .iter()
                .map(|share| (share.index, DealerInput::Reshare(share))),
            rng,
        )
    }

    /// A presignature for `key` and every node's shares of it.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn presignature(
        &mut self,
        key: &Transcript<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Presignature<C>, Vec<PresignatureShares<C>>), TecdsaError> {
        let kappa = self.random(true, rng)?;
        let lambda = self.random(false, rng)?;
        let kappa_times_lambda = self.product(&kappa, &lambda, rng)?;
        let key_times_lambda = self.product(key, &lambda, rng)?;
        let presignature =
            Presignature::new(key, kappa, lambda, kappa_times_lambda, key_times_lambda)?;
        let shares = (0..self.nodes() as u32)
            .map(|index| PresignatureShares::open(&presignature, index, &self.keys[index as usize]))
            .collect::<Result<_, _>>()?;
        Ok((presignature, shares))
    }

    fn product(
        &mut self,
        unmasked: &Transcript<C>,
        masked: &Transcript<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let operation = Operation::UnmaskedTimesMasked(
            unmasked.commitment().clone(),
            masked.commitment().clone(),
        );
        let params = self.params(self.nodes(), operation)?;
        let a = self.all_shares(unmasked)?;
        let b = self.all_shares(masked)?;
        Self::run(
            &params,
            a.iter()
                .zip(&b)
                .map(|(a, b)| (a.index, DealerInput::Product(a, b))),
            rng,
        )
    }

    fn all_shares(&self, transcript: &Transcript<C>) -> Result<Vec<Share<C>>, TecdsaError> {
        (0..self.nodes() as u32)
            .map(|index| self.share(transcript, index))
            .collect()
    }

    /// Every node signs `request` with its presignature shares, and the
    /// shares are combined.
    ///
    /// # Errors
    /// Those of [`SignatureShare::create`] and [`combine`].
    pub fn sign(
        presignature: &Presignature<C>,
        shares: Vec<PresignatureShares<C>>,
        key: &Transcript<C>,
        request: &SigningRequest,
    ) -> Result<Combined<C>, TecdsaError> {
        let signature_shares = shares
            .into_iter()
            .map(|shares| SignatureShare::create(shares, presignature, key, request))
            .collect::<Result<Vec<_>, _>>()?;
        combine(presignature, key, request, &signature_shares)
    }
}
