//! Update calls a node decoded while validating blocks, kept for
//! execution: a call is decoded once, when its block is validated, not
//! again when it is executed. Bounded in bytes (beyond the bound, calls
//! are decoded again at execution, as after a restart) and by expiry.

use std::collections::HashMap;

use chainkey_consensus::types::IngressMessage;
use chainkey_consensus::Hash;

use crate::execution::IngressCall;

/// Bytes of calls kept at most (a Byzantine maker's blocks that are
/// never finalized cannot fill memory with them).
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// Decoded update calls by message id, with their expiries (Unix ms).
#[derive(Debug, Default)]
pub struct DecodedCalls {
    calls: HashMap<Hash, (u64, IngressCall)>,
    bytes: usize,
}

/// About how many bytes a call holds.
fn size(call: &IngressCall) -> usize {
    64 + call.sender.len() + call.canister_id.len() + call.method.len() + call.arg.len()
}

impl DecodedCalls {
    /// Keeps `call`, message `id`'s, until `expiry_ms` — unless that
    /// would pass [`MAX_DECODED_BYTES`].
    pub fn keep(&mut self, id: Hash, expiry_ms: u64, call: IngressCall) {
        let bytes = size(&call);
        if self.calls.contains_key(&id) || self.bytes + bytes > MAX_DECODED_BYTES {
            return;
        }
        self.bytes += bytes;
        self.calls.insert(id, (expiry_ms, call));
    }

    /// The update calls of a finalized block's `messages`, in order, as
    /// execution takes them: those kept, taken; the others decoded.
    pub fn take(&mut self, messages: &[IngressMessage]) -> Vec<IngressCall> {
        messages
            .iter()
            .filter_map(|message| match self.calls.remove(&message.id) {
                Some((_, call)) => {
                    self.bytes -= size(&call);
                    Some(call)
                }
                None => super::update_call(message),
            })
            .collect()
    }

    /// Forgets the calls expired at `now_ms`.
    pub fn prune(&mut self, now_ms: u64) {
        let mut freed = 0;
        self.calls.retain(|_, (expiry_ms, call)| {
            let keep = *expiry_ms >= now_ms;
            if !keep {
                freed += size(call);
            }
            keep
        });
        self.bytes -= freed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(arg_bytes: usize) -> IngressCall {
        IngressCall {
            request_id: [1; 32],
            sender: vec![2],
            canister_id: vec![3],
            method: "inc".into(),
            arg: vec![0; arg_bytes],
            expiry_ns: 0,
        }
    }

    /// A message whose content decodes to nothing: only a kept call
    /// answers for it.
    fn undecodable(id: u8) -> IngressMessage {
        IngressMessage {
            id: Hash([id; 32]),
            content: vec![0xff],
        }
    }

    #[test]
    fn calls_are_kept_within_their_bytes_and_expiries() {
        let mut decoded = DecodedCalls::default();
        decoded.keep(Hash([1; 32]), 100, call(10));
        decoded.keep(Hash([2; 32]), 200, call(MAX_DECODED_BYTES));
        decoded.keep(Hash([3; 32]), 300, call(10));
        assert_eq!(
            decoded.take(&[undecodable(1), undecodable(2)]),
            vec![call(10)],
            "the call over the bound was not kept"
        );
        assert_eq!(decoded.bytes, size(&call(10)));
        decoded.prune(301);
        assert!(decoded.take(&[undecodable(3)]).is_empty(), "expired");
        assert_eq!(decoded.bytes, 0);
    }
}
