//! Fiat–Shamir transcripts: every proof challenge is a hash of everything
//! the verifier has seen so far.
//!
//! A transcript is SHA-256 over length-prefixed `(label, value)` pairs that
//! starts from a domain separator naming the proof, so no two proofs (or two
//! fields of one proof) can be confused. Drawing a challenge absorbs it back
//! into the transcript, so later challenges depend on earlier ones.

use blstrs::{G1Affine, G2Affine, Scalar};
use sha2::{Digest, Sha256};

/// A running Fiat–Shamir transcript.
#[derive(Clone)]
pub(crate) struct FiatShamir {
    hasher: Sha256,
}

impl FiatShamir {
    /// A transcript for the proof named by `domain`.
    pub(crate) fn new(domain: &'static str) -> Self {
        let mut transcript = FiatShamir {
            hasher: Sha256::new(),
        };
        transcript.append(b"domain", domain.as_bytes());
        transcript
    }

    /// Absorbs one labelled value.
    pub(crate) fn append(&mut self, label: &'static [u8], value: &[u8]) {
        self.hasher.update((label.len() as u64).to_be_bytes());
        self.hasher.update(label);
        self.hasher.update((value.len() as u64).to_be_bytes());
        self.hasher.update(value);
    }

    /// Absorbs an integer.
    pub(crate) fn append_u64(&mut self, label: &'static [u8], value: u64) {
        self.append(label, &value.to_be_bytes());
    }

    /// Absorbs a list of G1 points (its length first).
    pub(crate) fn append_g1(&mut self, label: &'static [u8], points: &[G1Affine]) {
        self.append_u64(label, points.len() as u64);
        for point in points {
            self.hasher.update(point.to_compressed());
        }
    }

    /// Absorbs a list of G2 points (its length first).
    pub(crate) fn append_g2(&mut self, label: &'static [u8], points: &[G2Affine]) {
        self.append_u64(label, points.len() as u64);
        for point in points {
            self.hasher.update(point.to_compressed());
        }
    }

    /// A 32-byte digest of everything absorbed so far (the transcript goes on).
    pub(crate) fn digest(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// Draws a uniformly distributed scalar challenge and absorbs it.
    pub(crate) fn challenge_scalar(&mut self, label: &'static [u8]) -> Scalar {
        let wide = self.challenge_bytes(label, 64);
        let two_to_64 = Scalar::from(u64::MAX) + Scalar::from(1);
        // 512 uniform bits reduced mod r: statistical distance below 2⁻²⁵⁰.
        let challenge = wide.chunks_exact(8).fold(Scalar::from(0), |acc, limb| {
            let limb = u64::from_be_bytes(limb.try_into().expect("8-byte limb"));
            acc * two_to_64 + Scalar::from(limb)
        });
        self.append(b"challenge", &challenge.to_bytes_be());
        challenge
    }

    /// Draws `len` uniformly distributed challenge bytes (SHA-256 in counter
    /// mode over the current state) and absorbs their digest.
    pub(crate) fn challenge_bytes(&mut self, label: &'static [u8], len: usize) -> Vec<u8> {
        let mut seed = self.hasher.clone();
        seed.update(b"challenge:");
        seed.update(label);
        let mut output = Vec::with_capacity(len.next_multiple_of(32));
        for counter in 0u64.. {
            if output.len() >= len {
                break;
            }
            let mut block = seed.clone();
            block.update(counter.to_be_bytes());
            output.extend_from_slice(&block.finalize());
        }
        output.truncate(len);
        self.append(label, &Sha256::digest(&output));
        output
    }
}
