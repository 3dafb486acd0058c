//! One SMTP session: greeting, commands, DATA and BDAT, and local delivery.
//!
//! The loop reads into the connection's buffer, lets the parser take every
//! complete command in it (a pipelined batch is handled in one pass), and
//! sends the collected replies in one write before reading again. During DATA
//! the receiver consumes the buffer directly; the reply to the final dot is
//! written only after every copy of the message is durable in its Maildir.
//!
//! AUTH is the one command whose handling waits on the network and on the
//! user database, so the command loop hands it back to `run` as
//! `Next::Auth`, and `auth::authenticate` runs the exchange there.
//!
//! BDAT chunks (RFC 3030) are received by the `bdat` child module, and their
//! reply goes out in the same order as the replies to the commands around
//! them.
//!
//! STARTTLS, implicit TLS and REQUIRETLS live in the `tls` submodule.
//!
//! With `[spam] enabled`, the end of data waits for [`crate::spam`] to
//! score the message on its thread pool. The score decides between INBOX,
//! the Junk folder and a 550 5.7.1 before anything is stored.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ringmail_protocols::smtp::{
    self, Command, DataLimits, DataOutcome, DataReceiver, EnhancedStatus, LineOutcome, LineReader,
    MailParameters, RcptParameters, Reply, ReversePath,
};

use super::auth::{self, AuthContext, AuthOutcome, Exchange};
use super::deferred;
use super::header_policy::{check_header, HeaderLimits};
use super::limits;
use super::received::{self, Trace};
use super::transaction::{self, Client, Transaction};
use super::SmtpService;
use crate::connection::{Connection, Fill};
use crate::envelope::{BodyType, Destination, Envelope};
use crate::mailstore::{self, Delivery};
use crate::router::{self, Relay, RouteError};
use crate::server::{Shared, Shutdown};
use crate::spam::{Action, JUNK_FOLDER};

mod tls;

pub use tls::run_tls_session;

/// Runs one SMTP session on `stream` until QUIT, end of stream, a timeout or
/// shutdown.
pub async fn run_session(
    stream: crate::runtime::net::TcpStream,
    peer: SocketAddr,
    service: SmtpService,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let mut session = Session::new(Connection::new(stream), peer, shared, shutdown);
    session.service = service;
    let result = session.run().await;
    session.connection.shutdown_write();
    result
}

#[path = "bdat.rs"]
mod bdat;

/// Next step of the command loop after a command.
enum Next {
    /// Handle the next command.
    Command,
    /// The 354 went out: the following bytes are message data.
    Data,
    /// A BDAT command: the following `size` octets are a chunk.
    Bdat { size: u64, last: bool },
    /// Close the session after sending the replies.
    Close,
    /// AUTH was accepted for this mechanism: run the SASL exchange.
    Auth(AuthStart),
    /// The 220 to STARTTLS is queued: send it, then run the TLS handshake.
    StartTls,
}

/// An AUTH command that passed the order and policy checks.
struct AuthStart {
    mechanism: ringmail_protocols::sasl::Mechanism,
    /// The base64 initial response from the AUTH line, if any.
    initial_response: Option<String>,
}

struct Session {
    connection: Connection,
    peer: SocketAddr,
    /// The listener's purpose: relay (port 25) or submission.
    service: SmtpService,
    /// Whether the connection is encrypted (after STARTTLS, or on an
    /// implicit-TLS listener).
    tls: bool,
    shared: Arc<Shared>,
    shutdown: Shutdown,
    lines: LineReader,
    /// The EHLO or HELO name, once given.
    helo: Option<String>,
    /// Whether the client greeted with EHLO (extensions and enhanced codes).
    extended: bool,
    transaction: Option<Transaction>,
    /// MAIL commands accepted so far, checked against
    /// `messages_per_connection_max`.
    mail_count: u32,
    /// The user that authenticated with AUTH.
    auth_user: Option<String>,
    /// Failed AUTH commands so far, checked against
    /// `auth_failures_per_connection_max`.
    auth_failures: u32,
}

