//! File operations on the worker's io_uring: create, write, sync, rename.
//!
//! These are the operations that make a message durable, so each returns the
//! kernel's error unchanged for the caller to map to a reply (for SMTP, 451).

use std::alloc::{self, Layout};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::ptr::NonNull;
use std::rc::Rc;

use tokio_uring::buf::BoundedBuf;

/// A read-only message buffer that several writes on the ring can share, so
/// one message is written into several files without a copy per file.
///
/// Each in-flight write owns one clone, which keeps the bytes alive and in
/// place until the kernel completes the write, even if its future is dropped.
#[derive(Clone)]
pub struct SharedBuf(Rc<[u8]>);

impl SharedBuf {
    /// Wraps `bytes` for sharing between writes.
    pub fn new(bytes: Rc<[u8]>) -> Self {
        SharedBuf(bytes)
    }

    /// Returns the bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Rc<[u8]>> for SharedBuf {
    fn from(bytes: Rc<[u8]>) -> Self {
        SharedBuf(bytes)
    }
}

// SAFETY: the bytes live in the `Rc`'s heap allocation, which never moves and
// stays alive while this clone exists, so `stable_ptr` stays valid however the
// `SharedBuf` itself is moved. `SharedBuf` gives out no mutable access (no
// `IoBufMut`, no `Rc::get_mut`), so no one writes the bytes while the kernel reads them, and
// all of them are initialized, so `bytes_init` and `bytes_total` are the length.
unsafe impl tokio_uring::buf::IoBuf for SharedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.0.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.0.len()
    }

    fn bytes_total(&self) -> usize {
        self.0.len()
    }
}

/// The alignment in bytes of the memory, the file offset and the length of
/// each write to a file opened with [`File::open_direct_sync`]. 4096 is a
/// multiple of the logical block size of common disks (512 or 4096 bytes).
pub const DIRECT_IO_ALIGN: usize = 4096;

/// A heap buffer whose start and length are multiples of [`DIRECT_IO_ALIGN`],
/// as O_DIRECT writes need. It is filled once, when it is made.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
}

