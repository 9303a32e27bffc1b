//! A canister's memories (its wasm heap and its stable memory) as pages:
//! a shared, immutable memory image (a memfd, or a checkpoint's file)
//! plus an overlay of the pages that differ from it.
//!
//! Copies of memory are copy-on-write at every level. A state's heap
//! shares the image and the unchanged overlay pages with the heaps before
//! and after it, so the states kept for queries, certification and
//! checkpoints cost only what changed. A live instance maps the image
//! copy-on-write and copies in the overlay ([`Pages::map_into`]); after a
//! message, saving its memory ([`Pages::save`]) looks only at the pages the
//! kernel says it wrote, so a message that writes a few pages of a 1 GiB
//! heap costs a few pages, not a copy or a comparison of all of it. A
//! trapped message's instance is dropped: its writes never reach the
//! pages. Stable memory is written page by page through
//! [`Pages::write`], which copies only the pages it changes.
//!
//! When the overlay grows past an eighth of the memory (and 8 MiB), a new
//! image is made of the whole memory, so mapping a heap never copies more
//! than that; the heap's digest hashes its page hashes, which the image
//! and the overlay pages compute once.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, OnceLock};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

pub use super::memory_image::PAGE_BYTES;
use super::memory_image::{self, Image};

/// Largest memory a canister has, heap or stable: 4 GiB.
pub const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Memories up to this size are saved by comparing every page: cheaper
/// than asking the kernel which pages were written (a `pagemap` read
/// costs about as much as comparing a few pages; most canisters' heaps
/// are this small).
const COMPARE_ALL_UP_TO: usize = 4 * PAGE_BYTES;

/// The smallest overlay that is folded into a new image.
const MIN_OVERLAY_FOR_IMAGE: usize = 8 << 20;

static ZERO_PAGE: [u8; PAGE_BYTES] = [0; PAGE_BYTES];
static ZERO_PAGE_HASH: LazyLock<[u8; 32]> = LazyLock::new(|| Sha256::digest(ZERO_PAGE).into());

/// One page and its SHA-256, computed when first needed.
struct Page {
    bytes: Box<[u8]>,
    hash: OnceLock<[u8; 32]>,
}

impl Page {
    fn new(bytes: &[u8]) -> Arc<Page> {
        Arc::new(Page {
            bytes: bytes.into(),
            hash: OnceLock::new(),
        })
    }

    fn hash(&self) -> [u8; 32] {
        *self.hash.get_or_init(|| Sha256::digest(&self.bytes).into())
    }
}

/// Memory contents: an image, the pages that differ from it (or from zero
/// beyond it), and the length. Every length is a multiple of [`PAGE_BYTES`].
#[derive(Clone, Default)]
pub struct Pages {
    image: Option<Arc<Image>>,
    overlay: BTreeMap<usize, Arc<Page>>,
    len: usize,
}

impl Pages {
    /// `len` zero bytes.
    fn zeroed(len: usize) -> Pages {
        Pages {
            len: len.next_multiple_of(PAGE_BYTES),
            ..Pages::default()
        }
    }

    /// `bytes` (zero-padded to whole pages) as pages of their own.
    pub fn from_bytes(bytes: &[u8]) -> Pages {
        let mut pages = Pages::zeroed(bytes.len());
        for (index, chunk) in bytes.chunks(PAGE_BYTES).enumerate() {
            if chunk.iter().any(|&byte| byte != 0) {
                pages.write(index * PAGE_BYTES, chunk);
            }
        }
        pages.with_image_if_large()
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn page_count(&self) -> usize {
        self.len / PAGE_BYTES
    }

    fn image_pages(&self) -> usize {
        self.image.as_ref().map_or(0, |image| image.page_count())
    }

    /// Page `index` as the image or zero has it, ignoring the overlay.
    fn base_page(&self, index: usize) -> &[u8] {
        match &self.image {
            Some(image) if index < image.page_count() => image.page(index),
            _ => &ZERO_PAGE,
        }
    }

    fn page(&self, index: usize) -> &[u8] {
        match self.overlay.get(&index) {
            Some(page) => &page.bytes,
            None => self.base_page(index),
        }
    }

    fn page_hash(&self, index: usize) -> [u8; 32] {
        match (self.overlay.get(&index), &self.image) {
            (Some(page), _) => page.hash(),
            (None, Some(image)) if index < image.page_count() => image.page_hash(index),
            _ => *ZERO_PAGE_HASH,
        }
    }

    /// Copies the contents to the start of `out`, which is at least
    /// [`len`](Pages::len) bytes long.
    fn copy_to(&self, out: &mut [u8]) {
        for (index, chunk) in out[..self.len].chunks_mut(PAGE_BYTES).enumerate() {
            chunk.copy_from_slice(self.page(index));
        }
    }

    /// The contents as one vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut bytes = vec![0; self.len];
        self.copy_to(&mut bytes);
        bytes
    }

