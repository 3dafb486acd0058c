//! [`FileVersion`]: what tells one version of a file from the next, for
//! caches that load a file again only when it changed.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The identity of one version of a file. A replace by rename gives a new
/// inode, and an in-place write a new modification time or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileVersion {
    device: u64,
    inode: u64,
    len: u64,
    modified_nanos: i128,
}

impl FileVersion {
    /// Returns the version that `metadata` describes.
    pub fn of(metadata: &std::fs::Metadata) -> FileVersion {
        FileVersion {
            device: metadata.dev(),
            inode: metadata.ino(),
            len: metadata.len(),
            modified_nanos: i128::from(metadata.mtime()) * 1_000_000_000
                + i128::from(metadata.mtime_nsec()),
        }
    }

    /// Returns the version of the file at `path`, or `None` when it is
    /// missing or its metadata cannot be read.
    pub fn of_path(path: &Path) -> Option<FileVersion> {
        std::fs::metadata(path)
            .ok()
            .map(|metadata| FileVersion::of(&metadata))
    }
}
