//! TCP listeners and streams on the worker's io_uring.
//!
//! Buffers are owned: a read takes a `Vec<u8>`, fills its spare capacity and
//! hands it back, because the kernel may still write into the buffer until the
//! operation completes, even if the future was dropped.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio_uring::buf::BoundedBuf;

/// Backlog of each listening socket. Each worker has its own listener, so the
/// total is this number times the worker count.
pub const LISTEN_BACKLOG: i32 = 1024;

/// Binds a listener with SO_REUSEPORT set, so that every worker can bind the
/// same address and the kernel spreads new connections across them.
pub fn bind_reuseport(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// A listening socket owned by one worker.
pub struct TcpListener {
    inner: tokio_uring::net::TcpListener,
}

impl TcpListener {
    /// Takes over a bound and listening std listener. Must run on a worker.
    pub fn from_std(listener: std::net::TcpListener) -> Self {
        TcpListener {
            inner: tokio_uring::net::TcpListener::from_std(listener),
        }
    }

    /// Returns the address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    /// Stops the socket from taking new connections: pending and future
    /// connection attempts are refused, while accepted streams stay open.
    pub fn stop_accepting(&self) {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor belongs to this listener and stays open for
        // the call; shutdown on a listening socket has no memory effects.
        let result = unsafe { libc::shutdown(self.inner.as_raw_fd(), libc::SHUT_RDWR) };
        if result != 0 {
            tracing::debug!(error = %io::Error::last_os_error(), "shutdown of listener failed");
        }
    }

    /// Waits for the next connection.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        stream.set_nodelay(true)?;
        Ok((TcpStream { inner: stream }, peer))
    }
}

/// A connected TCP socket owned by one worker.
pub struct TcpStream {
    inner: tokio_uring::net::TcpStream,
}

impl TcpStream {
    /// Connects to `addr` from the current worker.
    pub async fn connect(addr: SocketAddr) -> io::Result<Self> {
        let inner = tokio_uring::net::TcpStream::connect(addr).await?;
        inner.set_nodelay(true)?;
        Ok(TcpStream { inner })
    }

    /// Reads into the spare capacity of `buf`, after its current contents, and
    /// returns the number of bytes read (0 at end of stream) with the buffer.
    ///
    /// The caller reserves capacity first; a buffer with no spare capacity
    /// reads nothing and returns 0.
    pub async fn read(&self, buf: Vec<u8>) -> (io::Result<usize>, Vec<u8>) {
        debug_assert!(buf.capacity() > buf.len(), "read needs spare capacity");
        // A Vec passed whole is filled from index 0; a slice from its current
        // length makes the kernel write into the spare capacity only.
        let start = buf.len();
        let (result, slice) = self.inner.read(buf.slice(start..)).await;
        (result, slice.into_inner())
    }

    /// Writes every byte of `buf` and returns the buffer for reuse.
    pub async fn write_all(&self, buf: Vec<u8>) -> (io::Result<()>, Vec<u8>) {
        self.inner.write_all(buf).await
    }

    /// Shuts down the write half, so the peer reads end of stream.
    pub fn shutdown_write(&self) -> io::Result<()> {
        self.inner.shutdown(std::net::Shutdown::Write)
    }

    /// Sends what of `buf` fits in the socket's send buffer now, without
    /// waiting, and returns the number of bytes sent. It suits a last small
    /// message, such as a TLS close_notify alert, from code that cannot wait.
    pub fn try_send(&self, buf: &[u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;

        let fd = self.inner.as_raw_fd();
        debug_assert!(fd >= 0, "stream has an open descriptor");
        // SAFETY: the descriptor belongs to this stream and stays open for the
        // call. send reads at most buf.len() bytes from buf, which is valid
        // for reads of that length. MSG_DONTWAIT makes the call return EAGAIN
        // instead of blocking, and MSG_NOSIGNAL turns SIGPIPE into EPIPE.
        let sent = unsafe {
            libc::send(
                fd,
                buf.as_ptr().cast::<libc::c_void>(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sent as usize)
    }

    /// Returns whether the peer sent bytes that no read has taken yet,
    /// without blocking and without consuming them. End of stream counts
    /// as no input.
    pub fn has_pending_input(&self) -> io::Result<bool> {
        use std::os::fd::AsRawFd;

        let fd = self.inner.as_raw_fd();
        debug_assert!(fd >= 0, "stream has an open descriptor");
        let mut byte = 0u8;
        // SAFETY: the descriptor belongs to this stream and stays open for the
        // call. recv writes at most 1 byte into `byte`, which is valid and
        // writable for that length. MSG_PEEK leaves the data queued, and
        // MSG_DONTWAIT makes the call return EAGAIN instead of blocking.
        let received = unsafe {
            libc::recv(
                fd,
                std::ptr::addr_of_mut!(byte).cast::<libc::c_void>(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if received > 0 {
            return Ok(true);
        }
        if received == 0 {
            return Ok(false);
        }
        let error = io::Error::last_os_error();
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(false),
            _ => Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn second_read_appends_after_pending_input() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            peer.write_all(b"first ").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(50));
            peer.write_all(b"second").unwrap();
        });

        let received = crate::runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut buf = Vec::with_capacity(64);
            while buf.len() < b"first second".len() {
                buf.reserve(64);
                let (result, returned) = stream.read(buf).await;
                buf = returned;
                assert!(result.unwrap() > 0, "peer closed early");
            }
            buf
        });
        writer.join().unwrap();
        assert_eq!(received, b"first second");
    }

    #[test]
    fn pending_input_is_seen_without_consuming_it() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (sent_sender, sent_receiver) = std::sync::mpsc::channel::<()>();
        let (checked_sender, checked_receiver) = std::sync::mpsc::channel::<()>();
        let writer = std::thread::spawn(move || {
            let (mut peer, _) = listener.accept().unwrap();
            checked_receiver.recv().unwrap();
            peer.write_all(b"EHLO early\r\n").unwrap();
            sent_sender.send(()).unwrap();
            checked_receiver.recv().unwrap();
        });

        let (silent, pending, received) = crate::runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let silent = stream.has_pending_input().unwrap();
            checked_sender.send(()).unwrap();
            sent_receiver.recv().unwrap();
            // The bytes are on loopback once write_all returned, but give the
            // kernel a moment to queue them on the receiving socket.
            let mut pending = false;
            for _ in 0..100 {
                pending = stream.has_pending_input().unwrap();
                if pending {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let (result, buf) = stream.read(Vec::with_capacity(64)).await;
            result.unwrap();
            checked_sender.send(()).unwrap();
            (silent, pending, buf)
        });
        writer.join().unwrap();

        assert!(!silent, "silent peer reported as pending input");
        assert!(pending, "sent bytes not reported as pending input");
        assert_eq!(received, b"EHLO early\r\n", "peek consumed the bytes");
    }
}