    /// Copies `out.len()` bytes from `offset` (within the length) to `out`.
    pub fn read(&self, offset: usize, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let at = offset + done;
            let (index, within) = (at / PAGE_BYTES, at % PAGE_BYTES);
            let n = (PAGE_BYTES - within).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.page(index)[within..within + n]);
            done += n;
        }
    }

    /// Writes `bytes` at `offset` (within the length), copying each page it
    /// changes if it is shared.
    pub fn write(&mut self, offset: usize, bytes: &[u8]) {
        let mut done = 0;
        while done < bytes.len() {
            let at = offset + done;
            let (index, within) = (at / PAGE_BYTES, at % PAGE_BYTES);
            let n = (PAGE_BYTES - within).min(bytes.len() - done);
            let unshared = self
                .overlay
                .get_mut(&index)
                .is_some_and(|page| Arc::get_mut(page).is_some());
            if !unshared {
                self.overlay.insert(index, Page::new(self.page(index)));
            }
            let page = self.overlay.get_mut(&index).expect("inserted above");
            let page = Arc::get_mut(page).expect("unshared");
            page.bytes[within..within + n].copy_from_slice(&bytes[done..done + n]);
            page.hash = OnceLock::new();
            done += n;
        }
    }

    /// Grows the length to `len` (rounded up to whole pages) with zeros.
    pub fn grow_to(&mut self, len: usize) {
        self.len = self.len.max(len.next_multiple_of(PAGE_BYTES));
    }

    /// Whether the overlay is large enough to fold into a new image: an
    /// eighth of the memory, and at least 8 MiB.
    fn overlay_is_large(&self) -> bool {
        let overlay = self.overlay.len() * PAGE_BYTES;
        overlay >= MIN_OVERLAY_FOR_IMAGE && overlay >= self.len / 8
    }

    /// The same contents with the overlay folded into a new image if it is
    /// large; as they are if the image cannot be made.
    pub fn with_image_if_large(self) -> Pages {
        if !self.overlay_is_large() {
            return self;
        }
        match Image::new(self.len, |out| self.copy_nonzero_to(out)) {
            Ok(image) => Pages::imaged(Arc::new(image)),
            Err(error) => {
                tracing::warn!(%error, "cannot make a memory image; keeping the overlay");
                self
            }
        }
    }

    /// The same contents, which `memory` holds, with a large overlay folded
    /// into a new image that is then mapped into `memory` in place of the
    /// old one (see [`with_image_if_large`](Pages::with_image_if_large)); as
    /// they are if the overlay is small or the image cannot be made or
    /// mapped.
    ///
    /// # Safety
    /// As for [`map_into`](Pages::map_into).
    pub unsafe fn with_image_mapped_if_large(self, memory: &mut [u8]) -> Pages {
        if !self.overlay_is_large() {
            return self;
        }
        let mapped = Image::new(self.len, |out| self.copy_nonzero_to(out)).and_then(|image| {
            // SAFETY: the caller's promise.
            unsafe { image.map_into(memory) }.map(|()| image)
        });
        match mapped {
            Ok(image) => Pages::imaged(Arc::new(image)),
            Err(error) => {
                tracing::warn!(%error, "cannot fold a heap into a new image; keeping the overlay");
                self
            }
        }
    }

    /// Exactly `image`'s contents.
    fn imaged(image: Arc<Image>) -> Pages {
        Pages {
            len: image.len(),
            image: Some(image),
            overlay: BTreeMap::new(),
        }
    }

    /// Copies the pages that are not zero to `out`, which holds zeros.
    fn copy_nonzero_to(&self, out: &mut [u8]) {
        if let Some(image) = &self.image {
            out[..image.len()].copy_from_slice(image.bytes());
        }
        for (index, page) in &self.overlay {
            out[index * PAGE_BYTES..][..PAGE_BYTES].copy_from_slice(&page.bytes);
        }
    }

    /// Makes `memory`'s first [`len`](Pages::len) bytes these contents: maps
    /// the image copy-on-write, zeroes the rest and copies in the overlay.
    /// Afterwards the pages `memory` reports written
    /// (read from the kernel's page map) are the overlay's, so
    /// [`save`](Pages::save) can find what a message changes.
    ///
    /// # Safety
    /// `memory` must be a page-aligned private read-write mapping the
    /// caller owns, at least [`len`](Pages::len) bytes long: a wasm memory.
    pub unsafe fn map_into(&self, memory: &mut [u8]) -> std::io::Result<()> {
        let image_len = self.image_pages() * PAGE_BYTES;
        if let Some(image) = &self.image {
            // SAFETY: the caller's promise.
            unsafe { image.map_into(memory) }?;
        }
        // SAFETY: the caller's promise.
        unsafe { memory_image::discard(&mut memory[image_len..self.len]) }?;
        for (index, page) in &self.overlay {
            memory[index * PAGE_BYTES..][..PAGE_BYTES].copy_from_slice(&page.bytes);
        }
        Ok(())
    }

    /// The contents of `memory` (a whole number of pages), which holds
    /// `image` mapped by [`map_into`](Pages::map_into) (or no image:
    /// anonymous memory), sharing the overlay pages that equal `previous`'s.
    /// In memories over four pages only the pages the kernel
    /// reports written are read.
    pub fn save(memory: &[u8], image: Option<&Arc<Image>>, previous: &Pages) -> Pages {
        let mut pages = Pages {
            image: image.cloned(),
            overlay: BTreeMap::new(),
            len: memory.len(),
        };
        let written = if memory.len() > COMPARE_ALL_UP_TO {
            memory_image::written_pages(memory)
        } else {
            None
        };
        for (index, bytes) in memory.chunks(PAGE_BYTES).enumerate() {
            if written.as_ref().is_some_and(|written| !written[index])
                || bytes == pages.base_page(index)
            {
                continue;
            }
            let page = match previous.overlay.get(&index) {
                Some(page) if *page.bytes == *bytes => Arc::clone(page),
                _ => Page::new(bytes),
            };
            pages.overlay.insert(index, page);
        }
        pages
    }

    /// Bytes held in pages of its own, beyond what it shares through its
    /// image.
    pub fn own_bytes(&self) -> usize {
        self.overlay.len() * PAGE_BYTES
    }

    /// The image, if any.
    pub fn image(&self) -> Option<&Arc<Image>> {
        self.image.as_ref()
    }

    /// Feeds the length and the page hashes to `hasher`.
    pub fn digest_into(&self, hasher: &mut Sha256) {
        hasher.update((self.len as u64).to_le_bytes());
        for index in 0..self.page_count() {
            hasher.update(self.page_hash(index));
        }
    }
}

