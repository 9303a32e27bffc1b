//! Every node of a subnet in one process: runs transcripts, key
//! generation, resharing, presignatures and signing end to end. For tests,
//! benchmarks and examples — a real node holds one decryption key and
//! exchanges dealings and shares through consensus.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use group::Group;
use rand_core::{CryptoRng, RngCore};

use super::commitment::Share;
use super::complaints::{Complaint, Opening};
use super::curve::IdkgCurve;
use super::dealing::{DealerInput, Dealing, Operation, TranscriptParams};
use super::mega::{EphemeralKey, MegaPublicKey, MegaSecretKey};
use super::signing::{
    combine, Combined, Presignature, PresignatureShares, SignatureShare, SigningRequest,
};
use super::transcript::{Transcript, VerifiedDealing};
use super::TecdsaError;

/// A presignature and every node's shares of it, in node order.
pub type PresignatureWithShares<C> = (Presignature<C>, Vec<PresignatureShares<C>>);

/// Every node's share of one key transcript, by transcript id.
type KeyShares<C> = ([u8; 32], Arc<Vec<Share<C>>>);

/// The nodes of one subnet: their decryption keys and the threshold.
pub struct LocalSubnet<C: IdkgCurve> {
    keys: Vec<MegaSecretKey<C>>,
    receivers: Vec<MegaPublicKey<C>>,
    threshold: usize,
    name: &'static str,
    transcripts: AtomicU64,
    key_shares: Mutex<Option<KeyShares<C>>>,
    faulty: Vec<u32>,
    rejected: Mutex<Vec<TecdsaError>>,
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
            transcripts: AtomicU64::new(0),
            key_shares: Mutex::new(None),
            faulty: Vec::new(),
            rejected: Mutex::new(Vec::new()),
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
        &self,
        dealers: usize,
        operation: Operation<C>,
    ) -> Result<TranscriptParams<C>, TecdsaError> {
        let number = self.transcripts.fetch_add(1, Ordering::Relaxed) + 1;
        let mut id = [0u8; 32];
        id[..8].copy_from_slice(&number.to_be_bytes());
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

    /// Node `index`'s complaints about `transcript`.
    ///
    /// # Errors
    /// Those of [`Transcript::complain`].
    pub fn complain(
        &self,
        transcript: &Transcript<C>,
        index: u32,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Vec<Complaint<C>>, TecdsaError> {
        transcript.complain(index, &self.keys[index as usize], rng)
    }

    /// Node `index`'s opening in answer to `complaint`.
    ///
    /// # Errors
    /// Those of [`Transcript::open_for`].
    pub fn open_for(
        &self,
        transcript: &Transcript<C>,
        complaint: &Complaint<C>,
        index: u32,
    ) -> Result<Opening<C>, TecdsaError> {
        transcript.open_for(complaint, index, &self.keys[index as usize])
    }

    /// Node `index`'s share of `transcript`, rebuilt with `openings` where needed.
    ///
    /// # Errors
    /// Those of [`Transcript::open_share_with_openings`].
    pub fn share_with_openings(
        &self,
        transcript: &Transcript<C>,
        index: u32,
        openings: &[Opening<C>],
    ) -> Result<Share<C>, TecdsaError> {
        transcript.open_share_with_openings(index, &self.keys[index as usize], openings)
    }

    /// Every dealer deals with its input (the faulty ones send a dealing
    /// whose ephemeral key is not theirs), the dealings are verified in one
    /// batch, invalid ones are dropped and recorded, and the transcript is
    /// formed from the rest.
    ///
    /// # Errors
    /// Any dealing error, or [`TecdsaError::NotEnoughDealings`].
    pub fn run<'a>(
        &self,
        params: &TranscriptParams<C>,
        inputs: impl IntoIterator<Item = (u32, DealerInput<'a, C>)>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let round = Self::round_keys(params.dealers(), rng);
        self.run_in_round(params, inputs, &round, rng)
    }

    /// One ephemeral key per dealer, for all its dealings of one round.
    fn round_keys(dealers: usize, rng: &mut (impl RngCore + CryptoRng)) -> Vec<EphemeralKey<C>> {
        (0..dealers).map(|_| EphemeralKey::generate(rng)).collect()
    }

    /// [`LocalSubnet::run`] with dealer `j` encrypting under `round[j]`.
    fn run_in_round<'a>(
        &self,
        params: &TranscriptParams<C>,
        inputs: impl IntoIterator<Item = (u32, DealerInput<'a, C>)>,
        round: &[EphemeralKey<C>],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let mut dealings = Vec::new();
        for (dealer, input) in inputs {
            let ephemeral = round
                .get(dealer as usize)
                .ok_or(TecdsaError::WrongDealerInput { dealer })?;
            let mut dealing =
                Dealing::create_with_ephemeral(params, dealer, input, ephemeral, rng)?;
            if self.faulty.contains(&dealer) {
                dealing.ciphertexts.ephemeral += C::Point::generator();
            }
            dealings.push(dealing);
        }
        let (valid, invalid) = VerifiedDealing::verify_all(dealings, params);
        self.rejected.lock().expect("rejection log").extend(invalid);
        Transcript::create(params, valid)
    }

    /// Makes `dealers` send invalid dealings from now on.
    pub fn with_faulty_dealers(mut self, dealers: &[u32]) -> Self {
        self.faulty = dealers.to_vec();
        self
    }

    /// The dealings rejected so far, each naming its dealer.
    pub fn rejected_dealings(&self) -> Vec<TecdsaError> {
        self.rejected.lock().expect("rejection log").clone()
    }

    /// A transcript of a fresh secret dealt by every node.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn random(
        &self,
        unmasked: bool,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let round = Self::round_keys(self.nodes(), rng);
        self.random_in_round(unmasked, &round, rng)
    }

    fn random_in_round(
        &self,
        unmasked: bool,
        round: &[EphemeralKey<C>],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let operation = if unmasked {
            Operation::RandomUnmasked
        } else {
            Operation::Random
        };
        let params = self.params(self.nodes(), operation)?;
        self.run_in_round(
            &params,
            (0..self.nodes() as u32).map(|dealer| (dealer, DealerInput::Fresh)),
            round,
            rng,
        )
    }

    /// A new master key: `Random`, then `ReshareOfMasked`.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn generate_key(
        &self,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let masked = self.random(false, rng)?;
        let params = self.params(
            self.nodes(),
            Operation::ReshareOfMasked(masked.commitment().clone()),
        )?;
        self.reshare(&params, &masked, rng)
    }

    /// This subnet's `key` reshared to `target`'s nodes and threshold (the
    /// public key is unchanged); `target` then holds the new key transcript.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn reshare_key(
        &self,
        key: &Transcript<C>,
        target: &LocalSubnet<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let params = target.params(
            self.nodes(),
            Operation::ReshareOfUnmasked(key.commitment().clone()),
        )?;
        self.reshare(&params, key, rng)
    }

    /// Every node of this subnet deals its share of `source` into `params`.
    fn reshare(
        &self,
        params: &TranscriptParams<C>,
        source: &Transcript<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Transcript<C>, TecdsaError> {
        let shares = self.all_shares(source)?;
        let inputs = shares
            .iter()
            .map(|share| (share.index, DealerInput::Reshare(share)));
        self.run(params, inputs, rng)
    }

    /// A presignature for `key` and every node's shares of it.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn presignature(
        &self,
        key: &Transcript<C>,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<PresignatureWithShares<C>, TecdsaError> {
        let mut batch = self.presignatures(key, 1, rng)?;
        Ok(batch.pop().expect("one presignature was made"))
    }

    /// `count` presignatures for `key` made together, as a node's pool
    /// fills: in each of the two rounds (κ and λ, then the products) every
    /// dealer encrypts all its dealings under one ephemeral key.
    ///
    /// # Errors
    /// As [`LocalSubnet::run`].
    pub fn presignatures(
        &self,
        key: &Transcript<C>,
        count: usize,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Vec<PresignatureWithShares<C>>, TecdsaError> {
        // Each node opens each transcript once, as a real node does (its key
        // share is kept from when the key was made).
        let key_shares = self.key_shares(key)?;
        let first_round = Self::round_keys(self.nodes(), rng);
        let second_round = Self::round_keys(self.nodes(), rng);
        (0..count)
            .map(|_| {
                let kappa = self.random_in_round(true, &first_round, rng)?;
                let kappa_shares = self.all_shares(&kappa)?;
                let lambda = self.random_in_round(false, &first_round, rng)?;
                let lambda_shares = self.all_shares(&lambda)?;
                let mut product = |a: &Transcript<C>, a_shares: &[Share<C>]| {
                    let operation = Operation::UnmaskedTimesMasked(
                        a.commitment().clone(),
                        lambda.commitment().clone(),
                    );
                    let params = self.params(self.nodes(), operation)?;
                    let inputs = a_shares
                        .iter()
                        .zip(&lambda_shares)
                        .map(|(a, b)| (a.index, DealerInput::Product(a, b)));
                    self.run_in_round(&params, inputs, &second_round, rng)
                };
                let kappa_times_lambda = product(&kappa, &kappa_shares)?;
                let key_times_lambda = product(key, &key_shares)?;
                let kl_shares = self.all_shares(&kappa_times_lambda)?;
                let xl_shares = self.all_shares(&key_times_lambda)?;
                let presignature =
                    Presignature::new(key, kappa, lambda, kappa_times_lambda, key_times_lambda)?;
                let shares = lambda_shares
                    .iter()
                    .zip(kl_shares)
                    .zip(xl_shares)
                    .map(|((lambda, kl), xl)| {
                        PresignatureShares::new(&presignature, lambda.clone(), kl, xl)
                    })
                    .collect::<Result<_, _>>()?;
                Ok((presignature, shares))
            })
            .collect()
    }

    fn all_shares(&self, transcript: &Transcript<C>) -> Result<Vec<Share<C>>, TecdsaError> {
        (0..self.nodes() as u32)
            .map(|index| self.share(transcript, index))
            .collect()
    }

    /// Every node's share of `key`, opened once and kept.
    fn key_shares(&self, key: &Transcript<C>) -> Result<Arc<Vec<Share<C>>>, TecdsaError> {
        let mut cache = self.key_shares.lock().expect("key share cache");
        if let Some((id, shares)) = cache.as_ref() {
            if *id == key.id() {
                return Ok(shares.clone());
            }
        }
        let shares = Arc::new(self.all_shares(key)?);
        *cache = Some((key.id(), shares.clone()));
        Ok(shares)
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