fn status(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatus> {
    Some(EnhancedStatus {
        class,
        subject,
        detail,
    })
}

impl Session {
    fn new(
        connection: Connection,
        peer: SocketAddr,
        shared: Arc<Shared>,
        shutdown: Shutdown,
    ) -> Self {
        Session {
            connection,
            peer,
            service: SmtpService::Relay,
            tls: false,
            shared,
            shutdown,
            lines: LineReader::new(smtp::COMMAND_LINE_MAX),
            helo: None,
            extended: false,
            transaction: None,
            mail_count: 0,
            auth_user: None,
            auth_failures: 0,
        }
    }

    /// Appends `reply` to the output, with its enhanced status code when the
    /// client used EHLO (RFC 2034 codes are an extension).
    fn reply(&mut self, reply: Reply) {
        let extended = self.extended;
        reply.write_to(self.connection.output(), extended);
    }

    async fn run(&mut self) -> io::Result<()> {
        tracing::debug!(peer = %self.peer, "smtp session opened");
        if self.reject_early_talker().await? {
            return Ok(());
        }
        let greeting = format!("{} ESMTP Ringmail", self.shared.hostname);
        Reply::new(220, None, greeting).write_to(self.connection.output(), false);
        self.connection.flush().await?;

        loop {
            match self.handle_commands() {
                Next::Command => {}
                Next::Close => {
                    self.connection.flush().await?;
                    return Ok(());
                }
                Next::Data => {
                    if !self.receive_data().await? {
                        return Ok(());
                    }
                    continue;
                }
                Next::Auth(start) => {
                    if !self.authenticate(start).await? {
                        self.connection.flush().await?;
                        return Ok(());
                    }
                    continue;
                }
                Next::Bdat { size, last } => {
                    if !self.receive_chunk(size, last).await? {
                        return Ok(());
                    }
                    continue;
                }
                Next::StartTls => {
                    self.connection.flush().await?;
                    if !self.start_tls().await {
                        return Ok(());
                    }
                    continue;
                }
            }

            self.connection.flush().await?;
            if !self.read_commands().await? {
                self.connection.flush().await?;
                return Ok(());
            }
        }
    }

    /// Runs an AUTH exchange and queues its final reply. Returns false when
    /// the session must close.
    async fn authenticate(&mut self, start: AuthStart) -> io::Result<bool> {
        let mut exchange = Exchange {
            connection: &mut self.connection,
            peer: self.peer,
            shared: &self.shared,
            extended: self.extended,
            failures: &mut self.auth_failures,
        };
        let outcome =
            auth::authenticate(&mut exchange, start.mechanism, start.initial_response).await?;
        match outcome {
            AuthOutcome::Authenticated(user) => {
                self.auth_user = Some(user);
                Ok(true)
            }
            AuthOutcome::NotAuthenticated => Ok(true),
            AuthOutcome::Close => Ok(false),
        }
    }

    /// Checks an AUTH command against the session state and returns the
    /// exchange to run, or queues the reply that rejects it.
    fn start_auth(&mut self, mechanism: &str, initial_response: Option<&str>) -> Next {
        let context = AuthContext {
            service: self.service,
            tls: self.tls,
            peer: self.peer.ip(),
            extended: self.extended,
            auth_user: self.auth_user.as_deref(),
            in_transaction: self.transaction.is_some(),
        };
        match auth::check_auth_command(&context, &self.shared.config.submission, mechanism) {
            Ok(mechanism) => Next::Auth(AuthStart {
                mechanism,
                initial_response: initial_response.map(str::to_string),
            }),
            Err(reply) => {
                self.reply(reply);
                Next::Command
            }
        }
    }

    /// Waits `greet_pause_ms`, then sends a 554 and returns true when the
    /// client sent bytes before the greeting (RFC 5321 section 4.3.1).
    async fn reject_early_talker(&mut self) -> io::Result<bool> {
        let greet_pause = Duration::from_millis(self.shared.config.smtp.greet_pause_ms);
        if !limits::client_talked_first(&self.connection, greet_pause, &mut self.shutdown).await? {
            return Ok(false);
        }

        tracing::info!(peer = %self.peer, "smtp client talked before the greeting, closing");
        limits::talked_first_reply().write_to(self.connection.output(), true);
        self.connection.flush().await?;
        Ok(true)
    }

    /// Waits for more command input. Returns false when the session must end
    /// (closed, timed out, or shutdown outside a transaction), after queueing
    /// the 421 reply where one is due.
    async fn read_commands(&mut self) -> io::Result<bool> {
        let timeout = self.shared.config.smtp_command_timeout();
        // A transaction in progress may finish during shutdown; an idle
        // session closes at once.
        let shutdown = match self.transaction {
            None => Some(&mut self.shutdown),
            Some(_) => None,
        };
        match self.connection.fill(timeout, shutdown).await? {
            Fill::Data => Ok(true),
            Fill::Closed => Ok(false),
            Fill::TimedOut => {
                let text = format!(
                    "{} timeout exceeded, closing connection",
                    self.shared.hostname
                );
                self.reply(Reply::new(421, status(4, 4, 2), text));
                Ok(false)
            }
            Fill::Shutdown => {
                let text = format!(
                    "{} service shutting down, closing connection",
                    self.shared.hostname
                );
                self.reply(Reply::new(421, status(4, 3, 2), text));
                Ok(false)
            }
        }
    }

    /// Handles every complete command in the input.
    fn handle_commands(&mut self) -> Next {
        loop {
            let (input, _) = self.connection.split();
            match self.lines.next(input) {
                LineOutcome::NeedMore { consumed } => {
                    self.connection.consume(consumed);
                    return Next::Command;
                }
                LineOutcome::TooLong { consumed } => {
                    self.connection.consume(consumed);
                    let text = format!(
                        "command line too long, max {} octets",
                        smtp::COMMAND_LINE_MAX
                    );
                    self.reply(Reply::new(500, status(5, 5, 2), text));
                }
                LineOutcome::Line { line, consumed } => {
                    let trailing_len = input.len() - consumed;
                    // The command borrows the input; copy the few fields it
                    // needs only where they outlive this call.
                    let next = match smtp::parse_command(line) {
                        Ok(Command::Auth {
                            mechanism,
                            initial_response,
                        }) => {
                            let (mechanism, initial_response) =
                                (mechanism.to_string(), initial_response.map(str::to_string));
                            self.connection.consume(consumed);
                            match self.start_auth(&mechanism, initial_response.as_deref()) {
                                Next::Command => continue,
                                other => return other,
                            }
                        }
                        Ok(command) => {
                            let outcome = handle_command(
                                &mut SessionState {
                                    peer: self.peer,
                                    service: self.service,
                                    tls: self.tls,
                                    auth_user: self.auth_user.as_deref(),
                                    shared: &self.shared,
                                    helo: &mut self.helo,
                                    extended: &mut self.extended,
                                    transaction: &mut self.transaction,
                                    mail_count: &mut self.mail_count,
                                    starttls_offered: self.service == SmtpService::Submission
                                        || self.shared.config.smtp.starttls,
                                },
                                command,
                            );
                            let outcome = tls::reject_pipelined_starttls(
                                outcome,
                                trailing_len,
                                &self.connection,
                                self.peer,
                            );
                            let extended = self.extended;
                            let (_, output) = self.connection.split();
                            if let Some(reply) = outcome.reply {
                                reply.write_to(output, extended);
                            }
                            outcome.next
                        }
                        Err(error) => {
                            let extended = self.extended;
                            let (_, output) = self.connection.split();
                            error.reply().write_to(output, extended);
                            Next::Command
                        }
                    };
                    self.connection.consume(consumed);
                    match next {
                        Next::Command => {}
                        other => return other,
                    }
                }
            }
        }
    }

    /// Receives the message after a 354, delivers it and queues the final
    /// reply. Returns false when the connection closed or timed out.
    async fn receive_data(&mut self) -> io::Result<bool> {
        let config = &self.shared.config;
        let mut receiver = DataReceiver::new(DataLimits {
            message_size_max: config.smtp.message_size_max,
            line_len_max: config.smtp.data_line_max,
        });
        let queue_id = match &self.transaction {
            Some(transaction) => transaction.envelope.queue_id.clone(),
            None => unreachable!("DATA is accepted only inside a transaction"),
        };
        let mut message = Vec::with_capacity(8192);
        self.write_received_header(&mut message);
        let trace_len = message.len();

        let result = loop {
            let (input, _) = self.connection.split();
            match receiver.feed(input, &mut message) {
                DataOutcome::NeedMore { consumed } => {
                    self.connection.consume(consumed);
                }
                DataOutcome::Done { consumed, result } => {
                    self.connection.consume(consumed);
                    break result;
                }
            }
            self.connection.flush().await?;
            let timeout = self.shared.config.smtp_data_timeout();
            match self.connection.fill(timeout, None).await? {
                Fill::Data => {}
                Fill::Closed | Fill::Shutdown => {
                    tracing::info!(peer = %self.peer, queue_id, "connection closed during DATA, message discarded");
                    return Ok(false);
                }
                Fill::TimedOut => {
                    let text = format!("{} timeout exceeded during DATA", self.shared.hostname);
                    self.reply(Reply::new(421, status(4, 4, 2), text));
                    self.connection.flush().await?;
                    return Ok(false);
                }
            }
        };

        let transaction = self.transaction.take();
        let reply = match (result, transaction) {
            (Ok(()), Some(transaction)) => {
                self.finish_message(transaction.envelope, message, trace_len)
                    .await
            }
            (Err(error), _) => {
                tracing::info!(peer = %self.peer, queue_id, %error, "message rejected");
                error.reply()
            }
            (Ok(()), None) => unreachable!("DATA is accepted only inside a transaction"),
        };
        self.reply(reply);
        Ok(true)
    }

    /// Applies the header policy to a complete message (from DATA or BDAT)
    /// and delivers it. Returns the reply to the end of data or BDAT LAST.
    async fn finish_message(
        &self,
        mut envelope: Envelope,
        message: Vec<u8>,
        trace_len: usize,
    ) -> Reply {
        let config = &self.shared.config;
        let limits = HeaderLimits {
            received_max: config.smtp.received_max,
            header_size_max: config.smtp.header_size_max,
        };
        if let Err(rejection) = check_header(&message, trace_len, limits) {
            tracing::info!(peer = %self.peer, queue_id = envelope.queue_id, %rejection, "message rejected");
            return rejection.reply();
        }

        envelope.received_unix_secs = transaction::unix_now_secs();
        let Some(filter) = &self.shared.spam else {
            return self.deliver(&envelope, message).await;
        };
        let checked = filter.check(message, trace_len, &envelope.queue_id).await;
        match checked.action {
            Action::Inbox => self.deliver(&envelope, checked.message).await,
            Action::Junk => {
                envelope.local_folder = Some(JUNK_FOLDER.to_owned());
                self.deliver(&envelope, checked.message).await
            }
            Action::Reject {
                score,
                reject_score,
            } => {
                tracing::info!(peer = %self.peer, queue_id = envelope.queue_id, score, reject_score, "message rejected as spam");
                Reply::new(
                    550,
                    status(5, 7, 1),
                    format!("message rejected as spam (score {score} > {reject_score})"),
                )
            }
        }
    }

    /// Writes the Received header that starts every stored copy.
    fn write_received_header(&self, message: &mut Vec<u8>) {
        let envelope = match &self.transaction {
            Some(transaction) => &transaction.envelope,
            None => unreachable!("message data is accepted only inside a transaction"),
        };
        let tls_summary = self.connection.tls_summary();
        let single_recipient = match envelope.recipients.as_slice() {
            [only] => Some(only.address.as_str()),
            _ => None,
        };
        received::received_header(
            message,
            &Trace {
                helo: self.helo.as_deref().unwrap_or("unknown"),
                peer: self.peer,
                hostname: &self.shared.hostname,
                protocol: received::protocol_name(
                    self.extended,
                    self.tls,
                    self.auth_user.is_some(),
                    envelope.smtputf8,
                ),
                queue_id: &envelope.queue_id,
                single_recipient,
                unix_secs: crate::time::unix_now(),
                tls: tls_summary.as_deref(),
            },
        );
    }

    /// Writes the message into each recipient's Maildir through the worker's
    /// batcher, or into the worker's spool when a recipient is remote or a
    /// Maildir write failed. Local recipients get it in the envelope's
    /// `local_folder`, created when missing, or in INBOX. The spool record
    /// keeps that folder for the queue runner. Returns 250 only when the
    /// message is durable, and 451 when it is stored nowhere, in which case
    /// no copy is left.
    async fn deliver(&self, envelope: &Envelope, message: Vec<u8>) -> Reply {
        let queue_id = envelope.queue_id.as_str();
        let folder = envelope.local_folder.as_deref();
        if envelope
            .recipients
            .iter()
            .any(|recipient| recipient.destination == Destination::Remote)
        {
            // Remote recipients go to the spool. The local recipients of the
            // same message go with them, so one durable record covers every
            // recipient and none is delivered twice if the append fails.
            let failed = Reply::new(
                451,
                status(4, 3, 0),
                "queueing failed, message not accepted; try again later",
            );
            return deferred::spool_message(envelope, &message, deferred::SpoolReason::Relay)
                .await
                .unwrap_or(failed);
        }

        let store = &self.shared.store;
        let mut targets: Vec<Delivery> = Vec::with_capacity(envelope.recipients.len());
        let mut users: Vec<&str> = Vec::with_capacity(envelope.recipients.len());
        for recipient in &envelope.recipients {
            let Destination::Local { user } = &recipient.destination else {
                continue;
            };
            if users.contains(&user.as_str()) {
                continue;
            }
            users.push(user);
            let ensured = match folder {
                None => store.ensure_maildir(user),
                Some(name) => store.ensure_folder(user, name.as_bytes()),
            };
            match ensured {
                Ok(maildir) => targets.push(Delivery { maildir }),
                Err(error) => {
                    let failed = self.delivery_failed(queue_id, user, &error);
                    return self.defer(envelope, &message, failed).await;
                }
            }
        }

        let size = message.len();
        // Maildir files hold LF line ends. DATA messages arrive with CRLF;
        // BDAT messages arrive as the client wrote them, and to_lf leaves
        // their bare LFs as they are. The CRLF original stays for the spool,
        // whose records hold messages as received.
        let stored = Rc::from(mailstore::line_ends::to_lf(&message));
        match mailstore::batch::deliver(targets, stored).await {
            Ok(_) => {
                tracing::info!(
                    peer = %self.peer,
                    queue_id,
                    from = envelope.reverse_path,
                    recipients = envelope.recipients.len(),
                    requiretls = envelope.requiretls,
                    size,
                    folder = folder.unwrap_or("INBOX"),
                    "delivered"
                );
                Reply::new(250, status(2, 0, 0), format!("Ok: delivered as {queue_id}"))
            }
            Err(error) => {
                let failed = self.delivery_failed(queue_id, &users.join(","), &error);
                self.defer(envelope, &message, failed).await
            }
        }
    }

    /// Queues a message whose Maildir delivery failed in the worker's spool
    /// and returns its 250, or returns `failed` (the 451) when that fails too.
    async fn defer(&self, envelope: &Envelope, message: &[u8], failed: Reply) -> Reply {
        deferred::spool_message(
            envelope,
            message,
            deferred::SpoolReason::LocalDeliveryFailed,
        )
        .await
        .unwrap_or(failed)
    }

    fn delivery_failed(&self, queue_id: &str, users: &str, error: &io::Error) -> Reply {
        tracing::error!(peer = %self.peer, queue_id, users, %error, "local delivery failed");
        Reply::new(
            451,
            status(4, 3, 0),
            "local delivery failed, message not accepted; try again later",
        )
    }
}

/// The parts of a session that command handling reads and changes.
struct SessionState<'s> {
    peer: SocketAddr,
    service: SmtpService,
    tls: bool,
    /// The user that authenticated with AUTH.
    auth_user: Option<&'s str>,
    shared: &'s Shared,
    helo: &'s mut Option<String>,
    extended: &'s mut bool,
    transaction: &'s mut Option<Transaction>,
    mail_count: &'s mut u32,
    /// Whether this listener offers STARTTLS.
    starttls_offered: bool,
}

