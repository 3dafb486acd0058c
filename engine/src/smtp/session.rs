//! One SMTP session: greeting, commands, DATA and local delivery.
//!
//! The loop reads into the connection's buffer, lets the parser take every
//! complete command in it (a pipelined batch is handled in one pass), and
//! sends the collected replies in one write before reading again. During DATA
//! the receiver consumes the buffer directly; the reply to the final dot is
//! written only after every copy of the message is durable in its Maildir.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use ringmail_protocols::smtp::{
    self, Command, DataLimits, DataOutcome, DataReceiver, EnhancedStatus, LineOutcome, LineReader,
    MailParameters, Reply, ReversePath,
};

use super::header_policy::{check_header, HeaderLimits};
use super::limits;
use super::received::{self, Trace};
use super::SmtpService;
use crate::connection::{Connection, Fill};
use crate::mailstore::{self, Delivery};
use crate::router::{self, RouteError};
use crate::server::{Shared, Shutdown};

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

/// An accepted envelope recipient.
struct Recipient {
    /// The address as the client gave it, for the Received header.
    address: String,
    /// The local user it is delivered to.
    user: String,
}

/// The envelope of the transaction in progress.
struct Transaction {
    reverse_path: String,
    recipients: Vec<Recipient>,
}

/// Next step of the command loop after a command.
enum Next {
    /// Handle the next command.
    Command,
    /// The 354 went out: the following bytes are message data.
    Data,
    /// Close the session after sending the replies.
    Close,
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
            }

            self.connection.flush().await?;
            if !self.read_commands().await? {
                self.connection.flush().await?;
                return Ok(());
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
                    // The command borrows the input; copy the few fields it
                    // needs only where they outlive this call.
                    let next = match smtp::parse_command(line) {
                        Ok(command) => {
                            let outcome = handle_command(
                                &mut SessionState {
                                    peer: self.peer,
                                    shared: &self.shared,
                                    helo: &mut self.helo,
                                    extended: &mut self.extended,
                                    transaction: &mut self.transaction,
                                    mail_count: &mut self.mail_count,
                                },
                                command,
                            );
                            let extended = self.extended;
                            let (_, output) = self.connection.split();
                            outcome.reply.write_to(output, extended);
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
        let queue_id = received::new_queue_id();
        let mut message = Vec::with_capacity(8192);
        self.write_received_header(&mut message, &queue_id);
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
                let limits = HeaderLimits {
                    received_max: config.smtp.received_max,
                    header_size_max: config.smtp.header_size_max,
                };
                match check_header(&message, trace_len, limits) {
                    Ok(_) => self.deliver(&queue_id, transaction, message).await,
                    Err(rejection) => {
                        tracing::info!(peer = %self.peer, queue_id, %rejection, "message rejected");
                        rejection.reply()
                    }
                }
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

    /// Writes the Received header that starts every stored copy.
    fn write_received_header(&self, message: &mut Vec<u8>, queue_id: &str) {
        let transaction = self
            .transaction
            .as_ref()
            .expect("DATA is accepted only inside a transaction");
        let single_recipient = match transaction.recipients.as_slice() {
            [only] => Some(only.address.as_str()),
            _ => None,
        };
        received::received_header(
            message,
            &Trace {
                helo: self.helo.as_deref().unwrap_or("unknown"),
                peer: self.peer,
                hostname: &self.shared.hostname,
                protocol: if self.extended { "ESMTP" } else { "SMTP" },
                queue_id,
                single_recipient,
                unix_secs: crate::time::unix_now(),
            },
        );
    }

    /// Writes the message into each recipient's Maildir through the worker's
    /// batcher and returns the reply: 250 only when every copy is durable, 451
    /// when any write failed (and then no copy is left behind).
    async fn deliver(&self, queue_id: &str, transaction: Transaction, message: Vec<u8>) -> Reply {
        let store = &self.shared.store;
        let mut targets: Vec<Delivery> = Vec::with_capacity(transaction.recipients.len());
        let mut users: Vec<&str> = Vec::with_capacity(transaction.recipients.len());
        for recipient in &transaction.recipients {
            if users.contains(&recipient.user.as_str()) {
                continue;
            }
            users.push(&recipient.user);
            match store.ensure_maildir(&recipient.user) {
                Ok(maildir) => targets.push(Delivery { maildir }),
                Err(error) => return self.delivery_failed(queue_id, &recipient.user, &error),
            }
        }

        let size = message.len();
        // Maildir files hold LF line ends; the message arrived with CRLF.
        let mut message = message;
        mailstore::line_ends::to_lf_in_place(&mut message);
        let stored = Rc::from(message);
        match mailstore::batch::deliver(targets, stored).await {
            Ok(_) => {
                tracing::info!(
                    peer = %self.peer,
                    queue_id,
                    from = transaction.reverse_path,
                    recipients = transaction.recipients.len(),
                    size,
                    "delivered"
                );
                Reply::new(250, status(2, 0, 0), format!("Ok: delivered as {queue_id}"))
            }
            Err(error) => self.delivery_failed(queue_id, &users.join(","), &error),
        }
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
    shared: &'s Shared,
    helo: &'s mut Option<String>,
    extended: &'s mut bool,
    transaction: &'s mut Option<Transaction>,
    mail_count: &'s mut u32,
}

/// The reply to one command and what follows it.
struct Outcome {
    reply: Reply,
    next: Next,
}

impl Outcome {
    fn reply(
        code: u16,
        enhanced: Option<EnhancedStatus>,
        text: impl Into<std::borrow::Cow<'static, str>>,
    ) -> Self {
        Outcome {
            reply: Reply::new(code, enhanced, text),
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
            let lines = [
                greeting.as_str(),
                "PIPELINING",
                size.as_str(),
                "8BITMIME",
                "ENHANCEDSTATUSCODES",
                "HELP",
            ];
            let mut text = String::new();
            for (index, line) in lines.iter().enumerate() {
                if index > 0 {
                    text.push('\n');
                }
                text.push_str(line);
            }
            Outcome {
                reply: Reply::new(250, None, text),
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
        Command::RcptTo { forward_path, .. } => rcpt_to(state, forward_path),
        Command::Data => match state.transaction {
            None => Outcome::out_of_order("need MAIL command first"),
            Some(transaction) if transaction.recipients.is_empty() => {
                Outcome::out_of_order("need RCPT command first")
            }
            Some(_) => Outcome {
                reply: Reply::new(354, None, "End data with <CR><LF>.<CR><LF>"),
                next: Next::Data,
            },
        },
        Command::Rset => {
            *state.transaction = None;
            Outcome::reply(250, status(2, 0, 0), "Ok")
        }
        Command::Noop => Outcome::reply(250, status(2, 0, 0), "Ok"),
        Command::Quit => Outcome {
            reply: Reply::new(221, status(2, 0, 0), "Bye"),
            next: Next::Close,
        },
        Command::Help { .. } => Outcome::reply(
            214,
            status(2, 0, 0),
            "Commands: EHLO HELO MAIL RCPT DATA RSET NOOP QUIT HELP VRFY",
        ),
        Command::Vrfy { .. } => Outcome::reply(
            252,
            status(2, 5, 0),
            "cannot VRFY user, but will accept message and attempt delivery",
        ),
        Command::Expn { .. } => Outcome::reply(502, status(5, 5, 1), "EXPN is disabled"),
        Command::NotImplemented { verb } => Outcome::reply(
            502,
            status(5, 5, 1),
            format!("{} not implemented", verb.to_ascii_uppercase()),
        ),
    }
}

fn mail_from(
    state: &mut SessionState<'_>,
    reverse_path: ReversePath<'_>,
    parameters: MailParameters,
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
            reply: Reply::new(
                421,
                status(4, 7, 0),
                "too many messages in this connection, reconnect",
            ),
            next: Next::Close,
        };
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

    let reverse_path = match reverse_path {
        ReversePath::Null => String::new(),
        ReversePath::Mailbox(mailbox) => format!("{}@{}", mailbox.local_part, mailbox.domain),
    };
    tracing::debug!(peer = %state.peer, from = reverse_path, "mail from");
    *state.transaction = Some(Transaction {
        reverse_path,
        recipients: Vec::new(),
    });
    *state.mail_count += 1;
    Outcome::reply(250, status(2, 1, 0), "Ok")
}

fn rcpt_to(state: &mut SessionState<'_>, forward_path: smtp::ForwardPath<'_>) -> Outcome {
    let Some(transaction) = state.transaction.as_mut() else {
        return Outcome::out_of_order("need MAIL command first");
    };
    let recipients_max = state.shared.config.smtp.recipients_max;
    if transaction.recipients.len() >= recipients_max {
        return Outcome::reply(
            452,
            status(4, 5, 3),
            format!("too many recipients, max {recipients_max} per message"),
        );
    }

    let address = match &forward_path {
        smtp::ForwardPath::Postmaster => "postmaster".to_string(),
        smtp::ForwardPath::Mailbox(mailbox) => format!("{}@{}", mailbox.local_part, mailbox.domain),
    };
    match router::route(&state.shared.config, &state.shared.users, &forward_path) {
        Ok(user) => {
            transaction.recipients.push(Recipient { address, user });
            Outcome::reply(250, status(2, 1, 5), "Ok")
        }
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
