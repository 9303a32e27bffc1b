//! Peers that keep sending invalid artifacts are cut off for a while:
//! their connections are refused, so the work they cause stops. Each
//! offence doubles the cut-off, up to [`MAX_CUT_OFF`]. Honest nodes send
//! an invalid artifact rarely (a share a membership switch made stale):
//! an offence is [`OFFENCE`] of them within one housekeeping round.
//!
//! A cut-off peer's valid artifacts are lost too, so only a subnet that
//! keeps a spare node beyond its quorum without it cuts one off (f ≥ 2,
//! seven nodes or more): at four nodes the three others are exactly the
//! quorum, and a cut-off would slow every height (measured: 54% of the
//! block rate under the flood test, against 93–105% absorbing it).

use std::collections::HashMap;
use std::time::Duration;

use chainkey_consensus::NodeId;

/// Invalid artifacts from one peer within one housekeeping round (a
/// quarter of a second) that make an offence.
pub const OFFENCE: u64 = 25;
/// The cut-off for a first offence.
pub const FIRST_CUT_OFF: Duration = Duration::from_secs(1);
/// The longest cut-off.
pub const MAX_CUT_OFF: Duration = Duration::from_secs(60);

/// Each peer's offences so far.
#[derive(Debug, Default)]
pub struct Penalties {
    offences: HashMap<NodeId, u32>,
}

impl Penalties {
    /// The cut-off `peer` earns by sending `invalid` invalid artifacts
    /// within one round, in a subnet of `nodes`: none below [`OFFENCE`],
    /// none where the subnet cannot spare a node.
    pub fn judge(&mut self, peer: NodeId, invalid: u64, nodes: usize) -> Option<Duration> {
        let faults = nodes.saturating_sub(1) / 3;
        if invalid < OFFENCE || faults < 2 {
            return None;
        }
        let offences = self.offences.entry(peer).or_default();
        let cut_off = FIRST_CUT_OFF.saturating_mul(1 << (*offences).min(16));
        *offences += 1;
        Some(cut_off.min(MAX_CUT_OFF))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_that_keeps_sending_invalid_artifacts_is_cut_off_longer_each_time() {
        let mut penalties = Penalties::default();
        assert_eq!(
            penalties.judge(1, OFFENCE - 1, 7),
            None,
            "honest mishaps pass"
        );
        let cut_offs: Vec<_> = (0..8).filter_map(|_| penalties.judge(1, 500, 7)).collect();
        let seconds: Vec<u64> = cut_offs.iter().map(Duration::as_secs).collect();
        assert_eq!(seconds, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(
            penalties.judge(2, OFFENCE, 7),
            Some(FIRST_CUT_OFF),
            "per peer"
        );
        assert_eq!(
            penalties.judge(3, 500, 4),
            None,
            "four nodes cannot spare one"
        );
    }
}
