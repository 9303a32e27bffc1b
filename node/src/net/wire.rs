//! What nodes send each other over their TLS connections: length-prefixed
//! CBOR frames of one [`Message`] each.

use chainkey_consensus::{Artifact, FinalizedBlock, Hash, Height};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The largest frame accepted (a block of 1,000 ingress messages is far smaller).
pub const MAX_FRAME: usize = 16 << 20;

/// One message between nodes.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Message {
    /// A consensus artifact.
    Artifact(Artifact),
    /// Asks for the finalized blocks `from..=to` (a node filling the gap a
    /// catch-up package jumped over).
    BlocksRequest {
        /// First height wanted.
        from: Height,
        /// Last height wanted.
        to: Height,
    },
    /// Finalized blocks in height order, in answer to a [`Message::BlocksRequest`].
    Blocks(Vec<FinalizedBlock>),
    /// A large artifact is available: its [`digest`] and height.
    Advert {
        /// The digest of the artifact's frame body.
        id: Hash,
        /// Its height.
        height: Height,
    },
    /// Asks for an advertised artifact.
    Fetch {
        /// Its digest.
        id: Hash,
    },
    /// A node's share of the signature certifying a height's state.
    CertificationShare(crate::certification::CertificationShare),
    /// Chain-key ECDSA work: a dealing or a signature share.
    ChainKey(crate::chain_key::ChainKeyMessage),
}

/// The digest of a frame body: identifies an encoded message for
/// deduplication and adverts.
pub fn digest(body: &[u8]) -> Hash {
    Hash::of(&[body])
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The connection failed or closed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// A frame above [`MAX_FRAME`].
    #[error("frame of {0} bytes is too large")]
    TooLarge(usize),
    /// The bytes are not a message.
    #[error("malformed message: {0}")]
    Malformed(#[from] ciborium::de::Error<std::io::Error>),
}

impl Message {
    /// The frame for this message: a 4-byte big-endian length, then CBOR.
    pub fn to_frame(&self) -> Vec<u8> {
        let mut frame = vec![0; 4];
        ciborium::into_writer(self, &mut frame).expect("writing to a Vec cannot fail");
        let length = (frame.len() - 4) as u32;
        frame[..4].copy_from_slice(&length.to_be_bytes());
        frame
    }

    /// Decodes a frame's body.
    ///
    /// # Errors
    /// [`WireError::Malformed`].
    pub fn from_body(body: &[u8]) -> Result<Self, WireError> {
        Ok(ciborium::from_reader(body)?)
    }
}

/// Reads one frame's body; a malformed body is the caller's to judge, so
/// the connection stays in step.
///
/// # Errors
/// [`WireError::Io`] or [`WireError::TooLarge`] (the connection must close).
pub async fn read_frame(reader: &mut (impl AsyncReadExt + Unpin)) -> Result<Vec<u8>, WireError> {
    let length = reader.read_u32().await? as usize;
    if length > MAX_FRAME {
        return Err(WireError::TooLarge(length));
    }
    // Memory grows with the bytes that arrive, not with the length a
    // peer announces.
    let mut body = Vec::with_capacity(length.min(64 << 10));
    let read = (&mut *reader)
        .take(length as u64)
        .read_to_end(&mut body)
        .await?;
    if read < length {
        return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    Ok(body)
}

/// Writes a frame made by [`Message::to_frame`].
///
/// # Errors
/// [`WireError::Io`].
pub async fn write_frame(
    writer: &mut (impl AsyncWriteExt + Unpin),
    frame: &[u8],
) -> Result<(), WireError> {
    writer.write_all(frame).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_garbage_is_malformed_not_fatal() {
        let message = Message::BlocksRequest { from: 3, to: 9 };
        let frame = message.to_frame();
        let mut reader = &frame[..];
        let body = read_frame(&mut reader).await.unwrap();
        assert!(matches!(
            Message::from_body(&body).unwrap(),
            Message::BlocksRequest { from: 3, to: 9 }
        ));
        assert!(matches!(
            Message::from_body(&[0xff, 0x00, 0x13]),
            Err(WireError::Malformed(_))
        ));
        let huge = ((MAX_FRAME + 1) as u32).to_be_bytes();
        assert!(matches!(
            read_frame(&mut &huge[..]).await,
            Err(WireError::TooLarge(_))
        ));
    }
}
