//! A session's connection: the socket with its input and output buffers,
//! in plaintext or over TLS.
//!
//! Input is read into the spare capacity of one buffer; the parsers borrow
//! from it and the session marks what they consumed. Replies collect in the
//! output buffer and go out in one write per round trip, which is how
//! pipelined SMTP replies and IMAP untagged responses are grouped.
//!
//! After [`Connection::start_tls`] the same calls go through a rustls
//! [`ServerConnection`]. [`Connection::fill`] reads TLS records from the
//! socket into a record buffer, lets rustls decrypt them and appends the
//! plaintext to the input buffer. [`Connection::flush`] and [`Writer::send`]
//! encrypt the output in chunks of [`SEAL_CHUNK`] and write the records. The
//! rustls state sits in an `Rc<RefCell<..>>` shared with every [`Writer`],
//! which is sound because a worker runs its sessions on one thread and no
//! borrow is held across an await. Sessions see the same API either way.

use std::cell::RefCell;
use std::io::{self, Read as _, Write as _};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rustls::{ServerConfig, ServerConnection};

use crate::runtime::{self, net::TcpStream};
use crate::server::Shutdown;

/// Bytes reserved before each read. 16 KiB fits a pipelined command batch or
/// a few DATA packets; larger messages take several reads.
pub const READ_CHUNK: usize = 16 * 1024;

/// Plaintext encrypted per socket write over TLS: one maximum-size TLS
/// record. Sending a large FETCH in chunks keeps the record buffer small,
/// and it stays within rustls's 64 KiB limit on records not yet written.
pub const SEAL_CHUNK: usize = 16 * 1024;

/// Result of waiting for more input.
#[derive(Debug)]
pub enum Fill {
    /// New bytes were appended to the input.
    Data,
    /// The peer closed the connection.
    Closed,
    /// No bytes arrived before the timeout.
    TimedOut,
    /// Shutdown began while waiting.
    Shutdown,
}

/// The socket of one session with its buffers.
pub struct Connection {
    stream: Rc<TcpStream>,
    /// The TLS session, once [`Connection::start_tls`] began.
    tls: Option<Rc<TlsLink>>,
    /// TLS records read from the socket that rustls has not taken yet,
    /// usually the start of a record whose rest is still in flight.
    records_in: Vec<u8>,
    input: Vec<u8>,
    start: usize,
    output: Vec<u8>,
}

/// The rustls state of one connection, shared with its [`Writer`]s.
struct TlsLink {
    session: RefCell<ServerConnection>,
    /// Held from encrypting a chunk until its records are on the socket, so
    /// that records from `flush`, a `Writer` and the read path (alerts, key
    /// updates) reach the socket in the order rustls numbered them.
    send_order: tokio::sync::Mutex<()>,
}

/// Plaintext and end-of-stream state after feeding buffered records to rustls.
struct Decrypted {
    /// Plaintext bytes appended to the input.
    appended: usize,
    /// The peer sent close_notify.
    closed: bool,
}

impl Connection {
    /// Wraps an accepted stream.
    pub fn new(stream: TcpStream) -> Self {
        Connection {
            stream: Rc::new(stream),
            tls: None,
            records_in: Vec::new(),
            input: Vec::with_capacity(READ_CHUNK),
            start: 0,
            output: Vec::with_capacity(4096),
        }
    }

    /// Returns the input not yet consumed.
    pub fn input(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// Marks `len` bytes at the front of the input as consumed.
    pub fn consume(&mut self, len: usize) {
        assert!(
            len <= self.input.len() - self.start,
            "consumed past the input"
        );
        self.start += len;
        if self.start == self.input.len() {
            self.input.clear();
            self.start = 0;
        }
    }

    /// Returns the unconsumed input and the output buffer together, so a
    /// parser can borrow the input while replies are appended.
    pub fn split(&mut self) -> (&[u8], &mut Vec<u8>) {
        (&self.input[self.start..], &mut self.output)
    }

    /// Returns the length of the input not yet consumed.
    pub fn pending_len(&self) -> usize {
        self.input.len() - self.start
    }

    /// Returns the output buffer, for replies to be appended.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.output
    }

