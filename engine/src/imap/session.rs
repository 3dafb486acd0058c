//! One IMAP session: greeting, the three session states, and every command.
//!
//! The loop parses each complete command in the input buffer (commands
//! borrow the buffer), runs it, and sends the replies in one write. Large
//! FETCH replies go out in pieces of [`OUTPUT_FLUSH_LEN`] so a session never
//! holds a whole mailbox in memory. Literals get their "+" continuation once
//! each. AUTHENTICATE and IDLE read further lines after their command.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use ringmail_protocols::imap::{
    self, Command, CommandBody, FetchAttribute, Flag, Limits, MailboxName, ParseOutcome,
    SearchKey, SequenceNumber, SequenceSet, StatusItem, StoreKind,
};

use super::fetch::{self, FetchItem};
use super::flags::{FlagSet, SYSTEM_FLAGS};
use super::search::{self, Candidate};
use crate::connection::{Connection, Fill, Writer};
use crate::mailstore::mailbox::{self, Mailbox};
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
            match self.connection.fill(timeout, Some(&mut self.shutdown)).await? {
                Fill::Data => {}
                Fill::Closed => return Ok(()),
                Fill::TimedOut => {
                    self.core.out.extend_from_slice(b"* BYE autologout, idle too long\r\n");
                    return self.core.flush().await;
                }
                Fill::Shutdown => {
                    self.core.out.extend_from_slice(b"* BYE server shutting down\r\n");
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
                        self.core.out.extend_from_slice(b"+ Ready for literal data\r\n");
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
                        // literal that will not be read: its bytes cannot be
                        // told apart from commands, so the session ends.
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
            match self.connection.fill(timeout, Some(&mut self.shutdown)).await? {
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
            self.core.tagged(&tag, "NO", "unsupported authentication mechanism");
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
            self.core.tagged(&tag, "BAD", "invalid base64 in authentication response");
            return Ok(());
        };
        let credentials = imap::decode_sasl_plain(&decoded);
        let Ok((authzid, authcid, password)) = credentials else {
            self.core.tagged(&tag, "BAD", "invalid PLAIN authentication message");
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
        if !matches!(self.core.state, State::Selected { .. } | State::Authenticated { .. }) {
            self.core.tagged(&tag, "BAD", "IDLE needs an authenticated session");
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
                self.core.out.extend_from_slice(b"* BYE autologout, idle too long\r\n");
                self.core.state = State::Logout;
                return Ok(());
            }

            // Reads are not cancelled while input may arrive: a short read
            // timeout would drop the buffer, so poll for changes between
            // bounded reads instead.
            match self.connection.fill(IDLE_POLL_INTERVAL, Some(&mut self.shutdown)).await? {
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
                    self.core.out.extend_from_slice(b"* BYE server shutting down\r\n");
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
                    self.tagged(tag, "NO", "[PRIVACYREQUIRED] plaintext authentication is disabled");
                } else {
                    self.login(tag, username.to_vec(), password.to_vec()).await?;
                }
            }
            CommandBody::Authenticate {
                mechanism,
                initial_response,
            } => {
                if self.user().is_some() {
                    self.tagged(tag, "BAD", "already authenticated");
                } else if !self.shared.config.imap.allow_plaintext_auth {
                    self.tagged(tag, "NO", "[PRIVACYREQUIRED] plaintext authentication is disabled");
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
                    self.tagged(tag, "BAD", "command needs an authenticated session; LOGIN first");
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
        let verified = runtime::spawn_blocking(move || shared.users.verify(&name, &password)).await?;

        match verified {
            Ok(true) => {
                tracing::info!(peer = %self.peer, user, "imap login");
                self.state = State::Authenticated { user };
                self.tagged(
                    tag,
                    "OK",
                    &format!("[CAPABILITY {CAPABILITIES}] logged in"),
                );
            }
            Ok(false) => {
                tracing::info!(peer = %self.peer, user, "imap login failed");
                runtime::sleep(LOGIN_FAILURE_DELAY).await;
                self.tagged(tag, "NO", "[AUTHENTICATIONFAILED] invalid credentials");
            }
            Err(error) => {
                tracing::error!(peer = %self.peer, %error, "user database unreadable");
                self.tagged(tag, "NO", "[UNAVAILABLE] authentication temporarily unavailable");
            }
        }
        Ok(())
    }

    /// Commands of the authenticated and selected states.
    async fn handle_authenticated(&mut self, tag: &str, body: CommandBody<'_>) -> io::Result<()> {
        match body {
            CommandBody::List { reference, pattern } => self.list(tag, &reference, &pattern, "LIST"),
            CommandBody::Lsub { reference, pattern } => self.list(tag, &reference, &pattern, "LSUB"),
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

    /// Returns the folder directory for `name`, or `None` when the name is
    /// invalid.
    fn folder_path(&self, name: &MailboxName<'_>) -> Option<PathBuf> {
        let user = self.user()?;
        let store = &self.shared.store;
        if store.ensure_maildir(user).is_err() {
            return None;
        }
        store.folder_path(user, name.as_bytes())
    }

    fn list(&mut self, tag: &str, reference: &[u8], pattern: &[u8], verb: &str) {
        if pattern.is_empty() {
            self.out
                .extend_from_slice(format!("* {verb} (\\Noselect) \".\" \"\"\r\n").as_bytes());
            self.tagged(tag, "OK", &format!("{verb} completed"));
            return;
        }
        let user = self.user().unwrap_or_default().to_string();
        let _ = self.shared.store.ensure_maildir(&user);
        let folders = match self.shared.store.list_folders(&user) {
            Ok(folders) => folders,
            Err(error) => {
                tracing::error!(user, %error, "cannot list folders");
                self.tagged(tag, "NO", "[SERVERBUG] cannot list folders");
                return;
            }
        };

        let mut full_pattern = reference.to_vec();
        full_pattern.extend_from_slice(pattern);
        for folder in &folders {
            let name = folder.as_bytes();
            let matches = if folder == "INBOX" {
                wildcard_match(&full_pattern.to_ascii_uppercase(), name)
            } else {
                wildcard_match(&full_pattern, name)
            };
            if !matches {
                continue;
            }
            let prefix = format!("{folder}.");
            let has_children = folders.iter().any(|other| other.starts_with(&prefix));
            let attribute = if has_children {
                "\\HasChildren"
            } else {
                "\\HasNoChildren"
            };
            self.out
                .extend_from_slice(format!("* {verb} ({attribute}) \".\" ").as_bytes());
            imap::response::write_mailbox(&mut self.out, name);
            self.out.extend_from_slice(b"\r\n");
        }
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    fn select(&mut self, tag: &str, name: &MailboxName<'_>, read_only: bool) {
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let user = self.user().unwrap_or_default().to_string();
        // Selecting closes the current mailbox without expunging it.
        self.state = State::Authenticated { user: user.clone() };

        let Some(path) = self.folder_path(name).filter(|path| path.join("cur").is_dir()) else {
            self.tagged(tag, "NO", "[NONEXISTENT] mailbox does not exist");
            return;
        };
        let mailbox = match Mailbox::open(&path, read_only) {
            Ok(mailbox) => mailbox,
            Err(error) => {
                tracing::error!(user, path = %path.display(), %error, "cannot open mailbox");
                self.tagged(tag, "NO", "[SERVERBUG] cannot open mailbox");
                return;
            }
        };

        let unseen_first = mailbox
            .entries()
            .iter()
            .position(|entry| !FlagSet::from_store(&entry.flags).seen);
        let out = &mut self.out;
        out.extend_from_slice(format!("* FLAGS ({SYSTEM_FLAGS})\r\n").as_bytes());
        let permanent = if read_only {
            "()".to_string()
        } else {
            format!("({SYSTEM_FLAGS} \\*)")
        };
        out.extend_from_slice(format!("* OK [PERMANENTFLAGS {permanent}] flags permitted\r\n").as_bytes());
        out.extend_from_slice(format!("* {} EXISTS\r\n", mailbox.len()).as_bytes());
        out.extend_from_slice(format!("* {} RECENT\r\n", mailbox.recent_count()).as_bytes());
        if let Some(index) = unseen_first {
            out.extend_from_slice(format!("* OK [UNSEEN {}] first unseen\r\n", index + 1).as_bytes());
        }
        out.extend_from_slice(
            format!("* OK [UIDVALIDITY {}] UIDs valid\r\n", mailbox.uidvalidity()).as_bytes(),
        );
        out.extend_from_slice(format!("* OK [UIDNEXT {}] predicted next UID\r\n", mailbox.uidnext()).as_bytes());
        let access = if read_only { "READ-ONLY" } else { "READ-WRITE" };
        self.tagged(tag, "OK", &format!("[{access}] {verb} completed"));
        self.state = State::Selected {
            user,
            selected: Selected {
                mailbox,
                path,
                read_only,
            },
        };
    }

    fn create(&mut self, tag: &str, name: &MailboxName<'_>) {
        if name.is_inbox() {
            self.tagged(tag, "NO", "[ALREADYEXISTS] INBOX always exists");
            return;
        }
        let user = self.user().unwrap_or_default().to_string();
        match self.folder_path(name) {
            None => self.tagged(tag, "NO", "[CANNOT] invalid mailbox name"),
            Some(path) if path.exists() => self.tagged(tag, "NO", "[ALREADYEXISTS] mailbox exists"),
            Some(_) => match self.shared.store.create_folder(&user, name.as_bytes()) {
                Ok(()) => self.tagged(tag, "OK", "CREATE completed"),
                Err(error) => {
                    tracing::error!(user, %error, "cannot create folder");
                    self.tagged(tag, "NO", "[SERVERBUG] cannot create mailbox");
                }
            },
        }
    }

    fn status(&mut self, tag: &str, name: &MailboxName<'_>, items: &[StatusItem]) {
        let Some(path) = self.folder_path(name).filter(|path| path.join("cur").is_dir()) else {
            self.tagged(tag, "NO", "[NONEXISTENT] mailbox does not exist");
            return;
        };
        let status = match mailbox::folder_status(&path) {
            Ok(status) => status,
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot read mailbox status");
                self.tagged(tag, "NO", "[SERVERBUG] cannot read mailbox status");
                return;
            }
        };
        self.out.extend_from_slice(b"* STATUS ");
        imap::response::write_mailbox(&mut self.out, name.as_bytes());
        self.out.extend_from_slice(b" (");
        for (index, item) in items.iter().enumerate() {
            if index > 0 {
                self.out.push(b' ');
            }
            let (label, value) = match item {
                StatusItem::Messages => ("MESSAGES", status.messages),
                StatusItem::Recent => ("RECENT", status.recent),
                StatusItem::UidNext => ("UIDNEXT", status.uidnext),
                StatusItem::UidValidity => ("UIDVALIDITY", status.uidvalidity),
                StatusItem::Unseen => ("UNSEEN", status.unseen),
            };
            self.out.extend_from_slice(format!("{label} {value}").as_bytes());
        }
        self.out.extend_from_slice(b")\r\n");
        self.tagged(tag, "OK", "STATUS completed");
    }

    fn append(
        &mut self,
        tag: &str,
        name: &MailboxName<'_>,
        flags: &[Flag<'_>],
        date: Option<&[u8]>,
        message: &[u8],
    ) {
        let Some(path) = self.folder_path(name).filter(|path| path.join("cur").is_dir()) else {
            self.tagged(tag, "NO", "[TRYCREATE] mailbox does not exist");
            return;
        };
        let internal_date = date.and_then(parse_internal_date);
        let flags = FlagSet::from_command(flags).to_store();

        // Append through the selected index when it is the same folder, so
        // the session's view stays in step.
        let result = match &mut self.state {
            State::Selected { selected, .. } if selected.path == path => {
                selected.mailbox.append(message, flags, internal_date)
            }
            _ => mailbox::append_message(&path, message, &flags, internal_date),
        };
        match result {
            Ok(_) => {
                self.report_changes();
                self.tagged(tag, "OK", "APPEND completed");
            }
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "append failed");
                self.tagged(tag, "NO", "[SERVERBUG] cannot append message");
            }
        }
    }

    fn close(&mut self, tag: &str, expunge: bool) {
        let State::Selected { user, selected } = std::mem::replace(&mut self.state, State::Logout) else {
            let previous = std::mem::replace(&mut self.state, State::Logout);
            self.state = previous;
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let Selected {
            mut mailbox,
            read_only,
            ..
        } = selected;
        if expunge && !read_only {
            if let Err(error) = mailbox.expunge() {
                tracing::error!(user, %error, "expunge on CLOSE failed");
            }
        }
        self.state = State::Authenticated { user };
        let verb = if expunge { "CLOSE" } else { "UNSELECT" };
        self.tagged(tag, "OK", &format!("{verb} completed"));
    }

    fn expunge(&mut self, tag: &str) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        if selected.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
            return;
        }
        match selected.mailbox.expunge() {
            Ok(expunged) => {
                for sequence in expunged {
                    self.out
                        .extend_from_slice(format!("* {sequence} EXPUNGE\r\n").as_bytes());
                }
                self.tagged(tag, "OK", "EXPUNGE completed");
            }
            Err(error) => {
                tracing::error!(%error, "expunge failed");
                self.tagged(tag, "NO", "[SERVERBUG] expunge failed");
            }
        }
    }

    /// Returns the 0-based indexes of the messages `set` names, or an error
    /// text when a sequence number is beyond the mailbox.
    fn resolve(mailbox: &Mailbox, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, &'static str> {
        let count = mailbox.len();
        if uid {
            let uid_max = mailbox.entries().last().map(|entry| entry.uid).unwrap_or(0);
            return Ok((0..count)
                .filter(|&index| set.contains(mailbox.entry(index).uid, uid_max))
                .collect());
        }
        let count_u32 = count as u32;
        for range in &set.ranges {
            for number in [range.start, range.end] {
                match number {
                    SequenceNumber::Value(value) if value > count_u32 => {
                        return Err("message sequence number out of range")
                    }
                    SequenceNumber::Star if count == 0 => return Err("mailbox is empty"),
                    _ => {}
                }
            }
        }
        Ok((0..count)
            .filter(|&index| set.contains(index as u32 + 1, count_u32))
            .collect())
    }

    async fn fetch(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        attributes: &[FetchAttribute<'_>],
        uid: bool,
    ) -> io::Result<()> {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return Ok(());
        };
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return Ok(());
            }
        };

        let sets_seen = fetch::sets_seen(attributes) && !selected.read_only;
        let needs_message = fetch::needs_message(attributes);
        let mut failed = 0usize;
        for index in indexes {
            let State::Selected { selected, .. } = &mut self.state else {
                unreachable!("state is Selected for the whole FETCH");
            };
            let mailbox = &mut selected.mailbox;
            let mut flags = FlagSet::from_store(&mailbox.entry(index).flags);
            let mut flags_changed = false;
            if sets_seen && !flags.seen {
                flags.seen = true;
                match mailbox.set_flags(index, flags.to_store()) {
                    Ok(()) => flags_changed = true,
                    Err(error) => tracing::warn!(%error, "cannot set \\Seen"),
                }
            }
            let message = if needs_message {
                match mailbox.read_message(index) {
                    Ok(message) => Some(message),
                    Err(error) => {
                        tracing::warn!(uid = mailbox.entry(index).uid, %error, "cannot read message");
                        failed += 1;
                        continue;
                    }
                }
            } else {
                None
            };
            let entry = mailbox.entry(index);
            let item = FetchItem {
                sequence: index as u32 + 1,
                uid: entry.uid,
                flags: &flags,
                recent: mailbox.is_recent(index),
                size: entry.size,
                internal_date: entry.internal_date,
            };
            fetch::write_fetch(&mut self.out, &item, attributes, message.as_deref(), uid, flags_changed);
            if self.out.len() >= OUTPUT_FLUSH_LEN {
                self.flush().await?;
            }
        }

        if failed > 0 {
            self.tagged(tag, "NO", "some messages could not be fetched");
        } else {
            self.tagged(tag, "OK", "FETCH completed");
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        kind: StoreKind,
        silent: bool,
        flags: &[Flag<'_>],
        uid: bool,
    ) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        if selected.read_only {
            self.tagged(tag, "NO", "[READ-ONLY] mailbox is read-only");
            return;
        }
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return;
            }
        };

        let mut failed = 0usize;
        for index in indexes {
            let mailbox = &mut selected.mailbox;
            let mut updated = FlagSet::from_store(&mailbox.entry(index).flags);
            updated.apply(kind, flags);
            if let Err(error) = mailbox.set_flags(index, updated.to_store()) {
                tracing::warn!(uid = mailbox.entry(index).uid, %error, "cannot store flags");
                failed += 1;
                continue;
            }
            if !silent {
                let entry = mailbox.entry(index);
                self.out
                    .extend_from_slice(format!("* {} FETCH (", index + 1).as_bytes());
                if uid {
                    self.out.extend_from_slice(format!("UID {} ", entry.uid).as_bytes());
                }
                self.out.extend_from_slice(b"FLAGS ");
                updated.write(&mut self.out, mailbox.is_recent(index));
                self.out.extend_from_slice(b")\r\n");
            }
        }
        if failed > 0 {
            self.tagged(tag, "NO", "some flags could not be stored");
        } else {
            self.tagged(tag, "OK", "STORE completed");
        }
    }

    fn copy(&mut self, tag: &str, set: &SequenceSet, name: &MailboxName<'_>, uid: bool) {
        let Some(path) = self.folder_path(name).filter(|path| path.join("cur").is_dir()) else {
            self.tagged(tag, "NO", "[TRYCREATE] mailbox does not exist");
            return;
        };
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let indexes = match Self::resolve(&selected.mailbox, set, uid) {
            Ok(indexes) => indexes,
            Err(reason) => {
                self.tagged(tag, "BAD", reason);
                return;
            }
        };
        let same_folder = selected.path == path;
        for index in indexes {
            let source = &selected.mailbox;
            let entry = source.entry(index);
            let copied = source
                .read_message(index)
                .and_then(|message| {
                    mailbox::append_message(&path, &message, &entry.flags, Some(entry.internal_date))
                });
            if let Err(error) = copied {
                tracing::error!(%error, "copy failed");
                self.tagged(tag, "NO", "[SERVERBUG] copy failed");
                return;
            }
        }
        if same_folder {
            self.report_changes();
        }
        self.tagged(tag, "OK", "COPY completed");
    }

    fn search(&mut self, tag: &str, criteria: &SearchKey<'_>, uid: bool) {
        let State::Selected { selected, .. } = &mut self.state else {
            self.tagged(tag, "BAD", "no mailbox selected");
            return;
        };
        let mailbox = &selected.mailbox;
        let sequence_max = mailbox.len() as u32;
        let uid_max = mailbox.entries().last().map(|entry| entry.uid).unwrap_or(0);

        let mut found = Vec::new();
        for index in 0..mailbox.len() {
            let entry = mailbox.entry(index);
            let flags = FlagSet::from_store(&entry.flags);
            let mut loader = || mailbox.read_message(index).ok();
            let mut candidate = Candidate {
                sequence: index as u32 + 1,
                uid: entry.uid,
                flags: &flags,
                recent: mailbox.is_recent(index),
                size: entry.size,
                internal_date: entry.internal_date,
                sequence_max,
                uid_max,
                loader: &mut loader,
                message: None,
            };
            if search::matches(criteria, &mut candidate) {
                found.push(if uid { entry.uid } else { index as u32 + 1 });
            }
        }

        self.out.extend_from_slice(b"* SEARCH");
        for number in found {
            self.out.extend_from_slice(format!(" {number}").as_bytes());
        }
        self.out.extend_from_slice(b"\r\n");
        self.tagged(tag, "OK", "SEARCH completed");
    }

    /// Rescans the selected mailbox and queues untagged EXPUNGE, EXISTS and
    /// FETCH FLAGS replies for what changed since the last look.
    fn report_changes(&mut self) {
        let State::Selected { selected, .. } = &mut self.state else {
            return;
        };
        let changes = match selected.mailbox.refresh() {
            Ok(changes) => changes,
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                // The UID list was lost and the folder got a new UIDVALIDITY;
                // a session cannot continue with UIDs that changed meaning.
                tracing::warn!(%error, "UIDVALIDITY changed under a selected mailbox");
                self.out
                    .extend_from_slice(b"* BYE mailbox UIDVALIDITY changed, please reconnect
");
                self.state = State::Logout;
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "mailbox rescan failed");
                return;
            }
        };
        for sequence in &changes.expunged {
            self.out
                .extend_from_slice(format!("* {sequence} EXPUNGE\r\n").as_bytes());
        }
        if changes.new_count > 0 || !changes.expunged.is_empty() {
            let mailbox = &selected.mailbox;
            self.out
                .extend_from_slice(format!("* {} EXISTS\r\n", mailbox.len()).as_bytes());
            self.out
                .extend_from_slice(format!("* {} RECENT\r\n", mailbox.recent_count()).as_bytes());
        }
        for &sequence in &changes.flag_changes {
            let index = sequence as usize - 1;
            let mailbox = &selected.mailbox;
            if index >= mailbox.len() {
                continue;
            }
            let flags = FlagSet::from_store(&mailbox.entry(index).flags);
            self.out
                .extend_from_slice(format!("* {sequence} FETCH (FLAGS ").as_bytes());
            flags.write(&mut self.out, mailbox.is_recent(index));
            self.out.extend_from_slice(b")\r\n");
        }
    }
}

