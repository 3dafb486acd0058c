//! SMTP AUTH (RFC 4954) with the PLAIN and LOGIN mechanisms, and the policy
//! of the submission service (RFC 6409): who may authenticate, what an
//! authenticated client may send, and how failures are slowed down.
//!
//! The session calls [`check_auth_command`] when AUTH arrives. It returns the
//! [`Mechanism`] to run or the reply that rejects the command. The session
//! then calls [`authenticate`], which runs the SASL exchange on the
//! connection (334 challenges, response lines of at most
//! [`SASL_LINE_MAX`] octets), checks the password with the user database on
//! the blocking pool and queues the final reply.
//!
//! Policy:
//! - AUTH is offered only on [`SmtpService::Submission`], and there only
//!   over TLS or, when `allow_plaintext_auth_loopback` is set, to a client
//!   on a loopback address. The relay port replies 503 5.5.1 to AUTH, as
//!   Postfix does when AUTH is not enabled, so it is never an open relay.
//!   A submission client without TLS gets 538 5.7.11.
//! - A failed AUTH gets 535 5.7.8 after a delay that grows with the failures
//!   from the same client IP ([`AuthFailures`]): none for the first, then
//!   `auth_failure_delay_base_ms` doubling to `auth_failure_delay_max_ms`.
//!   The delay makes password guessing slow without a lockout that an
//!   attacker could use against a real user. The count is kept per IP, not
//!   per connection, so reconnecting does not reset it.
//! - `auth_failures_per_connection_max` failures close the connection with
//!   421 4.7.0, so one connection cannot keep guessing.
//! - [`sender_owned_by`] decides whether MAIL FROM is the user's address.
//!
//! Passwords and SASL payloads are never logged. Success and failure are
//! logged with the user name and the peer.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ringmail_protocols::sasl::{
    self, Mechanism, Response, SaslError, LOGIN_PASSWORD_CHALLENGE, LOGIN_USERNAME_CHALLENGE,
    SASL_LINE_MAX,
};
use ringmail_protocols::smtp::Reply;
use ringmail_protocols::smtp::{EnhancedStatus, ReversePath};

use super::SmtpService;
use crate::config::{Config, SubmissionConfig};
use crate::connection::{Connection, Fill};
use crate::runtime;
use crate::server::Shared;

/// Maximum client IPs whose failure counts are kept. When the map is full,
/// the IP whose last failure is oldest is forgotten, so a flood of failures
/// from many addresses costs bounded memory.
pub const AUTH_FAILURE_TRACKED_IPS_MAX: usize = 10_000;

/// The EHLO keyword line that offers AUTH.
pub const EHLO_AUTH_LINE: &str = "AUTH PLAIN LOGIN";

fn status(class: u8, subject: u16, detail: u16) -> Option<EnhancedStatus> {
    Some(EnhancedStatus::new(class, subject, detail))
}

/// Returns whether AUTH is offered to this session. See the module
/// documentation for the rule.
pub fn auth_offered(
    service: SmtpService,
    tls: bool,
    peer: IpAddr,
    config: &SubmissionConfig,
) -> bool {
    if service != SmtpService::Submission {
        return false;
    }
    tls || (config.allow_plaintext_auth_loopback && peer.to_canonical().is_loopback())
}

/// The session state that [`check_auth_command`] reads.
pub struct AuthContext<'a> {
    pub service: SmtpService,
    pub tls: bool,
    pub peer: IpAddr,
    /// Whether the client greeted with EHLO. AUTH is an extension, so a
    /// session after HELO or without a greeting cannot use it.
    pub extended: bool,
    /// The user already authenticated in this session.
    pub auth_user: Option<&'a str>,
    /// Whether a mail transaction is in progress.
    pub in_transaction: bool,
}

/// Checks whether AUTH `mechanism` may run now, and returns the mechanism
/// or the reply that rejects the command.
pub fn check_auth_command(
    context: &AuthContext<'_>,
    config: &SubmissionConfig,
    mechanism: &str,
) -> Result<Mechanism, Reply> {
    let out_of_order = |text: &'static str| Reply::new(503, status(5, 5, 1), text);

    if context.service != SmtpService::Submission {
        return Err(out_of_order("authentication not enabled on this port"));
    }
    if !context.extended {
        return Err(out_of_order("send EHLO first"));
    }
    // On submission a transaction implies AUTH, so the transaction check
    // comes first to give the more precise reason.
    if context.in_transaction {
        return Err(out_of_order("AUTH not allowed during a mail transaction"));
    }
    if context.auth_user.is_some() {
        return Err(out_of_order("already authenticated"));
    }
    if !auth_offered(context.service, context.tls, context.peer, config) {
        return Err(Reply::new(
            538,
            status(5, 7, 11),
            "encryption required for requested authentication mechanism",
        ));
    }
    Mechanism::from_name(mechanism).ok_or_else(|| {
        Reply::new(
            504,
            status(5, 5, 4),
            "unrecognized authentication mechanism, use PLAIN or LOGIN",
        )
    })
}