/// The reply to one command and what follows it.
struct Outcome {
    /// The reply, or `None` when it comes later (after a BDAT chunk).
    reply: Option<Reply>,
    next: Next,
}

impl Outcome {
    fn reply(
        code: u16,
        enhanced: Option<EnhancedStatus>,
        text: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Outcome {
            reply: Some(Reply::new(code, enhanced, text)),
            next: Next::Command,
        }
    }

    /// Sends `reply` and goes on with the next command.
    fn send(reply: Reply) -> Self {
        Outcome {
            reply: Some(reply),
            next: Next::Command,
        }
    }

    fn out_of_order(text: &'static str) -> Self {
        Outcome::reply(503, status(5, 5, 1), text)
    }
}

/// Applies one parsed command to the session state and returns the reply.
fn handle_command(state: &mut SessionState<'_>, command: Command<'_>) -> Outcome {
    match command {
        Command::Ehlo { domain } => {
            *state.helo = Some(domain.to_string());
            *state.extended = true;
            *state.transaction = None;
            let size = format!("SIZE {}", state.shared.config.smtp.message_size_max);
            let greeting = format!("{} greets {domain}", state.shared.hostname);
            let mut lines = vec![
                greeting.as_str(),
                "PIPELINING",
                size.as_str(),
                "8BITMIME",
                "ENHANCEDSTATUSCODES",
                "CHUNKING",
                "BINARYMIME",
                "SMTPUTF8",
                "DSN",
            ];
            let submission = &state.shared.config.submission;
            if auth::auth_offered(state.service, state.tls, state.peer.ip(), submission) {
                lines.push(auth::EHLO_AUTH_LINE);
            }
            lines.extend(tls::ehlo_keywords(state.tls, state.starttls_offered));
            lines.push("HELP");
            let mut text = String::new();
            for (index, line) in lines.iter().enumerate() {
                if index > 0 {
                    text.push('\n');
                }
                text.push_str(line);
            }
            Outcome {
                reply: Some(Reply::new(250, None, text)),
                next: Next::Command,
            }
        }
        Command::Helo { domain } => {
            *state.helo = Some(domain.to_string());
            *state.extended = false;
            *state.transaction = None;
            Outcome::reply(250, None, state.shared.hostname.clone())
        }
        Command::MailFrom {
            reverse_path,
            parameters,
        } => mail_from(state, reverse_path, parameters),
        Command::RcptTo {
            forward_path,
            parameters,
        } => rcpt_to(state, forward_path, &parameters),
        Command::Data => data(state),
        // The reply comes after the chunk, from `Session::receive_chunk`.
        Command::Bdat { size, last } => Outcome {
            reply: None,
            next: Next::Bdat { size, last },
        },
        Command::Rset => {
            *state.transaction = None;
            Outcome::reply(250, status(2, 0, 0), "Ok")
        }
        Command::Noop => Outcome::reply(250, status(2, 0, 0), "Ok"),
        Command::Quit => Outcome {
            reply: Some(Reply::new(221, status(2, 0, 0), "Bye")),
            next: Next::Close,
        },
        Command::Help { .. } => Outcome::reply(
            214,
            status(2, 0, 0),
            "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP VRFY",
        ),
        Command::Vrfy { .. } => Outcome::reply(
            252,
            status(2, 5, 0),
            "cannot VRFY user, but will accept message and attempt delivery",
        ),
        Command::Expn { .. } => Outcome::reply(502, status(5, 5, 1), "EXPN is disabled"),
        // The command loop runs AUTH itself (see `Session::start_auth`), so
        // this arm only keeps the match total.
        Command::Auth { .. } => Outcome::out_of_order("AUTH is not accepted here"),
        Command::StartTls => tls::starttls_command(state),
        Command::NotImplemented { verb } => Outcome::reply(
            502,
            status(5, 5, 1),
            format!("{} not implemented", verb.to_ascii_uppercase()),
        ),
    }
}

