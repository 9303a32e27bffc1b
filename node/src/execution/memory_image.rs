//! Memory images: canister memory in memory files that instances map
//! copy-on-write, and the kernel's record of which pages an instance wrote.
//!
//! An [`Image`] holds memory contents in an anonymous memory file
//! (`memfd`) that is never written after it is made. An instance maps it
//! privately over its wasm memory ([`Image::map_into`]): the instance
//! reads the file's pages, shared with every other mapping of the image,
//! until it writes one, when the kernel gives it a private copy of that
//! page. An instance of a 1 GiB heap so costs a mapping, not a copy, and
//! fifty queries of it share one copy of the memory.
//!
//! The pages an instance wrote are exactly the private (anonymous) pages of
//! its mapping, which `/proc/self/pagemap` reports ([`written_pages`]):
//! saving a heap after a message looks at those pages only. Where the
//! kernel does not give that record, every page counts as written, which
//! is correct and slower.
//!
//! A checkpoint keeps each image once, as a file named by its content
//! ([`Image::store_in`]); a node that restarts maps those files as its
//! images ([`Image::open`]) without reading them.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Bytes per page: the wasm page, the unit in which memory is shared,
/// compared and hashed.
pub const PAGE_BYTES: usize = 64 << 10;

/// Memory contents in an immutable memory file, with its pages' hashes
/// computed when first needed.
pub struct Image {
    file: File,
    /// A read-only shared mapping of the whole file.
    view: NonNull<u8>,
    len: usize,
    hashes: Box<[OnceLock<[u8; 32]>]>,
    name: OnceLock<String>,
}

// SAFETY: the view is a read-only mapping of a file nobody writes after
// `Image::new`, so reading it from any thread is sound.
unsafe impl Send for Image {}
// SAFETY: as for `Send`: all access is reading immutable memory.
unsafe impl Sync for Image {}

impl Image {
    /// An image of `len` bytes (a positive multiple of [`PAGE_BYTES`]),
    /// filled by `fill` from zero.
    pub fn new(len: usize, fill: impl FnOnce(&mut [u8])) -> io::Result<Image> {
        assert!(len > 0 && len.is_multiple_of(PAGE_BYTES), "whole pages");
        // SAFETY: a plain system call with a valid C string.
        let fd = unsafe { libc::memfd_create(c"chainkey-memory".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and is owned by nothing else.
        let file = unsafe { File::from_raw_fd(fd) };
        file.set_len(len as u64)?;
        let view = map(
            &file,
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
        )?;
        // SAFETY: `view` maps `len` writable bytes that only this function
        // sees until it returns.
        fill(unsafe { std::slice::from_raw_parts_mut(view.as_ptr(), len) });
        // SAFETY: `view` is the mapping of `len` bytes made above.
        if unsafe { libc::mprotect(view.as_ptr().cast(), len, libc::PROT_READ) } != 0 {
            let error = io::Error::last_os_error();
            // SAFETY: as above; the mapping is not used after this.
            unsafe { libc::munmap(view.as_ptr().cast(), len) };
            return Err(error);
        }
        Ok(Image::with_view(file, view, len))
    }

    fn with_view(file: File, view: NonNull<u8>, len: usize) -> Image {
        Image {
            file,
            view,
            len,
            hashes: (0..len / PAGE_BYTES).map(|_| OnceLock::new()).collect(),
            name: OnceLock::new(),
        }
    }

    /// The image kept in the file at `path` (by [`store_in`](Image::store_in)),
    /// mapped, not read. The file must not change while the image lives
    /// (checkpoint images never do: a changed image gets a new name).
    pub fn open(path: &Path) -> io::Result<Image> {
        let file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).map_err(io::Error::other)?;
        if len == 0 || !len.is_multiple_of(PAGE_BYTES) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: not a whole number of pages", path.display()),
            ));
        }
        let view = map(&file, len, libc::PROT_READ, libc::MAP_SHARED)?;
        Ok(Image::with_view(file, view, len))
    }

    /// The image's name: the SHA-256 of its length and page hashes, in hex.
    pub fn name(&self) -> &str {
        self.name.get_or_init(|| {
            let mut hasher = Sha256::new();
            hasher.update((self.len as u64).to_le_bytes());
            for index in 0..self.page_count() {
                hasher.update(self.page_hash(index));
            }
            hex::encode(hasher.finalize())
        })
    }

    /// Keeps the image in `dir` as the file [`name`](Image::name) (written
    /// and synced under a temporary name, then renamed), unless it is
    /// there already.
    pub fn store_in(&self, dir: &Path) -> io::Result<()> {
        let path = dir.join(self.name());
        if path.exists() {
            return Ok(());
        }
        let temporary = dir.join(format!("{}.tmp", self.name()));
        let mut file = File::create(&temporary)?;
        file.write_all(self.bytes())?;
        file.sync_all()?;
        std::fs::rename(temporary, path)
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Pages held.
    pub fn page_count(&self) -> usize {
        self.hashes.len()
    }

    /// The contents.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `view` maps `len` readable bytes of a file nobody writes,
        // for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.view.as_ptr(), self.len) }
    }

    /// Page `index` (below [`page_count`](Image::page_count)).
    pub fn page(&self, index: usize) -> &[u8] {
        &self.bytes()[index * PAGE_BYTES..][..PAGE_BYTES]
    }

    /// SHA-256 of page `index`.
    pub fn page_hash(&self, index: usize) -> [u8; 32] {
        *self.hashes[index].get_or_init(|| Sha256::digest(self.page(index)).into())
    }

    /// Maps the image privately (copy-on-write) over the start of `memory`.
    ///
    /// # Safety
    /// `memory` must be a private read-write mapping of at least
    /// [`len`](Image::len) bytes, page-aligned, which the caller owns and
    /// may have replaced (a wasm memory whose contents are being restored).
    pub unsafe fn map_into(&self, memory: &mut [u8]) -> io::Result<()> {
        assert!(memory.len() >= self.len, "the memory holds the image");
        // SAFETY: the caller owns `memory`'s range; MAP_FIXED replaces
        // exactly that range's first `len` bytes.
        let mapped = unsafe {
            libc::mmap(
                memory.as_mut_ptr().cast(),
                self.len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                self.file.as_raw_fd(),
                0,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        // SAFETY: `view` is the mapping made in `new`, unused after this.
        unsafe { libc::munmap(self.view.as_ptr().cast(), self.len) };
    }
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Image({} pages)", self.page_count())
    }
}

