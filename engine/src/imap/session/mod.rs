//! One IMAP session: greeting, the three session states, and every command.
//!
//! The loop parses each complete command in the input buffer (commands
//! borrow the buffer), runs it, and sends the replies in one write. Large
//! FETCH replies go out in pieces of [`OUTPUT_FLUSH_LEN`] so a session never
//! keeps a whole mailbox in memory. Literals get their "+" continuation once
//! each. AUTHENTICATE and IDLE read further lines after their command.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ringmail_protocols::imap::{self, Command, CommandBody, Limits, ParseOutcome};

use super::flags::SYSTEM_FLAGS;
use crate::connection::{Connection, Fill, Writer};
use crate::mailstore::mailbox::Mailbox;
use crate::runtime;
use crate::server::{Shared, Shutdown};

/// Capabilities advertised in the greeting and after login.
const CAPABILITIES: &str = "IMAP4rev1 LITERAL+ SASL-IR AUTH=PLAIN UNSELECT IDLE";

/// Output size at which a long reply is sent before the command finishes.
const OUTPUT_FLUSH_LEN: usize = 256 * 1024;

/// Delay before the reply to a failed login, to slow password guessing.
const LOGIN_FAILURE_DELAY: Duration = Duration::from_secs(1);

/// How often IDLE rescans the mailbox for changes.
const IDLE_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// Longest SASL response line accepted during AUTHENTICATE.
const SASL_LINE_MAX: usize = 8192;

/// Runs one IMAP session until LOGOUT, end of stream, a timeout or shutdown.
pub async fn run_session(
    stream: runtime::net::TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let connection = Connection::new(stream);
    let writer = connection.writer();
    let mut session = Session {
        connection,
        core: Core {
            peer,
            shared,
            writer,
            out: Vec::with_capacity(4096),
            state: State::NotAuthenticated,
        },
        shutdown,
        limits: Limits::default(),
        continued_literal: None,
        discarding_line: false,
    };
    let result = session.run().await;
    session.connection.shutdown_write();
    result
}

/// The session states of RFC 3501 section 3.
enum State {
    NotAuthenticated,
    Authenticated { user: String },
    Selected { user: String, selected: Selected },
    Logout,
}

/// The selected mailbox.
struct Selected {
    mailbox: Mailbox,
    /// The folder directory, to tell whether APPEND targets this mailbox.
    path: PathBuf,
    read_only: bool,
}

/// Next step of the session loop after a command.
enum Action {
    Continue,
    Authenticate {
        tag: String,
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    },
    Idle {
        tag: String,
    },
}

struct Session {
    connection: Connection,
    core: Core,
    shutdown: Shutdown,
    limits: Limits,
    /// Input offset just after the literal header that got its "+" reply.
    continued_literal: Option<usize>,
    /// An overlong line is being dropped through its line end.
    discarding_line: bool,
}

/// Everything a command reads or changes, apart from the input buffer.
struct Core {
    peer: SocketAddr,
    shared: Arc<Shared>,
    writer: Writer,
    out: Vec<u8>,
    state: State,
}

mod mailboxes;
mod messages;

impl Session {
    async fn run(&mut self) -> io::Result<()> {
        tracing::debug!(peer = %self.core.peer, "imap session opened");
        self.core.out.extend_from_slice(
            format!("* OK [CAPABILITY {CAPABILITIES}] Ringmail IMAP ready\r\n").as_bytes(),
        );
        self.core.flush().await?;

        loop {
            self.handle_input().await?;
            self.core.flush().await?;
            if let State::Logout = self.core.state {
                return Ok(());
            }

            let timeout = Duration::from_secs(self.core.shared.config.imap.idle_timeout_secs);
            match self
                .connection
                .fill(timeout, Some(&mut self.shutdown))
                .await?
            {
                Fill::Data => {}
                Fill::Closed => return Ok(()),
                Fill::TimedOut => {
                    self.core
                        .out
                        .extend_from_slice(b"* BYE autologout, idle too long\r\n");
                    return self.core.flush().await;
                }
                Fill::Shutdown => {
                    self.core
                        .out
                        .extend_from_slice(b"* BYE server shutting down\r\n");
                    return self.core.flush().await;
                }
            }
        }
    }