/// Returns whether `reverse_path` is one of `user`'s addresses: the user's
/// name as local part, with an optional subaddress, at any local domain.
/// The null path belongs to no user.
pub fn sender_owned_by(config: &Config, user: &str, reverse_path: &ReversePath<'_>) -> bool {
    let ReversePath::Mailbox(mailbox) = reverse_path else {
        return false;
    };
    config.is_local_domain(mailbox.domain)
        && crate::router::local_user_name(config, mailbox).as_deref() == Some(user)
}

/// Failed AUTH counts per client IP, shared by every worker.
///
/// NOTE: the lock is taken once per failed AUTH, never per command, so it
/// is not on the accept or delivery path.
pub struct AuthFailures {
    entries: Mutex<HashMap<IpAddr, FailureRecord>>,
}

/// The failures of one client IP within the window.
#[derive(Debug, Clone, Copy)]
struct FailureRecord {
    count: u32,
    last: Instant,
}

/// The delay settings of [`AuthFailures::record_failure`].
#[derive(Debug, Clone, Copy)]
pub struct FailureDelay {
    pub base_ms: u64,
    pub max_ms: u64,
    pub window: Duration,
}

impl FailureDelay {
    /// Reads the settings from `[submission]`.
    pub fn from_config(config: &SubmissionConfig) -> Self {
        FailureDelay {
            base_ms: config.auth_failure_delay_base_ms,
            max_ms: config.auth_failure_delay_max_ms,
            window: Duration::from_secs(config.auth_failure_window_secs),
        }
    }

    /// Returns the delay before the reply to a failure that follows
    /// `prior_failures` failures: 0, then `base_ms`, doubling, capped at
    /// `max_ms`.
    pub fn delay(&self, prior_failures: u32) -> Duration {
        if prior_failures == 0 {
            return Duration::ZERO;
        }
        // 2^20 times any allowed base is far above any allowed cap, so the
        // exponent can stop there without changing the result.
        let doublings = (prior_failures - 1).min(20);
        let delay_ms = self.base_ms.saturating_mul(1 << doublings);
        Duration::from_millis(delay_ms.min(self.max_ms))
    }
}

impl Default for AuthFailures {
    fn default() -> Self {
        Self::new()
    }
}

