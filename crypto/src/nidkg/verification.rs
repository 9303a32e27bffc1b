//! Public verification of dealings, one at a time or in batches.
//!
//! Anyone holding the config can check a dealing: its shape (a commitment
//! of exactly t coefficients, a ciphertext row per receiver), for a
//! resharing that its constant term is the dealer's previous public key
//! share, and both proofs. The proofs' equations of a whole batch are
//! folded into one G1 and one G2 MSM (`checks`); when that fails, the
//! invalid dealings are found by bisection, as the signature batch verifier
//! does, and each is named with the proof it breaks.

use std::collections::HashSet;

use rayon::prelude::*;

use super::checks::{all_hold, Checks};
use super::config::DkgConfig;
use super::dealing::{statement, Dealing};
use super::{chunking_proof, sharing_proof, DealingFault, DkgError};
use crate::backend::Backend;
use crate::batch::faults::{find_invalid, BatchCheck};

/// A dealing that passed verification for a config, by a named dealer.
/// Only verification makes these, so a transcript is only ever built from
/// verified dealings.
#[derive(Clone, Debug)]
pub struct VerifiedDealing {
    pub(crate) dealer: u32,
    pub(crate) dealing: Dealing,
    pub(crate) config_digest: [u8; 32],
}

impl VerifiedDealing {
    /// The dealer's index.
    pub fn dealer(&self) -> u32 {
        self.dealer
    }

    /// The dealing.
    pub fn dealing(&self) -> &Dealing {
        &self.dealing
    }
}

/// A dealing's checks: all of them, and the chunking proof's alone so a
/// failure can be named.
struct DealingChecks {
    all: Checks,
    chunking: Checks,
}

/// Verifies one dealing by `dealer`.
///
/// # Errors
/// [`DkgError::InvalidDealing`] naming the dealer and the fault.
pub fn verify_dealing(
    config: &DkgConfig,
    dealer: u32,
    dealing: Dealing,
) -> Result<VerifiedDealing, DkgError> {
    verify_dealings(config, vec![(dealer, dealing)])
        .pop()
        .expect("one verdict per dealing")
}

/// Verifies a batch of `(dealer, dealing)` pairs with one pair of MSMs,
/// returning one verdict per pair, in order.
pub fn verify_dealings(
    config: &DkgConfig,
    dealings: Vec<(u32, Dealing)>,
) -> Vec<Result<VerifiedDealing, DkgError>> {
    verify(config, dealings, None)
}

/// [`verify_dealings`] with the MSMs on `backend`'s kernels (the GPU's
/// above its crossover size).
pub fn verify_dealings_on(
    backend: &dyn Backend,
    config: &DkgConfig,
    dealings: Vec<(u32, Dealing)>,
) -> Vec<Result<VerifiedDealing, DkgError>> {
    verify(config, dealings, Some(backend))
}

fn verify(
    config: &DkgConfig,
    dealings: Vec<(u32, Dealing)>,
    backend: Option<&dyn Backend>,
) -> Vec<Result<VerifiedDealing, DkgError>> {
    let prepared: Vec<Result<DealingChecks, DealingFault>> = dealings
        .par_iter()
        .map(|(dealer, dealing)| prepare(config, *dealer, dealing))
        .collect();
    let candidates: Vec<usize> = (0..dealings.len())
        .filter(|&i| prepared[i].is_ok())
        .collect();
    let checker = Batch {
        config,
        backend,
        dealings: &dealings,
        prepared: &prepared,
        candidates: &candidates,
    };
    let sources: Vec<u64> = candidates
        .iter()
        .map(|&i| u64::from(dealings[i].0))
        .collect();
    let verdicts = find_invalid(&sources, &HashSet::new(), &checker);
    let mut faults: Vec<Option<DealingFault>> =
        prepared.iter().map(|p| p.as_ref().err().copied()).collect();
    for (&i, valid) in candidates.iter().zip(verdicts) {
        if !valid {
            faults[i] = Some(checker.name_fault(i));
        }
    }
    dealings
        .into_iter()
        .zip(faults)
        .map(|((dealer, dealing), fault)| match fault {
            None => Ok(VerifiedDealing {
                dealer,
                dealing,
                config_digest: config.digest,
            }),
            Some(fault) => Err(DkgError::InvalidDealing { dealer, fault }),
        })
        .collect()
}

/// Shape checks and the proofs' weighted equations for one dealing.
fn prepare(
    config: &DkgConfig,
    dealer: u32,
    dealing: &Dealing,
) -> Result<DealingChecks, DealingFault> {
    let n = config.receivers.len();
    let t = config.threshold;
    if dealing.commitment.len() != t {
        return Err(DealingFault::CommitmentDegree {
            expected: t,
            actual: dealing.commitment.len(),
        });
    }
    if dealing.ciphertexts.chunks.len() != n {
        return Err(DealingFault::ProofShape);
    }
    if let Some(resharing) = &config.resharing {
        if dealer == 0 || dealer as usize > resharing.previous_receivers {
            return Err(DealingFault::UnknownDealer);
        }
        let expected = resharing
            .previous
            .public_key_share(dealer)
            .map_err(|_| DealingFault::UnknownDealer)?;
        if dealing.commitment[0] != *expected.as_point() {
            return Err(DealingFault::ResharedKeyMismatch);
        }
    }
    let statement = statement(config, dealer, &dealing.commitment, &dealing.ciphertexts);
    let mut rng = rand::thread_rng();
    let chunking = chunking_proof::checks(&statement, n, t, &dealing.chunking_proof, &mut rng)?;
    let mut all = sharing_proof::checks(&statement, n, t, &dealing.sharing_proof, &mut rng);
    all.absorb(chunking.clone());
    Ok(DealingChecks { all, chunking })
}

/// The batch check over the dealings that passed [`prepare`].
struct Batch<'a> {
    config: &'a DkgConfig,
    backend: Option<&'a dyn Backend>,
    dealings: &'a [(u32, Dealing)],
    prepared: &'a [Result<DealingChecks, DealingFault>],
    candidates: &'a [usize],
}

impl Batch<'_> {
    fn checks(&self, i: usize) -> &DealingChecks {
        self.prepared[i]
            .as_ref()
            .expect("candidates passed preparation")
    }

    /// Which proof of dealing `i` (known invalid) fails.
    fn name_fault(&self, i: usize) -> DealingFault {
        let dealing = &self.dealings[i].1;
        let receivers = &self.config.receivers;
        if !all_hold(
            receivers,
            &[(dealing, &self.checks(i).chunking)],
            self.backend,
        ) {
            DealingFault::ChunkingProof
        } else {
            DealingFault::SharingProof
        }
    }
}

impl BatchCheck for Batch<'_> {
    type Failure = ();

    fn check(&self, subset: &[usize]) -> Result<(), ()> {
        let parts: Vec<_> = subset
            .iter()
            .map(|&position| {
                let i = self.candidates[position];
                (&self.dealings[i].1, &self.checks(i).all)
            })
            .collect();
        if all_hold(&self.config.receivers, &parts, self.backend) {
            Ok(())
        } else {
            Err(())
        }
    }

    fn locate_single(&self, _subset: &[usize], _failure: ()) -> Option<usize> {
        None
    }
}