impl AlignedBuf {
    /// Copies `bytes` into a new aligned buffer, with zeros after them up to
    /// the next multiple of [`DIRECT_IO_ALIGN`] (at least one block).
    pub fn padded_copy(bytes: &[u8]) -> AlignedBuf {
        let len = bytes.len().div_ceil(DIRECT_IO_ALIGN).max(1) * DIRECT_IO_ALIGN;
        let layout = Self::layout(len);
        // SAFETY: `layout` has a non-zero size (at least one block).
        let raw = unsafe { alloc::alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            alloc::handle_alloc_error(layout);
        };
        // SAFETY: the allocation holds `len` bytes and `bytes.len() <= len`;
        // it is new, so it does not overlap `bytes`. Every byte is written
        // here, the copy then the zeros, so all `len` bytes are initialized.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len());
            std::ptr::write_bytes(ptr.as_ptr().add(bytes.len()), 0, len - bytes.len());
        }
        debug_assert_eq!(ptr.as_ptr() as usize % DIRECT_IO_ALIGN, 0);
        AlignedBuf { ptr, len }
    }

    /// Returns the bytes, padding included.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: `ptr` points to `len` initialized bytes that this buffer
        // owns, and `&self` keeps them from changing.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn layout(len: usize) -> Layout {
        Layout::from_size_align(len, DIRECT_IO_ALIGN).expect("aligned buffer length overflows")
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc::alloc` with this same layout, and
        // is freed only here.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), Self::layout(self.len)) }
    }
}

// SAFETY: the bytes live in a heap allocation that this buffer owns, which
// never moves and is freed only on drop, so `stable_ptr` stays valid however
// the `AlignedBuf` itself is moved. There is no mutable access after
// `padded_copy`, and all bytes are initialized, so `bytes_init` and
// `bytes_total` are the length.
unsafe impl tokio_uring::buf::IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.len
    }
}

/// A file opened on the worker's ring.
pub struct File {
    inner: tokio_uring::fs::File,
}

impl File {
    /// Creates a new file with mode 0600; fails if `path` already exists.
    pub async fn create_new(path: &Path) -> io::Result<Self> {
        let inner = tokio_uring::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .await?;
        Ok(File { inner })
    }

    /// Opens the file at `path` for writing, creating it with mode 0600 when
    /// missing. Existing bytes are kept, so the caller writes at its own offsets.
    pub async fn open_or_create(path: &Path) -> io::Result<Self> {
        let inner = tokio_uring::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .await?;
        Ok(File { inner })
    }

    /// Opens an existing file for writes that bypass the page cache and are
    /// durable when they complete (O_DIRECT and O_DSYNC): each write is one
    /// device write plus a cache flush, with no fdatasync after it. Writes
    /// must use [`File::write_all_direct_at`]. File systems without O_DIRECT
    /// (tmpfs, for one) fail this with `EINVAL`.
    pub async fn open_direct_sync(path: &Path) -> io::Result<Self> {
        let inner = tokio_uring::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
            .open(path)
            .await?;
        Ok(File { inner })
    }

    /// Opens an existing file for reading.
    pub async fn open(path: &Path) -> io::Result<Self> {
        let inner = tokio_uring::fs::File::open(path).await?;
        Ok(File { inner })
    }

    /// Writes all of `buf` at byte offset `pos` and returns the buffer.
    pub async fn write_all_at(&self, buf: Vec<u8>, pos: u64) -> (io::Result<()>, Vec<u8>) {
        self.inner.write_all_at(buf, pos).await
    }

    /// Writes all of the aligned `buf` at byte offset `pos`, a multiple of
    /// [`DIRECT_IO_ALIGN`], and returns the buffer. On a file opened with
    /// [`File::open_direct_sync`] the bytes are durable once this returns `Ok`.
    pub async fn write_all_direct_at(
        &self,
        buf: AlignedBuf,
        pos: u64,
    ) -> (io::Result<()>, AlignedBuf) {
        debug_assert!(pos.is_multiple_of(DIRECT_IO_ALIGN as u64));
        self.inner.write_all_at(buf, pos).await
    }

    /// Writes all of the shared `buf` at byte offset `pos` and returns the buffer.
    pub async fn write_all_shared_at(
        &self,
        buf: SharedBuf,
        pos: u64,
    ) -> (io::Result<()>, SharedBuf) {
        self.inner.write_all_at(buf, pos).await
    }

    /// Reads into the spare capacity of `buf` from byte offset `pos`.
    pub async fn read_at(&self, buf: Vec<u8>, pos: u64) -> (io::Result<usize>, Vec<u8>) {
        let start = buf.len();
        let (result, slice) = self.inner.read_at(buf.slice(start..), pos).await;
        (result, slice.into_inner())
    }

    /// Reserves disk blocks for the first `len` bytes of the file and extends
    /// its size to `len` when shorter (fallocate with mode 0), so later writes
    /// inside that range need no new blocks. Copy-on-write file systems may
    /// still allocate on write.
    pub async fn allocate(&self, len: u64) -> io::Result<()> {
        self.inner.fallocate(0, len, 0).await
    }

    /// Flushes the file's data, and the metadata needed to read it back, to
    /// stable storage (fdatasync).
    pub async fn sync_data(&self) -> io::Result<()> {
        self.inner.sync_data().await
    }

    /// Flushes the file's data and all of its metadata (fsync).
    pub async fn sync_all(&self) -> io::Result<()> {
        self.inner.sync_all().await
    }

    /// Closes the file, reporting any error the close returns.
    pub async fn close(self) -> io::Result<()> {
        self.inner.close().await
    }
}

/// Renames `from` to `to`, replacing `to` if it exists. Both must be on the
/// same file system for the rename to be atomic.
pub async fn rename(from: &Path, to: &Path) -> io::Result<()> {
    tokio_uring::fs::rename(from, to).await
}

/// Removes the file at `path`.
pub async fn remove_file(path: &Path) -> io::Result<()> {
    tokio_uring::fs::remove_file(path).await
}

/// Makes the entries of directory `path` durable, so that a file created or
/// renamed into it survives a power cut (fsync on the directory).
pub async fn sync_dir(path: &Path) -> io::Result<()> {
    let dir = tokio_uring::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .await?;
    dir.sync_all().await?;
    dir.close().await
}