    /// Sends everything in the output buffer.
    pub async fn flush(&mut self) -> io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let output = std::mem::take(&mut self.output);
        let (result, mut output) = match &self.tls {
            None => self.stream.write_all(output).await,
            Some(link) => {
                let result = send_sealed(&self.stream, link, &output).await;
                (result, output)
            }
        };
        output.clear();
        self.output = output;
        result
    }

    /// Reads more input, waiting at most `timeout`. With `shutdown`, also
    /// returns when shutdown begins. After `TimedOut` or `Shutdown` the
    /// unconsumed input is gone and the session must close. Over TLS, a
    /// record that fails to decrypt or a TLS alert from the peer is an
    /// `InvalidData` error, after the alert for the peer is sent.
    pub async fn fill(
        &mut self,
        timeout: Duration,
        shutdown: Option<&mut Shutdown>,
    ) -> io::Result<Fill> {
        self.compact();
        let outcome = match shutdown {
            Some(shutdown) => {
                if shutdown.is_started() {
                    return Ok(Fill::Shutdown);
                }
                let read = runtime::timeout(timeout, self.read_input());
                tokio::select! {
                    outcome = read => Some(outcome),
                    _ = shutdown.started() => None,
                }
            }
            None => Some(runtime::timeout(timeout, self.read_input()).await),
        };

        match outcome {
            None => Ok(Fill::Shutdown),
            Some(Err(runtime::Elapsed)) => Ok(Fill::TimedOut),
            Some(Ok(appended)) => match appended? {
                0 => Ok(Fill::Closed),
                _ => Ok(Fill::Data),
            },
        }
    }

    /// Appends the next plaintext from the peer to the input and returns its
    /// length, 0 at end of stream. A dropped call leaves the input empty.
    async fn read_input(&mut self) -> io::Result<usize> {
        if self.tls.is_some() {
            return self.read_tls_input().await;
        }
        self.input.reserve(READ_CHUNK);
        let input = std::mem::take(&mut self.input);
        let (result, input) = self.stream.read(input).await;
        self.input = input;
        result
    }

    /// Reads TLS records until one yields plaintext or the peer closes, and
    /// returns the plaintext length as [`Connection::read_input`] does.
    async fn read_tls_input(&mut self) -> io::Result<usize> {
        loop {
            let decrypted = self.decrypt_records().await?;
            if decrypted.appended > 0 {
                return Ok(decrypted.appended);
            }
            if decrypted.closed || !self.read_records().await? {
                return Ok(0);
            }
        }
    }

    /// Starts TLS as the server on this connection: runs the handshake,
    /// waiting at most `timeout` in total, and sends and receives everything
    /// after it through TLS. Bytes the client sent after its handshake are
    /// kept as input.
    ///
    /// The input must be empty, because plaintext read before the handshake
    /// must never be taken as if it came through TLS (CVE-2011-0411). On an
    /// error the connection is unusable and the session must end.
    pub async fn start_tls(
        &mut self,
        config: Arc<ServerConfig>,
        timeout: Duration,
    ) -> io::Result<()> {
        if self.tls.is_some() {
            return Err(io::Error::other("tls is already active on this connection"));
        }
        if self.pending_len() > 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes of plaintext input pending before the tls handshake",
                    self.pending_len()
                ),
            ));
        }
        let session = ServerConnection::new(config).map_err(io::Error::other)?;
        self.tls = Some(Rc::new(TlsLink {
            session: RefCell::new(session),
            send_order: tokio::sync::Mutex::new(()),
        }));

        match runtime::timeout(timeout, self.handshake()).await {
            Ok(result) => result,
            Err(runtime::Elapsed) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("tls handshake timed out after {} ms", timeout.as_millis()),
            )),
        }
    }

    /// Exchanges handshake records until rustls reports the handshake done.
    async fn handshake(&mut self) -> io::Result<()> {
        loop {
            let decrypted = self.decrypt_records().await?;
            let handshaking = self
                .tls
                .as_ref()
                .is_some_and(|link| link.session.borrow().is_handshaking());
            if !handshaking {
                return Ok(());
            }
            if decrypted.closed || !self.read_records().await? {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "peer closed the connection during the tls handshake",
                ));
            }
        }
    }

    /// Reads TLS records from the socket into `records_in`. Returns false at
    /// end of stream.
    async fn read_records(&mut self) -> io::Result<bool> {
        self.records_in.reserve(READ_CHUNK);
        let records = std::mem::take(&mut self.records_in);
        let (result, records) = self.stream.read(records).await;
        self.records_in = records;
        Ok(result? > 0)
    }

    /// Feeds the buffered records to rustls, appends the plaintext to the
    /// input and sends what rustls queued in reply (handshake messages,
    /// session tickets, alerts). A TLS error is returned after its alert
    /// has been sent.
    async fn decrypt_records(&mut self) -> io::Result<Decrypted> {
        let Some(link) = self.tls.clone() else {
            return Ok(Decrypted {
                appended: 0,
                closed: false,
            });
        };
        let decrypted = self.open_records(&link);
        let sent = send_queued_records(&self.stream, &link).await;
        let decrypted = decrypted?;
        sent?;
        Ok(decrypted)
    }

    /// Passes `records_in` through rustls and drains the plaintext into the
    /// input. Records rustls has not taken stay in `records_in`.
    fn open_records(&mut self, link: &TlsLink) -> io::Result<Decrypted> {
        let mut session = link.session.borrow_mut();
        let before = self.input.len();
        let mut offset = 0;
        let mut closed = false;
        loop {
            let mut unread = &self.records_in[offset..];
            let consumed = if unread.is_empty() {
                0
            } else {
                session.read_tls(&mut unread)?
            };
            offset += consumed;
            session.process_new_packets().map_err(|error| {
                io::Error::new(io::ErrorKind::InvalidData, format!("tls error: {error}"))
            })?;
            closed |= drain_plaintext(&mut session, &mut self.input)?;
            if consumed == 0 || offset == self.records_in.len() {
                break;
            }
        }
        self.records_in.drain(..offset);
        Ok(Decrypted {
            appended: self.input.len() - before,
            closed,
        })
    }

    /// Returns whether TLS is active: the handshake finished and every byte
    /// now goes through it.
    pub fn is_tls(&self) -> bool {
        self.tls
            .as_ref()
            .is_some_and(|link| !link.session.borrow().is_handshaking())
    }

    /// Returns the negotiated protocol and cipher suite, such as
    /// `TLSv1.3 with cipher TLS_AES_256_GCM_SHA384`, for Received headers
    /// and logs. Returns `None` before the handshake finished.
    pub fn tls_summary(&self) -> Option<String> {
        let link = self.tls.as_ref()?;
        let session = link.session.borrow();
        if session.is_handshaking() {
            return None;
        }
        let version = match session.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".to_string(),
            rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".to_string(),
            other => format!("{other:?}"),
        };
        let suite = session.negotiated_cipher_suite()?.suite();
        // rustls spells the TLS 1.3 suites TLS13_*, but the IANA registry, and
        // OpenSSL in other servers' Received headers, spell them TLS_*.
        let suite = match suite.as_str() {
            Some(name) => match name.strip_prefix("TLS13_") {
                Some(rest) => format!("TLS_{rest}"),
                None => name.to_string(),
            },
            None => format!("{suite:?}"),
        };
        Some(format!("{version} with cipher {suite}"))
    }

    /// Returns a handle that writes to the socket while the input is
    /// borrowed or a read is pending, as IMAP needs for IDLE updates and for
    /// sending a large FETCH in pieces.
    pub fn writer(&self) -> Writer {
        Writer {
            stream: self.stream.clone(),
            tls: self.tls.clone(),
        }
    }

    /// Moves unconsumed input to the front of the buffer.
    fn compact(&mut self) {
        if self.start > 0 {
            self.input.drain(..self.start);
            self.start = 0;
        }
    }

    /// Returns whether the peer sent bytes not yet read from the socket,
    /// without blocking. Bytes already in the input buffer do not count, but
    /// over TLS the part of a record already read but not yet decrypted does.
    pub fn has_pending_input(&self) -> io::Result<bool> {
        if !self.records_in.is_empty() {
            return Ok(true);
        }
        self.stream.has_pending_input()
    }

    /// Closes the write half so the peer reads end of stream after the last
    /// reply. Over TLS a close_notify alert goes first, if the socket takes
    /// it without waiting.
    pub fn shutdown_write(&self) {
        if let Some(link) = &self.tls {
            let mut session = link.session.borrow_mut();
            session.send_close_notify();
            let mut alert = Vec::new();
            while session.wants_write() {
                if session.write_tls(&mut alert).is_err() {
                    break;
                }
            }
            // NOTE: a Writer send still in flight could interleave with this
            // alert. The session ends here anyway, so at worst the peer gets
            // a truncated stream instead of a clean close.
            let _ = self.stream.try_send(&alert);
        }
        let _ = self.stream.shutdown_write();
    }
}