impl AuthFailures {
    /// Builds an empty table.
    pub fn new() -> Self {
        AuthFailures {
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Records a failure from `ip` at `now` and returns the delay before its
    /// reply. Failures older than `delay.window` are forgotten first.
    pub fn record_failure(&self, ip: IpAddr, now: Instant, delay: &FailureDelay) -> Duration {
        let ip = ip.to_canonical();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());

        let prior = match entries.get(&ip) {
            Some(record) if now.saturating_duration_since(record.last) < delay.window => {
                record.count
            }
            _ => 0,
        };
        if !entries.contains_key(&ip) && entries.len() >= AUTH_FAILURE_TRACKED_IPS_MAX {
            evict_oldest(&mut entries);
        }
        entries.insert(
            ip,
            FailureRecord {
                count: prior.saturating_add(1),
                last: now,
            },
        );
        delay.delay(prior)
    }

    /// Returns the number of client IPs in the table.
    pub fn tracked_ips(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

/// Removes the entry whose last failure is oldest. The scan is linear, but
/// it runs only when a new IP fails while the table is full.
fn evict_oldest(entries: &mut HashMap<IpAddr, FailureRecord>) {
    let oldest = entries
        .iter()
        .min_by_key(|(_, record)| record.last)
        .map(|(ip, _)| *ip);
    if let Some(ip) = oldest {
        entries.remove(&ip);
    }
}

/// Result of an AUTH exchange.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials are valid; the session is now this user's.
    Authenticated(String),
    /// The exchange ended without authentication; the reply is queued and
    /// the session continues.
    NotAuthenticated,
    /// The session must close: the reply, if any, is queued.
    Close,
}

/// One response line of the exchange, or why there is none.
enum ResponseLine {
    Line(Vec<u8>),
    TooLong,
    Closed,
    TimedOut,
}

/// The session parts that an AUTH exchange uses.
pub struct Exchange<'a> {
    pub connection: &'a mut Connection,
    pub peer: SocketAddr,
    pub shared: &'a Arc<Shared>,
    /// Whether replies carry enhanced status codes (always true after EHLO).
    pub extended: bool,
    /// Failed AUTH commands in this connection so far.
    pub failures: &'a mut u32,
}

/// Runs the SASL exchange for `mechanism`, verifies the credentials and
/// queues the final reply. `initial_response` is the base64 text sent on
/// the AUTH line, if any.
pub async fn authenticate(
    exchange: &mut Exchange<'_>,
    mechanism: Mechanism,
    initial_response: Option<String>,
) -> io::Result<AuthOutcome> {
    let credentials = match mechanism {
        Mechanism::Plain => read_plain(exchange, initial_response).await?,
        Mechanism::Login => read_login(exchange, initial_response).await?,
    };
    match credentials {
        Ok(credentials) => verify(exchange, mechanism, credentials).await,
        Err(outcome) => Ok(outcome),
    }
}

/// A user name and password from the exchange.
struct Credentials {
    user: String,
    password: String,
}

/// The credentials, or how the exchange ended without them.
type Exchanged = Result<Credentials, AuthOutcome>;

async fn read_plain(
    exchange: &mut Exchange<'_>,
    initial_response: Option<String>,
) -> io::Result<Exchanged> {
    let decoded = match next_response(exchange, initial_response, "").await? {
        Ok(decoded) => decoded,
        Err(outcome) => return Ok(Err(outcome)),
    };
    let (authzid, authcid, password) = match sasl::decode_sasl_plain(&decoded) {
        Ok(parts) => parts,
        Err(error) => return Ok(Err(reject_malformed(exchange, &error))),
    };
    if !authzid.is_empty() && authzid != authcid {
        exchange.reply(Reply::new(
            535,
            status(5, 7, 8),
            "authorization identity must be empty or equal the user name",
        ));
        return Ok(Err(AuthOutcome::NotAuthenticated));
    }
    Ok(Ok(Credentials {
        user: String::from_utf8_lossy(authcid).to_ascii_lowercase(),
        password: String::from_utf8_lossy(password).into_owned(),
    }))
}

async fn read_login(
    exchange: &mut Exchange<'_>,
    initial_response: Option<String>,
) -> io::Result<Exchanged> {
    let mut fields = Vec::with_capacity(2);
    let mut initial_response = initial_response;
    for challenge in [LOGIN_USERNAME_CHALLENGE, LOGIN_PASSWORD_CHALLENGE] {
        let decoded = match next_response(exchange, initial_response.take(), challenge).await? {
            Ok(decoded) => decoded,
            Err(outcome) => return Ok(Err(outcome)),
        };
        match sasl::decode_sasl_login_field(&decoded) {
            Ok(field) => fields.push(String::from_utf8_lossy(field).into_owned()),
            Err(error) => return Ok(Err(reject_malformed(exchange, &error))),
        }
    }
    let password = fields.pop().unwrap_or_default();
    let user = fields.pop().unwrap_or_default().to_ascii_lowercase();
    Ok(Ok(Credentials { user, password }))
}

/// Returns the decoded next response: `initial_response` when given, or the
/// line read after sending `334 challenge`.
async fn next_response(
    exchange: &mut Exchange<'_>,
    initial_response: Option<String>,
    challenge: &str,
) -> io::Result<Result<Vec<u8>, AuthOutcome>> {
    let line = match initial_response {
        Some(response) => response.into_bytes(),
        None => {
            // "334 " with the space even for an empty challenge, as RFC 4954
            // section 4 shows it.
            let output = exchange.connection.output();
            output.extend_from_slice(b"334 ");
            output.extend_from_slice(challenge.as_bytes());
            output.extend_from_slice(b"\r\n");
            exchange.connection.flush().await?;
            match read_response_line(exchange).await? {
                ResponseLine::Line(line) => line,
                ResponseLine::TooLong => {
                    let text = format!(
                        "authentication exchange line too long, max {SASL_LINE_MAX} octets"
                    );
                    exchange.reply(Reply::new(500, status(5, 5, 6), text));
                    return Ok(Err(AuthOutcome::NotAuthenticated));
                }
                ResponseLine::Closed => return Ok(Err(AuthOutcome::Close)),
                ResponseLine::TimedOut => {
                    let text = format!(
                        "{} timeout exceeded, closing connection",
                        exchange.shared.hostname
                    );
                    exchange.reply(Reply::new(421, status(4, 4, 2), text));
                    return Ok(Err(AuthOutcome::Close));
                }
            }
        }
    };

    match sasl::decode_response(&line) {
        Ok(Response::Data(decoded)) => Ok(Ok(decoded)),
        Ok(Response::Cancel) => {
            exchange.reply(Reply::new(501, status(5, 7, 0), "authentication cancelled"));
            Ok(Err(AuthOutcome::NotAuthenticated))
        }
        Err(error) => Ok(Err(reject_malformed(exchange, &error))),
    }
}

/// Queues the 501 or 500 reply to a response that cannot be decoded.
fn reject_malformed(exchange: &mut Exchange<'_>, error: &SaslError) -> AuthOutcome {
    let reply = match error {
        SaslError::LineTooLong { .. } => Reply::new(500, status(5, 5, 6), error.to_string()),
        SaslError::InvalidBase64 | SaslError::InvalidMessage { .. } => {
            Reply::new(501, status(5, 5, 2), error.to_string())
        }
    };
    exchange.reply(reply);
    AuthOutcome::NotAuthenticated
}

/// Reads one response line of at most [`SASL_LINE_MAX`] octets. A longer
/// line is read and dropped through its LF, so the session can go on with
/// the next command.
async fn read_response_line(exchange: &mut Exchange<'_>) -> io::Result<ResponseLine> {
    let timeout = exchange.shared.config.smtp_command_timeout();
    let mut too_long = false;
    loop {
        let input = exchange.connection.input();
        let window = &input[..input.len().min(SASL_LINE_MAX)];
        match memchr::memchr(b'\n', if too_long { input } else { window }) {
            Some(lf) if too_long => {
                exchange.connection.consume(lf + 1);
                return Ok(ResponseLine::TooLong);
            }
            Some(lf) => {
                let line = &input[..lf];
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                exchange.connection.consume(lf + 1);
                return Ok(ResponseLine::Line(line));
            }
            None if too_long || input.len() >= SASL_LINE_MAX => {
                too_long = true;
                let len = input.len();
                exchange.connection.consume(len);
            }
            None => {}
        }

        match exchange.connection.fill(timeout, None).await? {
            Fill::Data => {}
            Fill::Closed | Fill::Shutdown => return Ok(ResponseLine::Closed),
            Fill::TimedOut => return Ok(ResponseLine::TimedOut),
        }
    }
}

/// Checks the credentials on the blocking pool and queues the final reply.
async fn verify(
    exchange: &mut Exchange<'_>,
    mechanism: Mechanism,
    credentials: Credentials,
) -> io::Result<AuthOutcome> {
    let Credentials { user, password } = credentials;
    let shared = exchange.shared.clone();
    let name = user.clone();
    let verified = runtime::spawn_blocking(move || shared.users.verify(&name, &password)).await?;
    let peer = exchange.peer;

    match verified {
        Ok(true) => {
            tracing::info!(%peer, user, mechanism = mechanism.name(), "smtp auth succeeded");
            exchange.reply(Reply::new(
                235,
                status(2, 7, 0),
                "Authentication successful",
            ));
            Ok(AuthOutcome::Authenticated(user))
        }
        Ok(false) => {
            *exchange.failures += 1;
            let config = &exchange.shared.config.submission;
            let delay = exchange.shared.auth_failures.record_failure(
                peer.ip(),
                Instant::now(),
                &FailureDelay::from_config(config),
            );
            let failures_max = config.auth_failures_per_connection_max;
            tracing::info!(
                %peer,
                user,
                mechanism = mechanism.name(),
                failures = *exchange.failures,
                delay_ms = delay.as_millis() as u64,
                "smtp auth failed"
            );
            runtime::sleep(delay).await;

            if *exchange.failures >= failures_max {
                tracing::info!(%peer, auth_failures_per_connection_max = failures_max, "smtp connection reached its auth failure limit, closing");
                exchange.reply(Reply::new(
                    421,
                    status(4, 7, 0),
                    format!("too many failed authentications, max {failures_max} per connection, closing connection"),
                ));
                return Ok(AuthOutcome::Close);
            }
            exchange.reply(Reply::new(
                535,
                status(5, 7, 8),
                "Authentication credentials invalid",
            ));
            Ok(AuthOutcome::NotAuthenticated)
        }
        Err(error) => {
            tracing::error!(%peer, %error, "user database unreadable");
            exchange.reply(Reply::new(
                454,
                status(4, 7, 0),
                "temporary authentication failure, try again later",
            ));
            Ok(AuthOutcome::NotAuthenticated)
        }
    }
}

impl Exchange<'_> {
    fn reply(&mut self, reply: Reply) {
        reply.write_to(self.connection.output(), self.extended);
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
