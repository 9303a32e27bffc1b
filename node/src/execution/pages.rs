//! A canister's wasm memory, saved as pages shared between heaps.
//!
//! Saving a heap after a message compares the live memory with the heap
//! saved before, page by page: a page the message did not change is shared
//! with the earlier heap, only changed pages are copied (and hashed when a
//! digest is asked for), and the heap's digest hashes the page hashes. A message that touches a few
//! pages of a 1 GiB heap so costs a comparison of memory, not a copy and a
//! hash of all of it, and the states kept for queries and certification
//! share what did not change.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Bytes per page: the wasm page.
pub const PAGE_BYTES: usize = 64 << 10;

/// One page and its SHA-256, computed when first needed (a heap saved
/// only to roll a message back is never hashed).
#[derive(Debug)]
struct Page {
    bytes: Box<[u8]>,
    hash: OnceLock<[u8; 32]>,
}

impl Page {
    fn hash(&self) -> [u8; 32] {
        *self.hash.get_or_init(|| Sha256::digest(&self.bytes).into())
    }
}

/// Memory contents as shared pages.
#[derive(Clone, Debug, Default)]
pub struct Pages {
    pages: Vec<Arc<Page>>,
    len: usize,
}

impl Pages {
    /// `bytes` as pages, sharing each page that equals `previous`'s page
    /// at the same place.
    pub fn save(bytes: &[u8], previous: &Pages) -> Pages {
        let pages = bytes
            .chunks(PAGE_BYTES)
            .enumerate()
            .map(|(index, chunk)| match previous.pages.get(index) {
                Some(page) if *page.bytes == *chunk => Arc::clone(page),
                _ => Arc::new(Page {
                    hash: OnceLock::new(),
                    bytes: chunk.into(),
                }),
            })
            .collect();
        Pages {
            pages,
            len: bytes.len(),
        }
    }

    /// `bytes` as pages of their own.
    pub fn from_bytes(bytes: &[u8]) -> Pages {
        Pages::save(bytes, &Pages::default())
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the contents to the start of `out`, which is at least
    /// [`len`](Pages::len) bytes long.
    pub fn copy_to(&self, out: &mut [u8]) {
        for (page, chunk) in self
            .pages
            .iter()
            .zip(out[..self.len].chunks_mut(PAGE_BYTES))
        {
            chunk.copy_from_slice(&page.bytes);
        }
    }

    /// The contents as one vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = vec![0; self.len];
        self.copy_to(&mut bytes);
        bytes
    }

    /// Feeds the length and the page hashes to `hasher`.
    pub fn digest_into(&self, hasher: &mut Sha256) {
        hasher.update((self.len as u64).to_le_bytes());
        for page in &self.pages {
            hasher.update(page.hash());
        }
    }
}

impl PartialEq for Pages {
    fn eq(&self, other: &Pages) -> bool {
        self.len == other.len
            && self
                .pages
                .iter()
                .zip(&other.pages)
                .all(|(a, b)| Arc::ptr_eq(a, b) || a.hash() == b.hash())
    }
}

impl Eq for Pages {}

/// Checkpoints hold the contents as one byte string, as before pages.
impl Serialize for Pages {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde_bytes::Bytes::new(&self.to_vec()).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Pages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pages, D::Error> {
        let bytes = serde_bytes::ByteBuf::deserialize(deserializer)?;
        Ok(Pages::from_bytes(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_shares_unchanged_pages_and_copies_changed_ones() {
        let mut memory = vec![0u8; 3 * PAGE_BYTES];
        memory[PAGE_BYTES + 5] = 1;
        let first = Pages::from_bytes(&memory);
        memory[2 * PAGE_BYTES] = 9;
        memory.extend([7; 10]);
        let second = Pages::save(&memory, &first);
        assert!(Arc::ptr_eq(&first.pages[0], &second.pages[0]));
        assert!(Arc::ptr_eq(&first.pages[1], &second.pages[1]));
        assert!(!Arc::ptr_eq(&first.pages[2], &second.pages[2]));
        assert_eq!(second.len(), 3 * PAGE_BYTES + 10);
        assert_eq!(second.to_vec(), memory);
        // The digest covers every byte: it changed with the page.
        let digest = |pages: &Pages| {
            let mut hasher = Sha256::new();
            pages.digest_into(&mut hasher);
            <[u8; 32]>::from(hasher.finalize())
        };
        assert_ne!(digest(&first), digest(&second));
        assert_eq!(digest(&second), digest(&Pages::from_bytes(&memory)));
        // Through a checkpoint: the same contents and digest.
        let bytes = crate::wire::to_cbor(&second);
        let back: Pages = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back.to_vec(), memory);
        assert_eq!(back, second);
    }
}