/// Moves every plaintext byte rustls has decrypted into `input`. Returns
/// whether the peer sent close_notify.
fn drain_plaintext(session: &mut ServerConnection, input: &mut Vec<u8>) -> io::Result<bool> {
    loop {
        let len = input.len();
        input.resize(len + READ_CHUNK, 0);
        let result = session.reader().read(&mut input[len..]);
        let read = match result {
            Ok(read) => read,
            Err(error) => {
                input.truncate(len);
                return match error.kind() {
                    io::ErrorKind::WouldBlock => Ok(false),
                    _ => Err(error),
                };
            }
        };
        input.truncate(len + read);
        if read == 0 {
            return Ok(true);
        }
    }
}

/// Encrypts `plaintext` and writes the records, [`SEAL_CHUNK`] at a time.
async fn send_sealed(stream: &TcpStream, link: &TlsLink, plaintext: &[u8]) -> io::Result<()> {
    let _order = link.send_order.lock().await;
    for chunk in plaintext.chunks(SEAL_CHUNK) {
        let records = {
            let mut session = link.session.borrow_mut();
            session.writer().write_all(chunk)?;
            take_records(&mut session)?
        };
        let (result, _) = stream.write_all(records).await;
        result?;
    }
    Ok(())
}

/// Writes the records rustls queued on its own: handshake messages, session
/// tickets, alerts and key updates.
async fn send_queued_records(stream: &TcpStream, link: &TlsLink) -> io::Result<()> {
    if !link.session.borrow().wants_write() {
        return Ok(());
    }
    let _order = link.send_order.lock().await;
    let records = take_records(&mut link.session.borrow_mut())?;
    if records.is_empty() {
        return Ok(());
    }
    let (result, _) = stream.write_all(records).await;
    result
}