/// Handles DATA: 354 inside a transaction with recipients, unless the
/// transaction uses BDAT or BINARYMIME (RFC 3030 section 3).
fn data(state: &mut SessionState<'_>) -> Outcome {
    let Some(transaction) = state.transaction.as_ref() else {
        return Outcome::out_of_order("need MAIL command first");
    };
    if transaction.chunked.is_some() {
        *state.transaction = None;
        return Outcome::out_of_order("DATA after BDAT is not allowed, transaction dropped");
    }
    if transaction.envelope.body == BodyType::BinaryMime {
        return Outcome::out_of_order("BODY=BINARYMIME requires BDAT, not DATA");
    }
    if transaction.envelope.recipients.is_empty() {
        return Outcome::out_of_order("need RCPT command first");
    }
    Outcome {
        reply: Some(Reply::new(354, None, "End data with <CR><LF>.<CR><LF>")),
        next: Next::Data,
    }
}

fn mail_from(
    state: &mut SessionState<'_>,
    reverse_path: ReversePath<'_>,
    parameters: MailParameters<'_>,
) -> Outcome {
    if state.helo.is_none() {
        return Outcome::out_of_order("send EHLO or HELO first");
    }
    if state.transaction.is_some() {
        return Outcome::out_of_order("nested MAIL command");
    }
    let messages_max = state.shared.config.smtp.messages_per_connection_max;
    if *state.mail_count >= messages_max {
        tracing::info!(peer = %state.peer, messages_per_connection_max = messages_max, "smtp connection reached its message limit, closing");
        return Outcome {
            reply: Some(Reply::new(
                421,
                status(4, 7, 0),
                "too many messages in this connection, reconnect",
            )),
            next: Next::Close,
        };
    }

    if let Some(rejection) = check_submission_sender(state, &reverse_path) {
        return rejection;
    }

    if let Some(rejection) = tls::check_requiretls(state, &parameters) {
        return rejection;
    }

    let size_max = state.shared.config.smtp.message_size_max as u64;
    if let Some(size) = parameters.size {
        if size > size_max {
            return Outcome::reply(
                552,
                status(5, 3, 4),
                format!("message size {size} exceeds the maximum of {size_max} octets"),
            );
        }
    }

    let client = Client {
        peer: state.peer,
        helo: state.helo.as_deref().unwrap_or("unknown"),
    };
    let queue_id = received::new_queue_id();
    let mut envelope = match transaction::new_envelope(&client, queue_id, reverse_path, &parameters)
    {
        Ok(envelope) => envelope,
        Err(reply) => return Outcome::send(reply),
    };
    envelope.auth_user = state.auth_user.map(str::to_string);
    envelope.requiretls = parameters.requiretls;
    tracing::debug!(peer = %state.peer, queue_id = envelope.queue_id, from = envelope.reverse_path, "mail from");
    *state.transaction = Some(Transaction {
        envelope,
        chunked: None,
    });
    *state.mail_count += 1;
    Outcome::reply(250, status(2, 1, 0), "Ok")
}

