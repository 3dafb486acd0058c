//! TLS in the SMTP session: STARTTLS (RFC 3207), implicit TLS for
//! submission (RFC 8314) and the REQUIRETLS MAIL parameter (RFC 8689).
//!
//! STARTTLS is rejected when the client pipelined anything after it, whether
//! the bytes are already in the input buffer or still on the socket. Taking
//! them would run plaintext commands as if they had come through TLS, the
//! injection of CVE-2011-0411, so the session replies 554 and closes instead.
//! After a successful handshake the session discards the EHLO name and the
//! transaction, so the client must greet again (RFC 3207 section 4.2).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use ringmail_protocols::smtp::{self, LineReader, MailParameters, Reply};

use super::{status, Next, Outcome, Session, SessionState};
use crate::connection::Connection;
use crate::runtime::net::TcpStream;
use crate::server::{Shared, Shutdown};
use crate::smtp::SmtpService;

/// Runs one SMTP session on an implicit-TLS listener: the TLS handshake
/// comes before the greeting. A failed handshake ends the session, logged.
pub async fn run_tls_session(
    stream: TcpStream,
    peer: SocketAddr,
    service: SmtpService,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut connection = Connection::new(stream);
    let timeout = shared.config.smtp_command_timeout();
    if let Err(error) = connection.start_tls(shared.tls.clone(), timeout).await {
        // A client that connects and closes at once (a port probe, a health
        // check) is routine; other failures are worth an info line.
        if error.kind() == io::ErrorKind::UnexpectedEof {
            tracing::debug!(%peer, %error, "tls handshake failed on implicit-tls listener, closing");
        } else {
            tracing::info!(%peer, %error, "tls handshake failed on implicit-tls listener, closing");
        }
        connection.shutdown_write();
        return Ok(());
    }

    let mut session = Session::new(connection, peer, shared, shutdown);
    session.service = service;
    session.tls = true;
    let result = session.run().await;
    session.connection.shutdown_write();
    result
}

impl Session {
    /// Runs the TLS handshake after the 220 to STARTTLS went out, and resets
    /// the session state. Returns false when the handshake failed and the
    /// session must end.
    pub(super) async fn start_tls(&mut self) -> bool {
        let timeout = self.shared.config.smtp_command_timeout();
        let config = self.shared.tls.clone();
        if let Err(error) = self.connection.start_tls(config, timeout).await {
            tracing::info!(peer = %self.peer, %error, "tls handshake after STARTTLS failed, closing");
            return false;
        }

        // RFC 3207 section 4.2: discard everything the client sent before
        // the handshake, the AUTH identity included.
        self.tls = true;
        self.helo = None;
        self.auth_user = None;
        self.extended = false;
        self.transaction = None;
        self.lines = LineReader::new(smtp::COMMAND_LINE_MAX);
        tracing::debug!(
            peer = %self.peer,
            tls = self.connection.tls_summary().unwrap_or_default(),
            "smtp session upgraded to tls"
        );
        true
    }
}

/// Returns the reply to STARTTLS.
pub(super) fn starttls_command(state: &SessionState<'_>) -> Outcome {
    if state.tls {
        return Outcome::out_of_order("TLS is already active");
    }
    if !state.starttls_offered {
        return Outcome::reply(502, status(5, 5, 1), "STARTTLS is not offered on this port");
    }
    Outcome {
        reply: Some(Reply::new(220, status(2, 0, 0), "Ready to start TLS")),
        next: Next::StartTls,
    }
}

/// Replaces an accepted STARTTLS with a 554 and a close when the client
/// sent anything after the STARTTLS line: `trailing_len` bytes in the input
/// buffer, or bytes still unread on the socket. Other outcomes pass through.
pub(super) fn reject_pipelined_starttls(
    outcome: Outcome,
    trailing_len: usize,
    connection: &Connection,
    peer: SocketAddr,
) -> Outcome {
    if !matches!(outcome.next, Next::StartTls) {
        return outcome;
    }
    // An error from the socket check counts as pending input: when in doubt,
    // do not start TLS.
    let on_socket = connection.has_pending_input().unwrap_or(true);
    if trailing_len == 0 && !on_socket {
        return outcome;
    }

    tracing::info!(%peer, trailing_len, on_socket, "commands pipelined after STARTTLS, closing");
    Outcome {
        reply: Some(Reply::new(
            554,
            status(5, 5, 0),
            "commands pipelined after STARTTLS rejected, closing connection",
        )),
        next: Next::Close,
    }
}

/// Returns the EHLO keywords that depend on TLS: STARTTLS before TLS where
/// the listener offers it, REQUIRETLS only over TLS (RFC 8689 section 4).
pub(super) fn ehlo_keywords(tls: bool, starttls_offered: bool) -> Option<&'static str> {
    match (tls, starttls_offered) {
        (true, _) => Some("REQUIRETLS"),
        (false, true) => Some("STARTTLS"),
        (false, false) => None,
    }
}

/// Returns the rejection of MAIL FROM with REQUIRETLS on a plaintext
/// connection, or `None` when the parameters may go on.
pub(super) fn check_requiretls(
    state: &SessionState<'_>,
    parameters: &MailParameters,
) -> Option<Outcome> {
    if !parameters.requiretls || state.tls {
        return None;
    }
    Some(Outcome::reply(
        530,
        status(5, 7, 10),
        "REQUIRETLS needs a TLS connection, use STARTTLS first",
    ))
}
