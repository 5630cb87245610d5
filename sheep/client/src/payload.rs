//! Frame payloads that need not pass through memory: a [`FileRange`] of
//! an open file is sent with `sendfile(2)` (see [`crate::sendfile`]).

use std::fs::File;
use std::io;

/// A byte range of an open object file (what the daemon's store hands out for a read,
/// and what `dog` sends from stdin).
#[derive(Debug, Clone)]
pub struct FileRange {
    /// The open object file.
    pub file: std::sync::Arc<File>,
    /// Where the range starts in the file.
    pub offset: u64,
    /// Its length in bytes.
    pub len: usize,
}

impl FileRange {
    /// Reads the range into memory.
    ///
    /// # Errors
    ///
    /// I/O errors, or `UnexpectedEof` if the file ends inside the range.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let mut buf = vec![0; self.len];
        self.file.read_exact_at(&mut buf, self.offset)?;
        Ok(buf)
    }
}

/// A frame payload: bytes in memory, or a range of a file sent with
/// `sendfile(2)` (a reply from an object file, or a dog request from
/// stdin).
#[derive(Debug)]
pub enum Payload {
    /// In memory.
    Bytes(bytes::Bytes),
    /// Sent from the file.
    File(FileRange),
}

impl Payload {
    /// Bytes the payload puts on the wire.
    pub fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::File(f) => f.len,
        }
    }

    /// No bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<bytes::Bytes> for Payload {
    fn from(b: bytes::Bytes) -> Payload {
        Payload::Bytes(b)
    }
}