fn map(file: &File, len: usize, protection: i32, flags: i32) -> io::Result<NonNull<u8>> {
    // SAFETY: a fresh mapping chosen by the kernel, of a file we own.
    let view = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            protection,
            flags,
            file.as_raw_fd(),
            0,
        )
    };
    if view == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(NonNull::new(view.cast()).expect("mmap never returns null on success"))
}

/// Gives `memory` back to the kernel: a private anonymous range reads as
/// zeros afterwards, a private mapping of an image as the image.
///
/// # Safety
/// `memory` must be a page-aligned private mapping the caller owns.
pub unsafe fn discard(memory: &mut [u8]) -> io::Result<()> {
    if memory.is_empty() {
        return Ok(());
    }
    // SAFETY: the caller owns the range.
    let done = unsafe {
        libc::madvise(
            memory.as_mut_ptr().cast(),
            memory.len(),
            libc::MADV_DONTNEED,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `/proc/self/pagemap` entry bits (the kernel's `Documentation/admin-guide/mm/pagemap.rst`).
const PRESENT: u64 = 1 << 63;
const SWAPPED: u64 = 1 << 62;
const FILE_OR_SHARED: u64 = 1 << 61;

/// For each [`PAGE_BYTES`] page of `memory`, whether the process holds a
/// private copy of any part of it: whether it was written since it was
/// mapped from an image, or at all if it is anonymous. (A page only read
/// from anonymous memory may count as written; a written one never counts
/// as unwritten.) `None` if the kernel does not say.
pub fn written_pages(memory: &[u8]) -> Option<Vec<bool>> {
    static PAGEMAP: OnceLock<Option<File>> = OnceLock::new();
    let pagemap = PAGEMAP
        .get_or_init(|| match File::open("/proc/self/pagemap") {
            Ok(file) => Some(file),
            Err(error) => {
                tracing::warn!(%error, "no /proc/self/pagemap: saving a heap compares all its pages");
                None
            }
        })
        .as_ref()?;
    // SAFETY: a plain query of the system's page size.
    let os_page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
    if os_page == 0 || !PAGE_BYTES.is_multiple_of(os_page) {
        return None;
    }
    let per_page = PAGE_BYTES / os_page;
    let first = memory.as_ptr() as usize / os_page;
    let pages = memory.len() / PAGE_BYTES;
    let mut written = Vec::with_capacity(pages);
    let mut entries = vec![0u8; 8 * per_page * pages.clamp(1, 256)];
    for chunk_start in (0..pages).step_by(256) {
        let chunk = (pages - chunk_start).min(256);
        let bytes = &mut entries[..8 * per_page * chunk];
        let offset = 8 * (first + chunk_start * per_page) as u64;
        pagemap.read_exact_at(bytes, offset).ok()?;
        written.extend(bytes.chunks(8 * per_page).map(|page| {
            page.chunks(8).any(|entry| {
                let entry = u64::from_le_bytes(entry.try_into().expect("8 bytes"));
                entry & (PRESENT | SWAPPED) != 0 && entry & FILE_OR_SHARED == 0
            })
        }));
    }
    Some(written)
}

/// A private anonymous mapping of `len` bytes, as wasmtime makes for a
/// wasm memory: what the tests map images into.
#[cfg(test)]
pub(super) struct Anonymous(pub &'static mut [u8]);

#[cfg(test)]
impl Anonymous {
    pub(super) fn new(len: usize) -> Anonymous {
        // SAFETY: a fresh anonymous mapping, unmapped on drop.
        let start = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(start, libc::MAP_FAILED);
        // SAFETY: the mapping is `len` bytes, alive until drop.
        Anonymous(unsafe { std::slice::from_raw_parts_mut(start.cast(), len) })
    }
}

#[cfg(test)]
impl Drop for Anonymous {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`.
        unsafe { libc::munmap(self.0.as_mut_ptr().cast(), self.0.len()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(memory: &[u8]) -> Vec<usize> {
        let written = written_pages(memory).expect("this kernel has /proc/self/pagemap");
        (0..written.len()).filter(|&page| written[page]).collect()
    }

    #[test]
    fn a_mapped_image_reads_as_the_image_and_reports_exactly_the_pages_written() {
        let image = Image::new(8 * PAGE_BYTES, |bytes| {
            for (index, page) in bytes.chunks_mut(PAGE_BYTES).enumerate() {
                page.fill(index as u8 + 1);
            }
        })
        .unwrap();
        let memory = Anonymous::new(10 * PAGE_BYTES);
        let bytes = &mut *memory.0;
        bytes[9 * PAGE_BYTES] = 5;
        // SAFETY: `memory` is ours.
        unsafe { image.map_into(bytes) }.unwrap();
        // Reading every page of the image makes none of them written.
        for page in 0..8 {
            assert!(bytes[page * PAGE_BYTES..][..PAGE_BYTES]
                .iter()
                .all(|&b| b == page as u8 + 1));
        }
        assert_eq!(
            written(bytes),
            [9],
            "only the anonymous page written before"
        );
        bytes[2 * PAGE_BYTES + 4097] = 0;
        bytes[6 * PAGE_BYTES + PAGE_BYTES - 1] = 0;
        assert_eq!(written(bytes), [2, 6, 9]);
        // The image itself is unchanged: writes are private.
        assert_eq!(image.page(2)[4097], 3);
        // Discarding the written pages gives the image back.
        // SAFETY: `memory` is ours.
        unsafe { discard(&mut bytes[..8 * PAGE_BYTES]) }.unwrap();
        assert_eq!(bytes[2 * PAGE_BYTES + 4097], 3);
        assert_eq!(written(bytes), [9]);
        // Discarding anonymous memory gives zeros.
        // SAFETY: `memory` is ours.
        unsafe { discard(&mut bytes[8 * PAGE_BYTES..]) }.unwrap();
        assert_eq!(bytes[9 * PAGE_BYTES], 0);
    }

    #[test]
    fn a_stored_image_opens_with_the_same_contents_and_name() {
        let dir = tempfile::tempdir().unwrap();
        let image = Image::new(3 * PAGE_BYTES, |bytes| bytes[PAGE_BYTES + 1] = 7).unwrap();
        image.store_in(dir.path()).unwrap();
        image.store_in(dir.path()).unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(files.len(), 1, "one file, no temporary left");
        let opened = Image::open(&dir.path().join(image.name())).unwrap();
        assert_eq!(opened.bytes(), image.bytes());
        assert_eq!(opened.name(), image.name());
        let other = Image::new(3 * PAGE_BYTES, |bytes| bytes[PAGE_BYTES + 1] = 8).unwrap();
        assert_ne!(other.name(), image.name());
        // An opened image maps copy-on-write like a made one.
        let memory = Anonymous::new(3 * PAGE_BYTES);
        // SAFETY: `memory` is ours.
        unsafe { opened.map_into(memory.0) }.unwrap();
        assert_eq!(memory.0[PAGE_BYTES + 1], 7);
        assert_eq!(written(memory.0), Vec::<usize>::new());
        memory.0[1] = 1;
        assert_eq!(written(memory.0), [0]);
        assert_eq!(opened.page(0)[1], 0);
    }

    #[test]
    fn image_pages_hash_their_bytes() {
        let image = Image::new(2 * PAGE_BYTES, |bytes| bytes[PAGE_BYTES] = 1).unwrap();
        assert_eq!(
            image.page_hash(0),
            <[u8; 32]>::from(Sha256::digest([0u8; PAGE_BYTES]))
        );
        let mut page = [0u8; PAGE_BYTES];
        page[0] = 1;
        assert_eq!(image.page_hash(1), <[u8; 32]>::from(Sha256::digest(page)));
    }
}