/// Matches a LIST pattern: `*` matches anything, `%` anything but the
/// hierarchy separator `.`.
fn wildcard_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.split_first() {
        None => name.is_empty(),
        Some((b'*', rest)) => (0..=name.len()).any(|skip| wildcard_match(rest, &name[skip..])),
        Some((b'%', rest)) => {
            let limit = name.iter().position(|&byte| byte == b'.').unwrap_or(name.len());
            (0..=limit).any(|skip| wildcard_match(rest, &name[skip..]))
        }
        Some((&first, rest)) => name.first() == Some(&first) && wildcard_match(rest, &name[1..]),
    }
}

/// Parses an APPEND date-time, "DD-Mon-YYYY HH:MM:SS +ZZZZ", into Unix
/// seconds. Returns `None` for anything else, and the message then gets the
/// current time.
fn parse_internal_date(text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.trim();
    let (date, rest) = text.split_once(' ')?;
    let (time, zone) = rest.trim().split_once(' ')?;
    let mut date_parts = date.trim().split('-');
    let day: u32 = date_parts.next()?.trim().parse().ok()?;
    let month_name = date_parts.next()?;
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ]
    .iter()
    .position(|name| name.eq_ignore_ascii_case(month_name))? as u32
        + 1;
    let mut time_parts = time.split(':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: i64 = time_parts.next()?.parse().ok()?;
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zone_digits: i64 = zone.get(1..5)?.parse().ok()?;
    let offset_secs = sign * ((zone_digits / 100) * 3600 + (zone_digits % 100) * 60);
    let days = search::days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_wildcards() {
        let cases: &[(&[u8], &[u8], bool)] = &[
            (b"*", b"INBOX", true),
            (b"%", b"Sent", true),
            (b"%", b"a.b", false),
            (b"*", b"a.b", true),
            (b"a.%", b"a.b", true),
            (b"INBOX", b"INBOX", true),
            (b"Sent", b"Trash", false),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                wildcard_match(pattern, name),
                *expected,
                "{:?} against {:?}",
                String::from_utf8_lossy(pattern),
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn append_date_parses_with_zone() {
        assert_eq!(parse_internal_date(b"01-Jan-1970 00:00:00 +0000"), Some(0));
        assert_eq!(parse_internal_date(b"01-Jan-1970 01:00:00 +0100"), Some(0));
        assert_eq!(parse_internal_date(b" 1-Jan-1970 00:00:10 -0000"), Some(10));
        assert_eq!(parse_internal_date(b"yesterday"), None);
    }
}
