//! TLS for `--starttls` and `--tls`: a rustls client driven by hand over owned buffers.
//!
//! The engine's io_uring [`TcpStream`](ringmail_engine::runtime::net::TcpStream)
//! reads into and writes from owned `Vec<u8>`s, so rustls cannot own the
//! socket. [`TlsLayer`] wraps a rustls `ClientConnection` and converts
//! between buffers instead: [`TlsLayer::seal`] turns plaintext into TLS
//! records, [`TlsLayer::open`] turns received records into plaintext, and
//! [`TlsLayer::take_records`] drains records rustls wants sent on its own
//! (handshake messages, alerts). The SMTP client does the socket I/O.
//!
//! [`client_config`] builds the one configuration a run shares. It uses the
//! `ring` provider and [`AcceptAnyServerCert`], a verifier that accepts every
//! certificate. That verifier is for testing only: a load generator talks to
//! servers with self-signed certificates, and it measures TLS cost, not trust.
//! It still checks the handshake signatures, so the TLS work done matches a
//! real client's.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

/// Builds the client configuration of a run: ring provider, TLS 1.2 and 1.3,
/// no client certificate, and [`AcceptAnyServerCert`].
pub fn client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    // rustls 0.23.48 deprecates the ring provider because it lacks
    // post-quantum key exchange. A load generator does not need that, and
    // ring avoids the cmake and C toolchain build of aws-lc-rs.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(AcceptAnyServerCert {
        provider: Arc::clone(&provider),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Test-only certificate verifier: accepts any server certificate, for any
/// name, at any time, but checks that the handshake signatures match the
/// certificate's key. Never use it where the peer must be trusted.
#[derive(Debug)]
pub struct AcceptAnyServerCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyServerCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// State of the peer after [`TlsLayer::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerState {
    /// The connection stays open.
    Open,
    /// The server sent close_notify: no more plaintext will come.
    Closed,
}

/// One client-side TLS connection without a socket.
pub struct TlsLayer {
    connection: ClientConnection,
}

impl TlsLayer {
    /// Starts a client handshake with `target`. The IP address is the server
    /// name, so no SNI is sent; the verifier ignores names anyway.
    pub fn new(config: Arc<ClientConfig>, target: SocketAddr) -> Result<Self, rustls::Error> {
        let name = ServerName::IpAddress(target.ip().into());
        Ok(TlsLayer {
            connection: ClientConnection::new(config, name)?,
        })
    }

    /// Returns whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.connection.is_handshaking()
    }

    /// Returns whether rustls has records to send.
    pub fn wants_write(&self) -> bool {
        self.connection.wants_write()
    }

    /// Appends every record rustls has queued to `wire`.
    pub fn take_records(&mut self, wire: &mut Vec<u8>) -> io::Result<()> {
        while self.connection.wants_write() {
            self.connection.write_tls(wire)?;
        }
        Ok(())
    }

    /// Encrypts `plain` and appends the records to `wire`.
    pub fn seal(&mut self, plain: &[u8], wire: &mut Vec<u8>) -> io::Result<()> {
        let mut offset = 0;
        while offset < plain.len() {
            // rustls takes plaintext up to its buffer limit, so drain the
            // records after each write to make room for the rest.
            let accepted_len = self.connection.writer().write(&plain[offset..])?;
            offset += accepted_len;
            let had_records = self.connection.wants_write();
            self.take_records(wire)?;
            if accepted_len == 0 && !had_records {
                return Err(io::Error::new(
                    io::ErrorKind::WriteZero,
                    "tls connection takes no more plaintext",
                ));
            }
        }
        Ok(())
    }

    /// Feeds the records in `wire` to rustls and appends the plaintext they
    /// carry to `plain`. Partial records stay buffered inside rustls until
    /// the next call.
    pub fn open(&mut self, mut wire: &[u8], plain: &mut Vec<u8>) -> Result<PeerState, String> {
        let mut peer = PeerState::Open;
        while !wire.is_empty() {
            let read = self
                .connection
                .read_tls(&mut wire)
                .map_err(|error| format!("reading tls records failed: {error}"))?;
            let state = self
                .connection
                .process_new_packets()
                .map_err(|error| format!("tls error: {error}"))?;

            let available = state.plaintext_bytes_to_read();
            if available > 0 {
                let start = plain.len();
                plain.resize(start + available, 0);
                self.connection
                    .reader()
                    .read_exact(&mut plain[start..])
                    .map_err(|error| format!("reading tls plaintext failed: {error}"))?;
            }
            if state.peer_has_closed() {
                peer = PeerState::Closed;
            }
            if read == 0 {
                break;
            }
        }
        Ok(peer)
    }
}