    /// Runs every complete command in the input.
    async fn handle_input(&mut self) -> io::Result<()> {
        loop {
            if self.discarding_line && !self.discard_line() {
                return Ok(());
            }
            if let State::Logout = self.core.state {
                return Ok(());
            }

            let input = self.connection.input();
            match imap::parse_command(input, &self.limits) {
                ParseOutcome::Incomplete => return Ok(()),
                ParseOutcome::NeedContinuation { literal_offset, .. } => {
                    if self.continued_literal != Some(literal_offset) {
                        self.continued_literal = Some(literal_offset);
                        self.core
                            .out
                            .extend_from_slice(b"+ Ready for literal data\r\n");
                    }
                    return Ok(());
                }
                ParseOutcome::Error {
                    tag,
                    error,
                    consumed,
                } => {
                    let tag = tag.unwrap_or("*").to_string();
                    self.core
                        .out
                        .extend_from_slice(format!("{tag} BAD {}\r\n", error.message()).as_bytes());
                    self.connection.consume(consumed);
                    self.continued_literal = None;
                    if error.closes_connection() {
                        // The client is already sending a non-synchronizing
                        // literal that will not be read. Its bytes cannot be
                        // distinguished from commands, so the session ends.
                        self.core
                            .out
                            .extend_from_slice(b"* BYE literal rejected, closing connection\r\n");
                        self.core.state = State::Logout;
                        return Ok(());
                    }
                    if error.discard_to_line_end() {
                        self.discarding_line = true;
                    }
                }
                ParseOutcome::Complete { command, consumed } => {
                    let action = self.core.handle(command).await?;
                    self.connection.consume(consumed);
                    self.continued_literal = None;
                    match action {
                        Action::Continue => {}
                        Action::Authenticate {
                            tag,
                            mechanism,
                            initial_response,
                        } => self.authenticate(tag, mechanism, initial_response).await?,
                        Action::Idle { tag } => self.idle(tag).await?,
                    }
                }
            }
        }
    }

    /// Drops input through the next LF. Returns false when the line end has
    /// not arrived yet.
    fn discard_line(&mut self) -> bool {
        let input = self.connection.input();
        match memchr::memchr(b'\n', input) {
            Some(at) => {
                self.connection.consume(at + 1);
                self.discarding_line = false;
                true
            }
            None => {
                let len = input.len();
                self.connection.consume(len);
                false
            }
        }
    }

