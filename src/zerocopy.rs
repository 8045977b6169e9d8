//! Zero-copy sending of large cached media.
//!
//! Writing a cached 150 KB image from memory costs the kernel a copy of
//! every byte into the socket (`_copy_from_iter` was a quarter of all CPU
//! samples serving `/media`), where nginx hands the page cache to the
//! socket with `sendfile`. So large bodies are kept in a sealed `memfd`
//! ([`Sealed`]) and mapped read-only: handlers and hyper see ordinary
//! [`Bytes`], and the connection ([`Conn`]) recognises a write of bytes
//! that lie in such a mapping and sends them from the memfd with
//! `sendfile` instead. The bytes on the wire are the same either way; a
//! write it does not recognise is an ordinary write.

use std::collections::BTreeMap;
use std::io::{self, IoSlice, Write};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use rustix::fs::{MemfdFlags, SealFlags};
use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Writes shorter than this are copied as usual: not worth a lookup.
const MIN_SENDFILE: usize = 16 * 1024;

/// Bytes sent with `sendfile` so far (all connections, this process).
static SENT: AtomicU64 = AtomicU64::new(0);

/// How many bytes have gone out with `sendfile`, without a copy.
pub fn sent_bytes() -> u64 {
    SENT.load(Ordering::Relaxed)
}

/// Mappings of sealed memfds by start address: (length, the memfd).
type Registry = RwLock<BTreeMap<usize, (usize, Arc<OwnedFd>)>>;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Default::default)
}

/// The memfd holding `[ptr, ptr + len)` and the offset of `ptr` in it.
fn lookup(ptr: *const u8, len: usize) -> Option<(Arc<OwnedFd>, u64)> {
    let addr = ptr as usize;
    let map = registry().read().unwrap_or_else(|e| e.into_inner());
    let (&start, (map_len, fd)) = map.range(..=addr).next_back()?;
    (addr + len <= start + map_len).then(|| (fd.clone(), (addr - start) as u64))
}

/// A body being written into a memfd; [`SealedWriter::finish`] seals it
/// and maps it.
pub(crate) struct SealedWriter {
    file: std::fs::File,
    len: usize,
}

impl SealedWriter {
    pub fn new() -> io::Result<Self> {
        let fd = rustix::fs::memfd_create(
            "igfeed-media",
            MemfdFlags::CLOEXEC | MemfdFlags::ALLOW_SEALING,
        )?;
        Ok(Self {
            file: std::fs::File::from(fd),
            len: 0,
        })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.file.write_all(chunk)?;
        self.len += chunk.len();
        Ok(())
    }

    /// Seals the memfd against any change and maps it read-only.
    pub fn finish(self) -> io::Result<Bytes> {
        if self.len == 0 {
            return Ok(Bytes::new());
        }
        let fd = OwnedFd::from(self.file);
        rustix::fs::fcntl_add_seals(
            &fd,
            SealFlags::WRITE | SealFlags::SHRINK | SealFlags::GROW | SealFlags::SEAL,
        )?;
        let map = map_sealed(&fd, self.len)?;
        let start = map.as_ptr() as usize;
        let fd = Arc::new(fd);
        registry()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(start, (self.len, fd));
        Ok(Bytes::from_owner(Sealed { map, start }))
    }
}

/// Maps a sealed memfd read-only.
#[allow(unsafe_code)]
fn map_sealed(fd: &OwnedFd, len: usize) -> io::Result<memmap2::Mmap> {
    // SAFETY: memmap2 marks file mappings unsafe because another writer
    // could change or truncate the file under the mapping. This memfd is
    // anonymous, never shared, and sealed against writes, shrinking and
    // growing (F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
    // before it is mapped, so its contents cannot change for the life of
    // the mapping.
    unsafe { memmap2::MmapOptions::new().len(len).map(fd) }
}

/// A sealed memfd's read-only mapping, registered while it lives.
struct Sealed {
    map: memmap2::Mmap,
    start: usize,
}

impl AsRef<[u8]> for Sealed {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Sealed {
    fn drop(&mut self) {
        // Unregistered before the mapping goes, so its address can never
        // be taken for another body's.
        registry()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.start);
    }
}

/// A server connection that sends bytes of sealed mappings with
/// `sendfile` and everything else as usual.
pub struct Conn {
    stream: TcpStream,
}

impl Conn {
    pub fn new(stream: TcpStream) -> Self {
        Self { stream }
    }

    /// Runs `op` when the socket is writable, until it does not block.
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        mut op: impl FnMut(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_io(Interest::WRITABLE, || op(&self.stream)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let sendable = bufs.iter().enumerate().find_map(|(i, b)| {
            if b.len() < MIN_SENDFILE {
                return None;
            }
            lookup(b.as_ptr(), b.len()).map(|(fd, offset)| (i, fd, offset))
        });
        match sendable {
            None => Pin::new(&mut self.stream).poll_write_vectored(cx, bufs),
            // What comes before (the response head) goes first, marked
            // as more to come so it shares a segment with the body.
            Some((i, _, _)) if i > 0 => self.poll_send(cx, |s| {
                rustix::net::sendmsg(
                    s,
                    &bufs[..i],
                    &mut SendAncillaryBuffer::default(),
                    SendFlags::MORE | SendFlags::NOSIGNAL,
                )
                .map_err(io::Error::from)
            }),
            Some((_, fd, offset)) => {
                let len = bufs[0].len();
                let sent = ready!(self.poll_send(cx, |s| {
                    let mut at = offset;
                    rustix::fs::sendfile(s, &*fd, Some(&mut at), len).map_err(io::Error::from)
                }))?;
                SENT.fetch_add(sent as u64, Ordering::Relaxed);
                Poll::Ready(Ok(sent))
            }
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bodies_are_registered_while_they_live() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut w = SealedWriter::new().unwrap();
        w.write(&data[..40_000]).unwrap();
        w.write(&data[40_000..]).unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(&bytes[..], &data[..]);
        let part = bytes.slice(30_000..90_000);
        let (_, offset) = lookup(part.as_ptr(), part.len()).expect("registered");
        assert_eq!(offset, 30_000);
        assert!(
            lookup(data.as_ptr(), data.len()).is_none(),
            "heap bytes are not"
        );
        let addr = bytes.as_ptr();
        drop((bytes, part));
        assert!(lookup(addr, MIN_SENDFILE).is_none(), "unregistered on drop");
    }
}