impl PartialEq for Pages {
    fn eq(&self, other: &Pages) -> bool {
        self.len == other.len
            && (0..self.page_count()).all(|index| self.page_hash(index) == other.page_hash(index))
    }
}

impl Eq for Pages {}

impl std::fmt::Debug for Pages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pages")
            .field("len", &self.len)
            .field("image_pages", &self.image_pages())
            .field("overlay_pages", &self.overlay.len())
            .finish()
    }
}

thread_local! {
    /// Where this thread keeps memory images while it writes or reads a
    /// checkpoint (see [`with_image_dir`]).
    static IMAGE_DIR: RefCell<Option<ImageDir>> = const { RefCell::new(None) };
}

/// A checkpoint's image directory and the images it names.
struct ImageDir {
    path: PathBuf,
    named: BTreeSet<String>,
}

/// Runs `f`, which writes or reads a checkpoint, with memory images kept
/// as files in `dir` (each image once, named by its content): pages then
/// serialize as the name of their image and their overlay. Returns what
/// `f` returned and the names of the images it wrote or read. Without
/// this, pages serialize whole.
pub fn with_image_dir<T>(dir: &Path, f: impl FnOnce() -> T) -> (T, BTreeSet<String>) {
    let previous = IMAGE_DIR.replace(Some(ImageDir {
        path: dir.to_path_buf(),
        named: BTreeSet::new(),
    }));
    let result = f();
    let named = IMAGE_DIR
        .replace(previous)
        .map(|dir| dir.named)
        .unwrap_or_default();
    (result, named)
}