    /// Reads one line of client input for AUTHENTICATE or IDLE, without its
    /// line end. Returns `None` when the connection ended.
    async fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            let input = self.connection.input();
            if let Some(at) = memchr::memchr(b'\n', input) {
                let mut line = input[..at].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.connection.consume(at + 1);
                return Ok(Some(line));
            }
            if input.len() > SASL_LINE_MAX {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("continuation line over {SASL_LINE_MAX} octets"),
                ));
            }
            self.core.flush().await?;
            let timeout = Duration::from_secs(self.core.shared.config.imap.idle_timeout_secs);
            match self
                .connection
                .fill(timeout, Some(&mut self.shutdown))
                .await?
            {
                Fill::Data => {}
                Fill::Closed | Fill::TimedOut | Fill::Shutdown => return Ok(None),
            }
        }
    }

    /// AUTHENTICATE PLAIN (RFC 4616), with or without an initial response
    /// (SASL-IR, RFC 4959).
    async fn authenticate(
        &mut self,
        tag: String,
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    ) -> io::Result<()> {
        if !mechanism.eq_ignore_ascii_case("PLAIN") {
            self.core
                .tagged(&tag, "NO", "unsupported authentication mechanism");
            return Ok(());
        }

        let encoded = match initial_response {
            Some(response) => response,
            None => {
                self.core.out.extend_from_slice(b"+ \r\n");
                match self.read_line().await? {
                    Some(line) => line,
                    None => {
                        self.core.state = State::Logout;
                        return Ok(());
                    }
                }
            }
        };
        if encoded == b"*" {
            self.core.tagged(&tag, "BAD", "authentication cancelled");
            return Ok(());
        }

        // "=" is an empty initial response (RFC 4959 section 3).
        let decoded = if encoded == b"=" {
            Ok(Vec::new())
        } else {
            base64::engine::general_purpose::STANDARD.decode(&encoded)
        };
        let Ok(decoded) = decoded else {
            self.core
                .tagged(&tag, "BAD", "invalid base64 in authentication response");
            return Ok(());
        };
        let credentials = imap::decode_sasl_plain(&decoded);
        let Ok((authzid, authcid, password)) = credentials else {
            self.core
                .tagged(&tag, "BAD", "invalid PLAIN authentication message");
            return Ok(());
        };
        if !authzid.is_empty() && authzid != authcid {
            self.core.tagged(
                &tag,
                "NO",
                "[AUTHORIZATIONFAILED] authorization identity must be empty or equal the user",
            );
            return Ok(());
        }
        let (user, password) = (authcid.to_vec(), password.to_vec());
        self.core.login(&tag, user, password).await
    }

    /// IDLE (RFC 2177): report mailbox changes until the client sends DONE.
    async fn idle(&mut self, tag: String) -> io::Result<()> {
        if !matches!(
            self.core.state,
            State::Selected { .. } | State::Authenticated { .. }
        ) {
            self.core
                .tagged(&tag, "BAD", "IDLE needs an authenticated session");
            return Ok(());
        }
        self.core.out.extend_from_slice(b"+ idling\r\n");
        self.core.flush().await?;

        let idle_limit = Duration::from_secs(self.core.shared.config.imap.idle_timeout_secs);
        let started = std::time::Instant::now();
        loop {
            let input = self.connection.input();
            if let Some(at) = memchr::memchr(b'\n', input) {
                let line = input[..at].strip_suffix(b"\r").unwrap_or(&input[..at]);
                let done = line.eq_ignore_ascii_case(b"DONE");
                self.connection.consume(at + 1);
                if done {
                    self.core.tagged(&tag, "OK", "IDLE terminated");
                } else {
                    self.core.tagged(&tag, "BAD", "expected DONE");
                }
                return Ok(());
            }
            if started.elapsed() >= idle_limit {
                self.core
                    .out
                    .extend_from_slice(b"* BYE autologout, idle too long\r\n");
                self.core.state = State::Logout;
                return Ok(());
            }

            // Reads are not cancelled while input may arrive: a short read
            // timeout would drop the buffer, so poll for changes between
            // bounded reads instead.
            match self
                .connection
                .fill(IDLE_POLL_INTERVAL, Some(&mut self.shutdown))
                .await?
            {
                Fill::Data => {}
                Fill::TimedOut => {
                    self.core.report_changes();
                    self.core.flush().await?;
                }
                Fill::Closed => {
                    self.core.state = State::Logout;
                    return Ok(());
                }
                Fill::Shutdown => {
                    self.core
                        .out
                        .extend_from_slice(b"* BYE server shutting down\r\n");
                    self.core.state = State::Logout;
                    return Ok(());
                }
            }
        }
    }
}

impl Core {
    async fn flush(&mut self) -> io::Result<()> {
        self.writer.send(&mut self.out).await
    }

    fn tagged(&mut self, tag: &str, status: &str, text: &str) {
        self.out
            .extend_from_slice(format!("{tag} {status} {text}\r\n").as_bytes());
    }

    fn user(&self) -> Option<&str> {
        match &self.state {
            State::Authenticated { user } | State::Selected { user, .. } => Some(user),
            State::NotAuthenticated | State::Logout => None,
        }
    }

    /// Runs one command and returns what the loop does next.
    async fn handle(&mut self, command: Command<'_>) -> io::Result<Action> {
        let tag = command.tag;
        match command.body {
            CommandBody::Capability => {
                self.out
                    .extend_from_slice(format!("* CAPABILITY {CAPABILITIES}\r\n").as_bytes());
                self.tagged(tag, "OK", "CAPABILITY completed");
            }
            CommandBody::Noop | CommandBody::Check => {
                self.report_changes();
                self.tagged(tag, "OK", "NOOP completed");
            }
            CommandBody::Logout => {
                self.out.extend_from_slice(b"* BYE logging out\r\n");
                self.tagged(tag, "OK", "LOGOUT completed");
                self.state = State::Logout;
            }
            CommandBody::Login { username, password } => {
                if self.user().is_some() {
                    self.tagged(tag, "BAD", "already authenticated");
                } else if !self.shared.config.imap.allow_plaintext_auth {
                    self.tagged(
                        tag,
                        "NO",
                        "[PRIVACYREQUIRED] plaintext authentication is disabled",
                    );
                } else {
                    self.login(tag, username.to_vec(), password.to_vec())
                        .await?;
                }
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if self.user().is_some() {
                    self.tagged(tag, "BAD", "already authenticated");
                } else if !self.shared.config.imap.allow_plaintext_auth {
                    self.tagged(
                        tag,
                        "NO",
                        "[PRIVACYREQUIRED] plaintext authentication is disabled",
                    );
                } else {
                    return Ok(Action::Authenticate {
                        tag: tag.to_string(),
                        mechanism: mechanism.to_string(),
                        initial_response: initial_response.map(<[u8]>::to_vec),
                    });
                }
            }
            CommandBody::Idle => {
                return Ok(Action::Idle {
                    tag: tag.to_string(),
                })
            }
            body => {
                if self.user().is_none() {
                    self.tagged(
                        tag,
                        "BAD",
                        "command needs an authenticated session; LOGIN first",
                    );
                } else {
                    self.handle_authenticated(tag, body).await?;
                }
            }
        }
        Ok(Action::Continue)
    }