/// Returns every record rustls has ready to send.
fn take_records(session: &mut ServerConnection) -> io::Result<Vec<u8>> {
    let mut records = Vec::new();
    while session.wants_write() {
        session.write_tls(&mut records)?;
    }
    Ok(records)
}

/// A second handle to a session's socket, for writing only. A writer made
/// before [`Connection::start_tls`] keeps writing plaintext.
pub struct Writer {
    stream: Rc<TcpStream>,
    tls: Option<Rc<TlsLink>>,
}

impl Writer {
    /// Sends all of `buf`, then empties it for reuse.
    pub async fn send(&self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let plaintext = std::mem::take(buf);
        let (result, mut returned) = match &self.tls {
            None => self.stream.write_all(plaintext).await,
            Some(link) => {
                let result = send_sealed(&self.stream, link, &plaintext).await;
                (result, plaintext)
            }
        };
        returned.clear();
        *buf = returned;
        result
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::SocketAddr;
    use std::thread::JoinHandle;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

    use super::*;

    /// Timeout of every handshake and read in these tests; loopback needs
    /// milliseconds, so only a hang reaches it.
    const TEST_TIMEOUT: Duration = Duration::from_secs(10);

    /// Returns a server configuration with a fresh self-signed certificate
    /// for `localhost`, and a client configuration that trusts it.
    fn configs() -> (Arc<ServerConfig>, Arc<rustls::ClientConfig>) {
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert = CertificateDer::from(generated.cert.der().to_vec());
        let key = PrivateKeyDer::try_from(generated.key_pair.serialize_der()).unwrap();

        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    /// Runs `peer` on a thread with the accepted side of a loopback
    /// connection and returns the address to connect to.
    fn spawn_peer<F>(peer: F) -> (SocketAddr, JoinHandle<()>)
    where
        F: FnOnce(std::net::TcpStream) + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(TEST_TIMEOUT)).unwrap();
            peer(stream);
        });
        (addr, handle)
    }

    /// Reads from `tls` until `expected` arrived in full.
    fn read_exact_text(tls: &mut impl Read, expected: &[u8]) {
        let mut received = vec![0u8; expected.len()];
        tls.read_exact(&mut received).unwrap();
        assert_eq!(received, expected);
    }

    #[test]
    fn tls_round_trip_through_flush_and_writer() {
        let (server_config, client_config) = configs();
        let (addr, peer) = spawn_peer(move |socket| {
            let name = ServerName::try_from("localhost").unwrap();
            let session = rustls::ClientConnection::new(client_config, name).unwrap();
            let mut tls = rustls::StreamOwned::new(session, socket);
            tls.write_all(b"EHLO client\r\n").unwrap();
            read_exact_text(&mut tls, b"250 flushed\r\n");
            read_exact_text(&mut tls, b"* pushed by writer\r\n");
            // Larger than one TLS record, so the sender splits it.
            let large = vec![b'x'; 3 * SEAL_CHUNK + 5];
            tls.write_all(&large).unwrap();
            tls.conn.send_close_notify();
            tls.flush().unwrap();
        });

        let (summary, received) = runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut connection = Connection::new(stream);
            connection
                .start_tls(server_config, TEST_TIMEOUT)
                .await
                .unwrap();
            assert!(connection.is_tls());
            let summary = connection.tls_summary().unwrap();

            while connection.input() != b"EHLO client\r\n" {
                let fill = connection.fill(TEST_TIMEOUT, None).await.unwrap();
                assert!(matches!(fill, Fill::Data), "{fill:?}");
            }
            connection.consume(connection.pending_len());
            connection.output().extend_from_slice(b"250 flushed\r\n");
            connection.flush().await.unwrap();
            let mut pushed = b"* pushed by writer\r\n".to_vec();
            connection.writer().send(&mut pushed).await.unwrap();
            assert!(pushed.is_empty(), "writer did not empty its buffer");

            loop {
                match connection.fill(TEST_TIMEOUT, None).await.unwrap() {
                    Fill::Data => {}
                    Fill::Closed => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            (summary, connection.input().to_vec())
        });
        peer.join().unwrap();

        assert!(summary.starts_with("TLSv1.3 with cipher TLS_"), "{summary}");
        assert_eq!(received.len(), 3 * SEAL_CHUNK + 5);
        assert!(received.iter().all(|&byte| byte == b'x'));
    }

    #[test]
    fn plaintext_instead_of_client_hello_is_invalid_data() {
        let (server_config, _) = configs();
        let (addr, peer) = spawn_peer(|mut socket| {
            socket
                .write_all(b"MAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\n")
                .unwrap();
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest);
        });

        let error = runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut connection = Connection::new(stream);
            let result = connection.start_tls(server_config, TEST_TIMEOUT).await;
            connection.shutdown_write();
            result.unwrap_err()
        });
        peer.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData, "{error}");
    }

    #[test]
    fn start_tls_with_plaintext_pending_rejected() {
        let (server_config, _) = configs();
        let (addr, peer) = spawn_peer(|mut socket| {
            socket
                .write_all(b"STARTTLS\r\nMAIL FROM:<x@y>\r\n")
                .unwrap();
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest);
        });

        let error = runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut connection = Connection::new(stream);
            while connection.pending_len() < b"STARTTLS\r\nMAIL FROM:<x@y>\r\n".len() {
                connection.fill(TEST_TIMEOUT, None).await.unwrap();
            }
            connection.consume(b"STARTTLS\r\n".len());
            let result = connection.start_tls(server_config, TEST_TIMEOUT).await;
            connection.shutdown_write();
            result.unwrap_err()
        });
        peer.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput, "{error}");
        assert!(!error.to_string().is_empty());
    }

    #[test]
    fn silent_client_times_out_handshake() {
        let (server_config, _) = configs();
        let (addr, peer) = spawn_peer(|mut socket| {
            let mut rest = Vec::new();
            let _ = socket.read_to_end(&mut rest);
        });

        let error = runtime::block_on(async move {
            let stream = TcpStream::connect(addr).await.unwrap();
            let mut connection = Connection::new(stream);
            let result = connection
                .start_tls(server_config, Duration::from_millis(200))
                .await;
            connection.shutdown_write();
            result.unwrap_err()
        });
        peer.join().unwrap();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut, "{error}");
        assert!(error.to_string().contains("200 ms"), "{error}");
    }
}