/// The serialized form: the length, the image's name in the checkpoint's
/// image directory (if any), and the other pages that are not zero.
#[derive(Serialize)]
struct StoredRef<'a> {
    len: u64,
    image: Option<&'a str>,
    pages: Vec<(u64, &'a serde_bytes::Bytes)>,
}

/// [`StoredRef`] read back.
#[derive(Deserialize)]
struct Stored {
    len: u64,
    image: Option<String>,
    pages: Vec<(u64, serde_bytes::ByteBuf)>,
}

/// What a checkpoint may hold: the stored form, or the whole contents as
/// one byte string (checkpoints written before memory images).
#[derive(Deserialize)]
#[serde(untagged)]
enum Form {
    Stored(Stored),
    Flat(serde_bytes::ByteBuf),
}

impl Serialize for Pages {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let stored_image = match &self.image {
            Some(image) => IMAGE_DIR
                .with_borrow_mut(|dir| {
                    let dir = dir.as_mut()?;
                    let stored = image.store_in(&dir.path);
                    dir.named.insert(image.name().to_owned());
                    Some(stored)
                })
                .transpose()
                .map_err(serde::ser::Error::custom)?
                .map(|()| image.name()),
            None => None,
        };
        let pages = match stored_image {
            Some(_) => self
                .overlay
                .iter()
                .map(|(&index, page)| (index as u64, serde_bytes::Bytes::new(&page.bytes)))
                .collect(),
            None => (0..self.page_count())
                .map(|index| (index, self.page(index)))
                .filter(|(_, page)| *page != ZERO_PAGE)
                .map(|(index, page)| (index as u64, serde_bytes::Bytes::new(page)))
                .collect(),
        };
        StoredRef {
            len: self.len as u64,
            image: stored_image,
            pages,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Pages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Pages, D::Error> {
        use serde::de::Error;
        let stored = match Form::deserialize(deserializer)? {
            Form::Stored(stored) => stored,
            Form::Flat(bytes) if bytes.len().is_multiple_of(PAGE_BYTES) => {
                return Ok(Pages::from_bytes(&bytes))
            }
            Form::Flat(_) => return Err(D::Error::custom("memory is not a whole number of pages")),
        };
        let len = usize::try_from(stored.len)
            .ok()
            .filter(|len| len.is_multiple_of(PAGE_BYTES) && *len <= MAX_MEMORY_BYTES)
            .ok_or_else(|| {
                D::Error::custom("memory is not a whole number of pages within 4 GiB")
            })?;
        let image = match stored.image {
            None => None,
            // Images are named by their hex SHA-256 (`Image::name`):
            // anything else, a path elsewhere among them, is refused.
            Some(name) if name.len() != 64 || !name.bytes().all(|b| b.is_ascii_hexdigit()) => {
                return Err(D::Error::custom(
                    "a memory image name that is not a file name",
                ));
            }
            Some(name) => Some(IMAGE_DIR.with_borrow_mut(|dir| {
                let dir = dir
                    .as_mut()
                    .ok_or_else(|| D::Error::custom("a memory image outside a checkpoint"))?;
                let image = Image::open(&dir.path.join(&name)).map_err(D::Error::custom)?;
                dir.named.insert(name);
                Ok(Arc::new(image))
            })?),
        };
        let mut pages = Pages {
            image,
            overlay: BTreeMap::new(),
            len,
        };
        if pages.image_pages() * PAGE_BYTES > len {
            return Err(D::Error::custom("a memory image longer than its memory"));
        }
        for (index, bytes) in stored.pages {
            let index = usize::try_from(index)
                .ok()
                .filter(|&index| index < pages.page_count() && bytes.len() == PAGE_BYTES)
                .ok_or_else(|| D::Error::custom("a page outside its memory, or not a page"))?;
            pages.overlay.insert(index, Page::new(&bytes));
        }
        Ok(pages.with_image_if_large())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::memory_image::Anonymous;

    /// An anonymous memory of `pages` pages.
    fn pages_of_memory(pages: usize) -> Anonymous {
        Anonymous::new(pages * PAGE_BYTES)
    }

    fn digest(pages: &Pages) -> [u8; 32] {
        let mut hasher = Sha256::new();
        pages.digest_into(&mut hasher);
        hasher.finalize().into()
    }

    /// The digest as the old flat layout defines it: the length, then the
    /// SHA-256 of every page.
    fn reference_digest(bytes: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update((bytes.len() as u64).to_le_bytes());
        for page in bytes.chunks(PAGE_BYTES) {
            hasher.update(Sha256::digest(page));
        }
        hasher.finalize().into()
    }

    #[test]
    fn saving_a_memory_keeps_only_pages_that_differ_and_shares_unchanged_ones() {
        let memory = pages_of_memory(4);
        memory.0[PAGE_BYTES + 5] = 1;
        memory.0[3 * PAGE_BYTES] = 2;
        let first = Pages::save(memory.0, None, &Pages::default());
        assert_eq!(first.overlay.keys().copied().collect::<Vec<_>>(), [1, 3]);
        assert_eq!(first.to_vec(), memory.0);
        memory.0[3 * PAGE_BYTES] = 9;
        let second = Pages::save(memory.0, None, &first);
        assert!(Arc::ptr_eq(&first.overlay[&1], &second.overlay[&1]));
        assert!(!Arc::ptr_eq(&first.overlay[&3], &second.overlay[&3]));
        assert_eq!(second.to_vec(), memory.0);
        assert_ne!(digest(&first), digest(&second));
        assert_eq!(digest(&second), reference_digest(memory.0));
        // Serialized: the same contents and digest.
        let bytes = crate::cbor::to_cbor(&second);
        let back: Pages = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(back.to_vec(), memory.0);
        assert_eq!(back, second);
        // A checkpoint written before images held the bytes as one string.
        let flat = crate::cbor::to_cbor(&serde_bytes::Bytes::new(memory.0));
        let back: Pages = ciborium::from_reader(flat.as_slice()).unwrap();
        assert_eq!(back, second);
    }

    #[test]
    fn a_checkpoint_names_images_it_keeps_once_and_writes_only_the_overlay() {
        let dir = tempfile::tempdir().unwrap();
        let mut heap = Pages::zeroed(16 << 20);
        for index in (0..256).step_by(2) {
            heap.write(index * PAGE_BYTES, &[index as u8 + 1]);
        }
        let heap = heap.with_image_if_large();
        assert!(heap.image().is_some());
        let mut later = heap.clone();
        later.write(3 * PAGE_BYTES + 9, &[42]);
        let states = vec![heap.clone(), later.clone()];
        let (bytes, named) = with_image_dir(dir.path(), || crate::cbor::to_cbor(&states));
        // One image file for both, named by its content; the checkpoint
        // itself holds one overlay page.
        assert_eq!(named.len(), 1);
        assert!(dir.path().join(heap.image().unwrap().name()).exists());
        assert!(bytes.len() < 2 * PAGE_BYTES, "{} bytes", bytes.len());
        let (back, read): (Result<Vec<Pages>, _>, _) =
            with_image_dir(dir.path(), || ciborium::from_reader(bytes.as_slice()));
        let back = back.unwrap();
        assert_eq!(read, named);
        assert_eq!(back, states);
        assert_eq!(back[1].to_vec(), later.to_vec());
        // Outside a checkpoint the image is written whole, and an image
        // name cannot be read.
        assert!(crate::cbor::to_cbor(&later).len() > 8 << 20);
        let refused: Result<Vec<Pages>, _> = ciborium::from_reader(bytes.as_slice());
        assert!(refused.is_err());
    }

    #[test]
    fn a_checkpoint_cannot_name_an_image_outside_its_image_directory() {
        let outside = tempfile::tempdir().unwrap();
        let mut heap = Pages::zeroed(16 << 20);
        for index in (0..256).step_by(2) {
            heap.write(index * PAGE_BYTES, &[7]);
        }
        let heap = heap.with_image_if_large();
        let name = heap.image().unwrap().name().to_owned();
        let (bytes, _) = with_image_dir(outside.path(), || crate::cbor::to_cbor(&heap));
        // The same checkpoint, its image named from a directory below.
        let mut value: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
        fn rename(value: &mut ciborium::Value, from: &str, to: &str) {
            match value {
                ciborium::Value::Text(text) if text == from => *text = to.to_owned(),
                ciborium::Value::Array(items) => items.iter_mut().for_each(|v| rename(v, from, to)),
                ciborium::Value::Map(entries) => {
                    for (key, value) in entries {
                        rename(key, from, to);
                        rename(value, from, to);
                    }
                }
                _ => {}
            }
        }
        rename(&mut value, &name, &format!("../{name}"));
        let escaping = crate::cbor::to_cbor(&value);
        let below = outside.path().join("images");
        std::fs::create_dir(&below).unwrap();
        let (read, _): (Result<Pages, _>, _) =
            with_image_dir(&below, || ciborium::from_reader(escaping.as_slice()));
        assert!(read.is_err(), "the image outside was read");
    }

    #[test]
    fn a_mapped_image_saves_as_the_image_plus_the_pages_a_message_wrote() {
        // Large enough to be an image: 16 MiB, every page different.
        let pages = 256;
        let mut contents = vec![0u8; pages * PAGE_BYTES];
        for (index, page) in contents.chunks_mut(PAGE_BYTES).enumerate() {
            page[..8].copy_from_slice(&(index as u64 + 1).to_le_bytes());
        }
        let saved = Pages::from_bytes(&contents);
        assert_eq!(saved.image_pages(), pages, "folded into an image");
        assert!(saved.overlay.is_empty());
        assert_eq!(digest(&saved), reference_digest(&contents));

        // An instance's memory, with stale bytes where the image goes.
        let memory = pages_of_memory(pages + 2);
        memory.0.fill(0xAA);
        let heap = Pages {
            len: (pages + 1) * PAGE_BYTES,
            ..saved.clone()
        };
        // SAFETY: `memory` is a private mapping we own.
        unsafe { heap.map_into(memory.0) }.unwrap();
        let len = heap.len();
        assert_eq!(&memory.0[..pages * PAGE_BYTES], contents);
        assert!(memory.0[pages * PAGE_BYTES..len].iter().all(|&b| b == 0));

        // A message writes two pages (one with the value it had).
        memory.0[7 * PAGE_BYTES + 100] = 0xEE;
        memory.0[9 * PAGE_BYTES] = 10;
        let after = Pages::save(&memory.0[..len], heap.image(), &heap);
        assert_eq!(after.overlay.keys().copied().collect::<Vec<_>>(), [7]);
        assert!(Arc::ptr_eq(after.image().unwrap(), saved.image().unwrap()));
        let mut expected = contents.clone();
        expected.resize(len, 0);
        expected[7 * PAGE_BYTES + 100] = 0xEE;
        assert_eq!(after.to_vec(), expected);
        assert_eq!(digest(&after), reference_digest(&expected));

        // A fresh instance of the saved heap (a query's) reads the same.
        let fresh = pages_of_memory(pages + 1);
        // SAFETY: as above.
        unsafe { after.map_into(fresh.0) }.unwrap();
        assert_eq!(fresh.0, expected.as_slice());
    }

    #[test]
    fn writes_copy_only_the_pages_they_change_and_leave_clones_alone() {
        let mut stable = Pages::zeroed(3 * PAGE_BYTES);
        stable.write(PAGE_BYTES - 2, &[1, 2, 3, 4]);
        let before = stable.clone();
        stable.write(PAGE_BYTES, &[9]);
        let mut out = [0u8; 4];
        stable.read(PAGE_BYTES - 2, &mut out);
        assert_eq!(out, [1, 2, 9, 4]);
        before.read(PAGE_BYTES - 2, &mut out);
        assert_eq!(out, [1, 2, 3, 4], "the clone kept its page");
        assert!(Arc::ptr_eq(&before.overlay[&0], &stable.overlay[&0]));
        assert!(!stable.overlay.contains_key(&2));
        stable.grow_to(5 * PAGE_BYTES);
        let mut flat = vec![0u8; 5 * PAGE_BYTES];
        flat[PAGE_BYTES - 2..PAGE_BYTES + 2].copy_from_slice(&[1, 2, 9, 4]);
        assert_eq!(stable.to_vec(), flat);
        assert_eq!(digest(&stable), reference_digest(&flat));
    }

    #[test]
    fn a_large_overlay_is_folded_into_an_image_with_the_same_contents() {
        let mut memory = Pages::zeroed(32 << 20);
        for index in (0..512).step_by(3) {
            memory.write(index * PAGE_BYTES + 1, &[index as u8 | 1]);
        }
        assert!(memory.overlay_is_large());
        let flat = memory.to_vec();
        let folded = memory.clone().with_image_if_large();
        assert!(folded.image().is_some() && folded.overlay.is_empty());
        assert_eq!(folded.to_vec(), flat);
        assert_eq!(folded, memory);
        assert_eq!(digest(&folded), reference_digest(&flat));
    }

    /// Messages as an executor runs them on a live memory — random writes,
    /// growth, bursts that fold the overlay into a new image, traps that
    /// start a fresh memory from the saved pages — against a flat model:
    /// every save holds exactly the memory's bytes, with the model's
    /// digest, and a fresh mapping (a query's) reads the same.
    #[test]
    fn random_messages_on_a_mapped_memory_save_exactly_its_bytes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let most = 256;
        let mut saved = Pages::zeroed(64 * PAGE_BYTES);
        let mut model = saved.to_vec();
        let mut live = pages_of_memory(most);
        let mut folds = 0;
        for _ in 0..150 {
            let len = if rng.gen_ratio(1, 8) {
                (saved.len() + rng.gen_range(1..32) * PAGE_BYTES).min(most * PAGE_BYTES)
            } else {
                saved.len()
            };
            let mut expected = model.clone();
            expected.resize(len, 0);
            for _ in 0..rng.gen_range(0..24) {
                let at = rng.gen_range(0..len);
                let byte = rng.gen();
                live.0[at] = byte;
                expected[at] = byte;
            }
            if rng.gen_ratio(1, 10) {
                let first = rng.gen_range(0..len / PAGE_BYTES);
                let end = (first + 160).min(len / PAGE_BYTES);
                let byte = rng.gen();
                live.0[first * PAGE_BYTES..end * PAGE_BYTES].fill(byte);
                expected[first * PAGE_BYTES..end * PAGE_BYTES].fill(byte);
            }
            if rng.gen_ratio(1, 8) {
                // A trap: the instance is dropped, a fresh one maps the
                // saved pages.
                live = pages_of_memory(most);
                // SAFETY: `live` is a private mapping we own.
                unsafe { saved.map_into(live.0) }.unwrap();
                continue;
            }
            let image = saved.image().cloned();
            let next = Pages::save(&live.0[..len], image.as_ref(), &saved);
            // SAFETY: as above.
            let next = unsafe { next.with_image_mapped_if_large(live.0) };
            folds += usize::from(
                !matches!(
                    (&image, next.image()),
                    (Some(old), Some(new)) if Arc::ptr_eq(old, new)
                ) && next.image().is_some(),
            );
            assert_eq!(next.to_vec(), expected);
            assert_eq!(digest(&next), reference_digest(&expected));
            if rng.gen_ratio(1, 4) {
                let query = pages_of_memory(most);
                // SAFETY: as above.
                unsafe { next.map_into(query.0) }.unwrap();
                assert_eq!(&query.0[..len], expected.as_slice());
            }
            saved = next;
            model = expected;
        }
        assert!(folds >= 2, "{folds} folds");
    }
}