    /// Checks a password on the blocking pool and moves to the authenticated
    /// state on success.
    async fn login(&mut self, tag: &str, user: Vec<u8>, password: Vec<u8>) -> io::Result<()> {
        let user = String::from_utf8_lossy(&user).to_ascii_lowercase();
        let password = String::from_utf8_lossy(&password).into_owned();
        let shared = self.shared.clone();
        let name = user.clone();
        let verified =
            runtime::spawn_blocking(move || shared.users.verify(&name, &password)).await?;

        match verified {
            Ok(true) => {
                tracing::info!(peer = %self.peer, user, "imap login");
                self.state = State::Authenticated { user };
                self.tagged(tag, "OK", &format!("[CAPABILITY {CAPABILITIES}] logged in"));
            }
            Ok(false) => {
                tracing::info!(peer = %self.peer, user, "imap login failed");
                runtime::sleep(LOGIN_FAILURE_DELAY).await;
                self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
            }
            Err(error) => {
                tracing::error!(peer = %self.peer, %error, "user database unreadable");
                self.tagged(
                    tag,
                    "NO",
                    "[UNAVAILABLE] authentication temporarily unavailable",
                );
            }
        }
        Ok(())
    }

    /// Commands of the authenticated and selected states.
    async fn handle_authenticated(&mut self, tag: &str, body: CommandBody<'_>) -> io::Result<()> {
        match body {
            CommandBody::List { reference, pattern } => {
                self.list(tag, &reference, &pattern, "LIST")
            }
            CommandBody::Lsub { reference, pattern } => {
                self.list(tag, &reference, &pattern, "LSUB")
            }
            CommandBody::Select { mailbox } => self.select(tag, &mailbox, false),
            CommandBody::Examine { mailbox } => self.select(tag, &mailbox, true),
            CommandBody::Create { mailbox } => self.create(tag, &mailbox),
            CommandBody::Delete { .. } => {
                self.tagged(tag, "NO", "[CANNOT] DELETE is not supported yet")
            }
            CommandBody::Subscribe { .. } | CommandBody::Unsubscribe { .. } => {
                // Every folder is listed as subscribed; see `list`.
                self.tagged(tag, "OK", "subscriptions follow the folder list")
            }
            CommandBody::Status { mailbox, items } => self.status(tag, &mailbox, &items),
            CommandBody::Append {
                mailbox,
                flags,
                date,
                message,
            } => self.append(tag, &mailbox, &flags, date, message),
            CommandBody::Close => self.close(tag, true),
            CommandBody::Unselect => self.close(tag, false),
            CommandBody::Expunge => self.expunge(tag),
            CommandBody::Fetch {
                sequence_set,
                attributes,
                uid,
            } => return self.fetch(tag, &sequence_set, &attributes, uid).await,
            CommandBody::Store {
                sequence_set,
                kind,
                silent,
                flags,
                uid,
            } => self.store(tag, &sequence_set, kind, silent, &flags, uid),
            CommandBody::Copy {
                sequence_set,
                mailbox,
                uid,
            } => self.copy(tag, &sequence_set, &mailbox, uid),
            CommandBody::Search { criteria, uid, .. } => self.search(tag, &criteria, uid),
            _ => self.tagged(tag, "BAD", "command not valid in this state"),
        }
        Ok(())
    }
}
