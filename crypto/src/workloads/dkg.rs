//! The NIDKG benchmark workload: an n-node subnet where every node deals
//! once, as at a DKG interval boundary. Used by `chainkey bench dkg` and
//! the criterion bench `dkg`.

use crate::nidkg::{
    verify_dealing, verify_dealings, Dealing, DkgConfig, DkgError, EncryptionSecretKey, Transcript,
};
use crate::threshold::SecretKeyShare;

/// n receivers, their dealings, and the transcript of all of them.
pub struct DkgWorkload {
    keys: Vec<EncryptionSecretKey>,
    config: DkgConfig,
    dealings: Vec<(u32, Dealing)>,
    transcript: Transcript,
}

impl DkgWorkload {
    /// A subnet of `nodes` nodes with the high threshold n − f (the IC's
    /// state-certification key, the costlier case) and f + 1 required dealings.
    ///
    /// # Errors
    /// Only if the DKG itself fails, which would be a bug.
    pub fn generate(nodes: usize) -> Result<Self, DkgError> {
        let mut rng = rand::thread_rng();
        let keys: Vec<_> = (0..nodes)
            .map(|_| EncryptionSecretKey::generate(&mut rng))
            .collect();
        let receivers = keys.iter().map(EncryptionSecretKey::public_key).collect();
        let f = (nodes - 1) / 3;
        let config = DkgConfig::new(b"chainkey bench dkg", receivers, nodes - f, f + 1)?;
        let dealings = (0..nodes as u32)
            .map(|dealer| Ok((dealer, Dealing::create(&config, dealer, &mut rng)?)))
            .collect::<Result<Vec<_>, DkgError>>()?;
        let verified = verify_dealings(&config, dealings.clone())
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        let transcript = Transcript::create(&config, verified)?;
        Ok(DkgWorkload {
            keys,
            config,
            dealings,
            transcript,
        })
    }

    /// Number of nodes (receivers and dealers).
    pub fn nodes(&self) -> usize {
        self.keys.len()
    }

    /// Creates one more dealing, as dealer 0.
    pub fn create_dealing(&self) -> Dealing {
        Dealing::create(&self.config, 0, &mut rand::thread_rng()).expect("honest dealing")
    }

    /// Verifies all n dealings in one batch; true if all are valid.
    pub fn verify_batched(&self) -> bool {
        verify_dealings(&self.config, self.dealings.clone())
            .iter()
            .all(Result::is_ok)
    }

    /// Verifies all n dealings one at a time; true if all are valid.
    pub fn verify_one_by_one(&self) -> bool {
        self.dealings
            .iter()
            .all(|(dealer, dealing)| verify_dealing(&self.config, *dealer, dealing.clone()).is_ok())
    }

    /// Verifies dealing 0 alone.
    pub fn verify_single(&self) -> bool {
        let (dealer, dealing) = &self.dealings[0];
        verify_dealing(&self.config, *dealer, dealing.clone()).is_ok()
    }

    /// Decodes every dealing from its wire encoding (subgroup checks included).
    pub fn decode_all(&self) -> bool {
        self.dealings
            .iter()
            .all(|(_, dealing)| Dealing::from_bytes(&dealing.to_bytes(), &self.config).is_ok())
    }

    /// Receiver 0 decrypts its share of the transcript of all n dealings.
    pub fn decrypt_share(&self) -> Result<SecretKeyShare, DkgError> {
        self.transcript.decrypt_share(0, &self.keys[0])
    }
}