/// Applies the submission rules to MAIL FROM: AUTH first, no null path, and
/// with `sender_must_match` only the user's own addresses. Returns the
/// rejection, or `None` when MAIL may go on.
fn check_submission_sender(
    state: &SessionState<'_>,
    reverse_path: &ReversePath<'_>,
) -> Option<Outcome> {
    if state.service != SmtpService::Submission {
        return None;
    }
    let Some(user) = state.auth_user else {
        return Some(Outcome::reply(
            530,
            status(5, 7, 0),
            "Authentication required",
        ));
    };
    if *reverse_path == ReversePath::Null {
        return Some(Outcome::reply(
            553,
            status(5, 7, 1),
            "null sender not allowed on submission",
        ));
    }

    let config = &state.shared.config;
    if config.submission.sender_must_match && !auth::sender_owned_by(config, user, reverse_path) {
        tracing::info!(peer = %state.peer, user, "smtp sender address not owned by the authenticated user");
        return Some(Outcome::reply(
            553,
            status(5, 7, 1),
            format!("sender address not owned by user {user}"),
        ));
    }
    None
}

fn rcpt_to(
    state: &mut SessionState<'_>,
    forward_path: smtp::ForwardPath<'_>,
    parameters: &RcptParameters<'_>,
) -> Outcome {
    let Some(transaction) = state.transaction.as_mut() else {
        return Outcome::out_of_order("need MAIL command first");
    };
    if transaction.chunked.is_some() {
        return Outcome::out_of_order("RCPT after BDAT is not allowed");
    }
    if let smtp::ForwardPath::Mailbox(mailbox) = &forward_path {
        if let Err(reply) = transaction::check_recipient_mailbox(&transaction.envelope, mailbox) {
            return Outcome::send(reply);
        }
    }
    let recipients_max = state.shared.config.smtp.recipients_max;
    if transaction.envelope.recipients.len() >= recipients_max {
        return Outcome::reply(
            452,
            status(4, 5, 3),
            format!("too many recipients, max {recipients_max} per message"),
        );
    }

    let address = match &forward_path {
        smtp::ForwardPath::Postmaster => "postmaster".to_string(),
        smtp::ForwardPath::Mailbox(mailbox) => transaction::address(mailbox),
    };
    // An authenticated client may relay, and so may a client in
    // `smtp.relay_networks`; everyone else reaches local domains only.
    let trusted = state.shared.config.is_relay_client(state.peer.ip());
    let relay = match (state.auth_user, trusted) {
        (Some(_), _) | (None, true) => Relay::Permitted,
        (None, false) => Relay::Denied,
    };
    match router::route_recipient(
        &state.shared.config,
        &state.shared.users,
        &forward_path,
        relay,
    ) {
        Ok(destination) => match transaction::new_recipient(address, destination, parameters) {
            Ok(recipient) => {
                transaction.envelope.recipients.push(recipient);
                Outcome::reply(250, status(2, 1, 5), "Ok")
            }
            Err(reply) => Outcome::send(reply),
        },
        Err(RouteError::UnknownUser) => Outcome::reply(
            550,
            status(5, 1, 1),
            format!("<{address}>: recipient address rejected: user unknown"),
        ),
        Err(RouteError::RelayDenied) => Outcome::reply(
            554,
            status(5, 7, 1),
            format!("<{address}>: relay access denied"),
        ),
        Err(RouteError::Temporary(error)) => {
            tracing::error!(peer = %state.peer, %error, "user database unreadable");
            Outcome::reply(
                451,
                status(4, 3, 0),
                "temporary lookup failure, try again later",
            )
        }
    }
}
