//! Server configuration: the TOML file, its embedded defaults and validation.
//!
//! Every key has a default, so an empty file (or none) runs the server on
//! loopback with the local domain `localhost`. Unknown keys are an error that
//! names the key and its line, because a misspelt limit silently left at its
//! default is worse than a refusal to start.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Default maximum message size: 25 MiB, measured after dot-unstuffing.
pub const MESSAGE_SIZE_MAX_DEFAULT: usize = 25 * 1024 * 1024;

/// Default maximum length of one DATA line, CRLF excluded. RFC 5322 sets 998,
/// but real mail (HTML spam, long base64 lines) exceeds it, and Postfix
/// accepts such lines too. The receiver still enforces a bound.
pub const DATA_LINE_MAX_DEFAULT: usize = 65536;

/// Default maximum recipients of one message (RFC 5321 section 4.5.3.1.8
/// requires at least 100).
pub const RECIPIENTS_MAX_DEFAULT: usize = 100;

/// Default maximum messages in one SMTP connection. Each accepted MAIL
/// counts, so a MAIL/RSET loop is bounded too.
pub const MESSAGES_PER_CONNECTION_MAX_DEFAULT: u32 = 1000;

/// Default maximum open SMTP connections across all workers.
pub const CONNECTIONS_MAX_DEFAULT: usize = 10_000;

/// Default maximum open SMTP connections from one client IP.
pub const CONNECTIONS_PER_IP_MAX_DEFAULT: u32 = 100;

/// Largest allowed `smtp.greet_pause_ms`. A longer pause keeps a connection
/// slot busy for little gain, and impatient clients give up on the greeting.
pub const GREET_PAUSE_MS_MAX: u64 = 60_000;
/// Default maximum Received fields a client may send: a message with more
/// has likely looped. RFC 5321 section 6.3 advises a threshold of at least 100.
pub const RECEIVED_MAX_DEFAULT: usize = 100;

/// Largest accepted `received_max`. The header scan stops at
/// `HEADER_SCAN_FIELDS_MAX` fields, and it must still see our own Received
/// field and one more than the limit.
const RECEIVED_MAX_LIMIT: usize = ringmail_protocols::message::HEADER_SCAN_FIELDS_MAX - 2;
const _: () = assert!(
    RECEIVED_MAX_LIMIT == 9998,
    "update the received_max error text"
);

/// Default maximum header size a client may send, in octets: 1 MiB. Real
/// headers are a few KiB, and the header scan reads at most this much.
pub const HEADER_SIZE_MAX_DEFAULT: usize = 1024 * 1024;

/// Default delay before the 535 reply to the second failed AUTH from one
/// client IP; each further failure doubles it.
pub const AUTH_FAILURE_DELAY_BASE_MS_DEFAULT: u64 = 500;

/// Default cap on the AUTH failure delay.
pub const AUTH_FAILURE_DELAY_MAX_MS_DEFAULT: u64 = 8000;

/// Default seconds after its last failure that a client IP's failure count
/// is forgotten.
pub const AUTH_FAILURE_WINDOW_SECS_DEFAULT: u64 = 900;

/// Default maximum failed AUTH commands in one connection before it closes.
pub const AUTH_FAILURES_PER_CONNECTION_MAX_DEFAULT: u32 = 3;

/// Largest allowed `submission.auth_failure_delay_base_ms` and
/// `auth_failure_delay_max_ms`. A longer delay keeps a connection slot busy
/// for little gain, and clients time out.
pub const AUTH_FAILURE_DELAY_MS_LIMIT: u64 = 60_000;

/// Root of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Worker threads, one per core. 0 means one per available core.
    pub workers: usize,
    /// Host name used in the SMTP greeting and in Received headers.
    /// Empty means the system host name.
    pub hostname: String,
    /// Seconds that SIGTERM or SIGINT waits for open sessions to finish.
    pub shutdown_grace_secs: u64,
    /// The SMTP receiver.
    pub smtp: SmtpConfig,
    /// The IMAP server.
    pub imap: ImapConfig,
    /// Message submission: AUTH and the sender policy.
    pub submission: SubmissionConfig,
    /// Local delivery.
    pub delivery: DeliveryConfig,
    /// The spool and its queue runner.
    pub spool: SpoolConfig,
    /// The certificate for STARTTLS and implicit TLS.
    pub tls: TlsConfig,
    /// Spam scoring of received messages.
    pub spam: SpamConfig,
}

/// `[smtp]`: the SMTP receiver.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Maximum message size in octets, advertised with SIZE.
    pub message_size_max: usize,
    /// Maximum length of one DATA line in octets, CRLF excluded.
    pub data_line_max: usize,
    /// Maximum recipients of one message.
    pub recipients_max: usize,
    /// Seconds to wait for the next command (RFC 5321 section 4.5.3.2.7: 5 minutes).
    pub command_timeout_secs: u64,
    /// Seconds to wait for each block of DATA (RFC 5321 section 4.5.3.2.5: 3 minutes).
    pub data_timeout_secs: u64,
    /// Maximum accepted MAIL commands in one connection; the next MAIL gets a
    /// 421 and the connection closes.
    pub messages_per_connection_max: u32,
    /// Maximum open SMTP connections across all workers.
    pub connections_max: usize,
    /// Maximum open SMTP connections from one client IP.
    pub connections_per_ip_max: u32,
    /// Milliseconds to wait before the greeting. A client that sends anything
    /// before the greeting is rejected with 554, also when this is 0.
    pub greet_pause_ms: u64,
    /// Maximum Received fields in a message as the client sent it, so the
    /// one this server adds is not counted. More is rejected as a mail loop.
    pub received_max: usize,
    /// Maximum header size in octets as the client sent it, the empty line
    /// after it excluded.
    pub header_size_max: usize,
    /// Whether the relay listeners offer STARTTLS. Submission listeners
    /// always offer it.
    pub starttls: bool,
    /// Client networks that may relay without AUTH, like Postfix's
    /// `mynetworks` with `permit_mynetworks`: their recipients in other
    /// domains are accepted and spooled for relay. Empty by default, so only
    /// authenticated submission clients relay.
    pub relay_networks: Vec<ipnet::IpNet>,
}

/// `[tls]`: the server certificate, PEM files. Both empty means a
/// self-signed certificate generated under `<data>/tls/` on first start.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsConfig {
    /// Certificate chain file, leaf first.
    pub cert: String,
    /// Private key file of the leaf certificate.
    pub key: String,
}

/// `[submission]`: the message submission listeners (RFC 6409), AUTH and
/// the policy for authenticated senders. Both kinds of listener share the
/// `[smtp]` limits and count against its connection limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubmissionConfig {
    /// Addresses for submission with STARTTLS (port 587). Empty disables it.
    pub listen: Vec<SocketAddr>,
    /// Addresses for submission over implicit TLS (RFC 8314, port 465): the
    /// TLS handshake comes before the greeting. Empty disables it.
    pub listen_tls: Vec<SocketAddr>,
    /// Offer AUTH without TLS to clients on a loopback address, whose
    /// traffic does not leave the host.
    pub allow_plaintext_auth_loopback: bool,
    /// Require MAIL FROM to be one of the authenticated user's addresses.
    pub sender_must_match: bool,
    /// Delay in milliseconds before the 535 reply to the second failed AUTH
    /// from one client IP. Each further failure doubles it.
    pub auth_failure_delay_base_ms: u64,
    /// Cap on that delay in milliseconds.
    pub auth_failure_delay_max_ms: u64,
    /// Seconds after its last failure that a client IP's failure count is
    /// forgotten.
    pub auth_failure_window_secs: u64,
    /// Failed AUTH commands allowed in one connection. The failure that
    /// reaches it gets a 421 and the connection closes.
    pub auth_failures_per_connection_max: u32,
}

/// `[imap]`: the IMAP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImapConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Seconds an idle session may stay open (RFC 3501 section 5.4: at least 30 minutes).
    pub idle_timeout_secs: u64,
    /// Allow LOGIN and AUTHENTICATE PLAIN without TLS. The IMAP server has no TLS
    /// yet, so this is on by default and the listeners default to loopback.
    pub allow_plaintext_auth: bool,
}

/// `[delivery]`: which recipients are local.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Domains whose recipients are delivered to local users.
    pub domains: Vec<String>,
    /// Separator of subaddresses: `alice+lists@localhost` goes to `alice`.
    /// Empty disables subaddressing.
    pub recipient_delimiter: String,
}

/// Default spool segment size: 64 MiB. A segment is deleted only when every
/// message in it is done, so a smaller segment frees disk sooner and a larger
/// one rolls (create, zero-fill, directory sync) less often.
pub const SPOOL_SEGMENT_SIZE_DEFAULT: u64 = 64 << 20;

/// Smallest allowed `spool.segment_size`: 64 KiB, so a segment has room for
/// more than one typical message.
pub const SPOOL_SEGMENT_SIZE_MIN: u64 = 64 << 10;

/// Largest allowed `spool.segment_size`: 1 GiB, the largest record payload the
/// spool format accepts.
pub const SPOOL_SEGMENT_SIZE_MAX: u64 = 1 << 30;

/// `[spool]`: the per-worker spool log and its queue runner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// Bytes of each segment file, written as zeros when it is created. Each
    /// worker keeps its active segment and, once that is half full, the next
    /// one on disk. A message larger than this gets a segment of its own.
    pub segment_size: u64,
    /// Seconds before the first retry of a failed delivery. Each later retry
    /// waits twice as long as the one before, up to `retry_max_secs`.
    pub retry_min_secs: u64,
    /// Maximum seconds between two delivery attempts.
    pub retry_max_secs: u64,
    /// Seconds after which an undeliverable message is due to bounce.
    pub bounce_after_secs: u64,
    /// Write appends with O_DIRECT and O_DSYNC where the file system allows
    /// it, so each batch is durable when its write completes, without an
    /// fdatasync. Off, where O_DIRECT is refused (tmpfs), or when
    /// `segment_size` is not a multiple of 4096, appends use buffered writes
    /// and fdatasync. Both are durable.
    pub direct_io: bool,
}

/// Default `spam.junk_score`: SpamAssassin's stock `required_score`.
pub const SPAM_JUNK_SCORE_DEFAULT: f64 = 5.0;

/// Default `spam.reject_score`. Three times the stock `required_score`
/// leaves room for false positives: ham that scores 5 to 15 still arrives,
/// in Junk.
pub const SPAM_REJECT_SCORE_DEFAULT: f64 = 15.0;

/// Default `spam.message_size_max`: 500 KiB. spamc 4.0.1 passes larger
/// messages through unscored by default (`spamc -h` gives `-s` as 500k).
/// Scoring time grows with the size.
pub const SPAM_MESSAGE_SIZE_MAX_DEFAULT: usize = 500 * 1024;

/// Largest allowed `spam.message_size_max`: 64 MiB, the size that
/// `ringmail spam check` reads at most. A scored message is held in memory
/// with its decoded parts.
pub const SPAM_MESSAGE_SIZE_MAX_LIMIT: usize = 64 * 1024 * 1024;

/// Default `spam.bayes_reload_secs`: how often a scoring thread looks for a
/// newer Bayes store, for example one that `ringmail spam learn` just wrote.
pub const SPAM_BAYES_RELOAD_SECS_DEFAULT: u64 = 10;

/// Largest allowed `spam.bayes_reload_secs`: one day.
pub const SPAM_BAYES_RELOAD_SECS_MAX: u64 = 86_400;

/// Largest absolute value of a spam score threshold. SpamAssassin's scores
/// stay far below it, and a finite bound rejects `inf` and `nan`.
pub const SPAM_SCORE_LIMIT: f64 = 10_000.0;

/// `[spam]`: spam scoring in the SMTP server, at the end of DATA or BDAT
/// LAST and before the reply.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpamConfig {
    /// Score every received message. Off by default, so that a server runs
    /// no rules that the operator did not choose and the accept benchmarks
    /// measure the SMTP path alone.
    pub enabled: bool,
    /// Directory of `.pre` and `.cf` rule files. Unset means SpamAssassin's
    /// stock rules when installed, else Ringmail's embedded set, as
    /// `ringmail spam check` loads them.
    pub rules: Option<PathBuf>,
    /// Score from which `X-Spam-Flag: YES` is added and `X-Spam-Status`
    /// starts with Yes. Unset means the rule set's `required_score`.
    pub add_header_score: Option<f64>,
    /// Score from which local recipients get the message in their Junk
    /// folder instead of INBOX.
    pub junk_score: f64,
    /// Score above which the message is rejected with 550 5.7.1.
    pub reject_score: f64,
    /// Largest message in octets that is scored. Larger messages are
    /// delivered unscored and without `X-Spam-*` fields.
    pub message_size_max: usize,
    /// Seconds between checks of `<data>/spam/bayes.db` for a newer version,
    /// which the scoring threads then load and use.
    pub bayes_reload_secs: u64,
}

impl Default for SpamConfig {
    fn default() -> Self {
        SpamConfig {
            enabled: false,
            rules: None,
            add_header_score: None,
            junk_score: SPAM_JUNK_SCORE_DEFAULT,
            reject_score: SPAM_REJECT_SCORE_DEFAULT,
            message_size_max: SPAM_MESSAGE_SIZE_MAX_DEFAULT,
            bayes_reload_secs: SPAM_BAYES_RELOAD_SECS_DEFAULT,
        }
    }
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            segment_size: SPOOL_SEGMENT_SIZE_DEFAULT,
            retry_min_secs: 60,
            retry_max_secs: 3600,
            bounce_after_secs: 5 * 24 * 3600,
            direct_io: true,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 0,
            hostname: String::new(),
            shutdown_grace_secs: 30,
            smtp: SmtpConfig::default(),
            imap: ImapConfig::default(),
            submission: SubmissionConfig::default(),
            delivery: DeliveryConfig::default(),
            spool: SpoolConfig::default(),
            tls: TlsConfig::default(),
            spam: SpamConfig::default(),
        }
    }
}

impl Default for SubmissionConfig {
    fn default() -> Self {
        SubmissionConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 5587))],
            listen_tls: vec![SocketAddr::from(([127, 0, 0, 1], 5465))],
            allow_plaintext_auth_loopback: true,
            sender_must_match: true,
            auth_failure_delay_base_ms: AUTH_FAILURE_DELAY_BASE_MS_DEFAULT,
            auth_failure_delay_max_ms: AUTH_FAILURE_DELAY_MAX_MS_DEFAULT,
            auth_failure_window_secs: AUTH_FAILURE_WINDOW_SECS_DEFAULT,
            auth_failures_per_connection_max: AUTH_FAILURES_PER_CONNECTION_MAX_DEFAULT,
        }
    }
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 2525))],
            message_size_max: MESSAGE_SIZE_MAX_DEFAULT,
            data_line_max: DATA_LINE_MAX_DEFAULT,
            recipients_max: RECIPIENTS_MAX_DEFAULT,
            command_timeout_secs: 300,
            data_timeout_secs: 180,
            messages_per_connection_max: MESSAGES_PER_CONNECTION_MAX_DEFAULT,
            connections_max: CONNECTIONS_MAX_DEFAULT,
            connections_per_ip_max: CONNECTIONS_PER_IP_MAX_DEFAULT,
            greet_pause_ms: 0,
            received_max: RECEIVED_MAX_DEFAULT,
            header_size_max: HEADER_SIZE_MAX_DEFAULT,
            starttls: true,
            relay_networks: Vec::new(),
        }
    }
}

impl Default for ImapConfig {
    fn default() -> Self {
        ImapConfig {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 1143))],
            idle_timeout_secs: 30 * 60,
            allow_plaintext_auth: true,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            domains: vec!["localhost".to_string()],
            recipient_delimiter: "+".to_string(),
        }
    }
}

/// Error from loading or validating a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML or has an unknown or mistyped key; the
    /// message from the TOML parser names the line and the key.
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A value is out of its allowed range.
    #[error("invalid config value {key} = {value}: {reason}")]
    Invalid {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
}

impl Config {
    /// Reads and validates the TOML file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    /// Parses and validates configuration text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            message: error.to_string().trim_end().to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the ranges that serde cannot express.
    pub fn validate(&self) -> Result<(), ConfigError> {
        fn invalid(key: &'static str, value: impl ToString, reason: &'static str) -> ConfigError {
            ConfigError::Invalid {
                key,
                value: value.to_string(),
                reason,
            }
        }

        if self.workers > 1024 {
            return Err(invalid(
                "workers",
                self.workers,
                "must be 0 (one per core) to 1024",
            ));
        }
        if self.smtp.listen.is_empty() {
            return Err(invalid("smtp.listen", "[]", "needs at least one address"));
        }
        if self.imap.listen.is_empty() {
            return Err(invalid("imap.listen", "[]", "needs at least one address"));
        }
        if let Some(addr) = self.duplicate_listen_address() {
            return Err(invalid(
                "listen",
                addr,
                "address appears in more than one listen list, or twice in one",
            ));
        }
        if self.smtp.message_size_max < 1024 {
            return Err(invalid(
                "smtp.message_size_max",
                self.smtp.message_size_max,
                "must be at least 1024 octets",
            ));
        }
        if !(78..=16 * 1024 * 1024).contains(&self.smtp.data_line_max) {
            return Err(invalid(
                "smtp.data_line_max",
                self.smtp.data_line_max,
                "must be 78 to 16777216 octets",
            ));
        }
        if self.smtp.recipients_max == 0 {
            return Err(invalid("smtp.recipients_max", 0, "must be at least 1"));
        }
        if self.smtp.command_timeout_secs == 0 || self.smtp.data_timeout_secs == 0 {
            return Err(invalid(
                "smtp.*_timeout_secs",
                0,
                "timeouts must be at least 1 second",
            ));
        }
        self.validate_smtp_connection_limits()?;
        self.validate_submission()?;
        self.validate_spool()?;
        self.validate_spam()?;
        if !(1..=RECEIVED_MAX_LIMIT).contains(&self.smtp.received_max) {
            return Err(invalid(
                "smtp.received_max",
                self.smtp.received_max,
                "must be 1 to 9998",
            ));
        }
        if self.smtp.header_size_max < 1024 {
            return Err(invalid(
                "smtp.header_size_max",
                self.smtp.header_size_max,
                "must be at least 1024 octets",
            ));
        }
        if self.imap.idle_timeout_secs == 0 {
            return Err(invalid(
                "imap.idle_timeout_secs",
                0,
                "must be at least 1 second",
            ));
        }
        if self.delivery.domains.is_empty() {
            return Err(invalid(
                "delivery.domains",
                "[]",
                "needs at least one local domain",
            ));
        }
        if self.delivery.recipient_delimiter.chars().count() > 1 {
            return Err(invalid(
                "delivery.recipient_delimiter",
                &self.delivery.recipient_delimiter,
                "must be one character or empty",
            ));
        }
        Ok(())
    }

    /// Checks the `[spool]` sizes and retry times.
    fn validate_spool(&self) -> Result<(), ConfigError> {
        let spool = &self.spool;
        if !(SPOOL_SEGMENT_SIZE_MIN..=SPOOL_SEGMENT_SIZE_MAX).contains(&spool.segment_size) {
            return Err(ConfigError::Invalid {
                key: "spool.segment_size",
                value: spool.segment_size.to_string(),
                reason: "must be 65536 to 1073741824 bytes",
            });
        }
        if spool.retry_min_secs == 0 || spool.retry_max_secs < spool.retry_min_secs {
            return Err(ConfigError::Invalid {
                key: "spool.retry_max_secs",
                value: format!(
                    "{} (retry_min_secs {})",
                    spool.retry_max_secs, spool.retry_min_secs
                ),
                reason:
                    "retry_min_secs must be at least 1 and retry_max_secs at least retry_min_secs",
            });
        }
        if spool.bounce_after_secs < spool.retry_min_secs {
            return Err(ConfigError::Invalid {
                key: "spool.bounce_after_secs",
                value: spool.bounce_after_secs.to_string(),
                reason: "must be at least retry_min_secs",
            });
        }
        Ok(())
    }

    /// Checks the `[spam]` thresholds and size, also when scoring is off,
    /// so that a bad value is reported before scoring is turned on.
    fn validate_spam(&self) -> Result<(), ConfigError> {
        let spam = &self.spam;
        let scores = [
            ("spam.add_header_score", spam.add_header_score),
            ("spam.junk_score", Some(spam.junk_score)),
            ("spam.reject_score", Some(spam.reject_score)),
        ];
        for (key, score) in scores {
            if let Some(score) = score {
                if !(-SPAM_SCORE_LIMIT..=SPAM_SCORE_LIMIT).contains(&score) {
                    return Err(ConfigError::Invalid {
                        key,
                        value: score.to_string(),
                        reason: "must be a number from -10000 to 10000",
                    });
                }
            }
        }
        if spam.reject_score < spam.junk_score {
            return Err(ConfigError::Invalid {
                key: "spam.reject_score",
                value: format!("{} (junk_score {})", spam.reject_score, spam.junk_score),
                reason: "must be at least junk_score",
            });
        }
        if let Some(add_header_score) = spam.add_header_score {
            if add_header_score > spam.junk_score {
                return Err(ConfigError::Invalid {
                    key: "spam.add_header_score",
                    value: format!("{add_header_score} (junk_score {})", spam.junk_score),
                    reason: "must be at most junk_score, so that mail filed into Junk is flagged",
                });
            }
        }
        if !(1024..=SPAM_MESSAGE_SIZE_MAX_LIMIT).contains(&spam.message_size_max) {
            return Err(ConfigError::Invalid {
                key: "spam.message_size_max",
                value: spam.message_size_max.to_string(),
                reason: "must be 1024 to 67108864 octets",
            });
        }
        if !(1..=SPAM_BAYES_RELOAD_SECS_MAX).contains(&spam.bayes_reload_secs) {
            return Err(ConfigError::Invalid {
                key: "spam.bayes_reload_secs",
                value: spam.bayes_reload_secs.to_string(),
                reason: "must be 1 to 86400 seconds",
            });
        }
        if let Some(rules) = &spam.rules {
            if rules.as_os_str().is_empty() {
                return Err(ConfigError::Invalid {
                    key: "spam.rules",
                    value: "\"\"".to_string(),
                    reason: "must be a directory; leave the key out for the default rules",
                });
            }
        }
        Ok(())
    }

    /// Checks the SMTP per-connection and connection-count limits.
    fn validate_smtp_connection_limits(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        let checks = [
            (
                "smtp.messages_per_connection_max",
                u64::from(smtp.messages_per_connection_max),
                1..=1_000_000,
                "must be 1 to 1000000",
            ),
            (
                "smtp.connections_max",
                smtp.connections_max as u64,
                1..=1_000_000,
                "must be 1 to 1000000",
            ),
            (
                "smtp.connections_per_ip_max",
                u64::from(smtp.connections_per_ip_max),
                1..=1_000_000,
                "must be 1 to 1000000",
            ),
            (
                "smtp.greet_pause_ms",
                smtp.greet_pause_ms,
                0..=GREET_PAUSE_MS_MAX,
                "must be 0 to 60000 milliseconds",
            ),
        ];
        for (key, value, range, reason) in checks {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid {
                    key,
                    value: value.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Checks the `[submission]` AUTH failure settings.
    fn validate_submission(&self) -> Result<(), ConfigError> {
        let submission = &self.submission;
        let checks = [
            (
                "submission.auth_failure_delay_base_ms",
                submission.auth_failure_delay_base_ms,
                0..=AUTH_FAILURE_DELAY_MS_LIMIT,
                "must be 0 to 60000 milliseconds",
            ),
            (
                "submission.auth_failure_delay_max_ms",
                submission.auth_failure_delay_max_ms,
                0..=AUTH_FAILURE_DELAY_MS_LIMIT,
                "must be 0 to 60000 milliseconds",
            ),
            (
                "submission.auth_failure_window_secs",
                submission.auth_failure_window_secs,
                1..=86_400,
                "must be 1 to 86400 seconds",
            ),
            (
                "submission.auth_failures_per_connection_max",
                u64::from(submission.auth_failures_per_connection_max),
                1..=100,
                "must be 1 to 100",
            ),
        ];
        for (key, value, range, reason) in checks {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid {
                    key,
                    value: value.to_string(),
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Returns the first address that appears twice across the SMTP,
    /// submission and IMAP listen lists.
    fn duplicate_listen_address(&self) -> Option<SocketAddr> {
        let mut seen = std::collections::HashSet::new();
        self.listen_addresses()
            .find(|addr| !seen.insert(**addr))
            .copied()
    }

    /// Returns every listen address of every listener.
    pub fn listen_addresses(&self) -> impl Iterator<Item = &SocketAddr> {
        self.smtp
            .listen
            .iter()
            .chain(&self.submission.listen)
            .chain(&self.submission.listen_tls)
            .chain(&self.imap.listen)
    }

    /// Returns the worker count, resolving 0 to the number of cores.
    pub fn worker_count(&self) -> usize {
        if self.workers == 0 {
            crate::runtime::available_cores()
        } else {
            self.workers
        }
    }

    /// Returns the host name for greetings, resolving an empty setting to the
    /// system host name.
    pub fn resolved_hostname(&self) -> String {
        if !self.hostname.is_empty() {
            return self.hostname.clone();
        }
        system_hostname().unwrap_or_else(|| "localhost".to_string())
    }

    /// Returns whether `domain` is one of the local domains (case-insensitive).
    pub fn is_local_domain(&self, domain: &str) -> bool {
        self.delivery
            .domains
            .iter()
            .any(|local| local.eq_ignore_ascii_case(domain))
    }

    /// Returns whether `ip` is in `smtp.relay_networks`. An IPv4 client on
    /// an IPv6 socket (`::ffff:a.b.c.d`) is matched as IPv4.
    pub fn is_relay_client(&self, ip: std::net::IpAddr) -> bool {
        let ip = match ip {
            std::net::IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map_or(std::net::IpAddr::V6(v6), std::net::IpAddr::V4),
            v4 => v4,
        };
        self.smtp
            .relay_networks
            .iter()
            .any(|network| network.contains(&ip))
    }

    /// Returns the SMTP command timeout.
    pub fn smtp_command_timeout(&self) -> Duration {
        Duration::from_secs(self.smtp.command_timeout_secs)
    }

    /// Returns the SMTP DATA block timeout.
    pub fn smtp_data_timeout(&self) -> Duration {
        Duration::from_secs(self.smtp.data_timeout_secs)
    }
}

/// Reads the kernel's host name (uname nodename).
fn system_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// A commented configuration holding every key at its default value, as
/// printed by `ringmail config example`.
pub const EXAMPLE: &str = r#"# Ringmail configuration. Every key is optional; the values shown are the
# defaults. Unknown keys are an error.

# Worker threads, each pinned to one core with its own io_uring.
# 0 means one worker per available core.
workers = 0

# Host name in the SMTP greeting and in Received headers.
# Empty means the system host name.
hostname = ""

# Seconds that SIGTERM or SIGINT waits for open sessions to finish.
shutdown_grace_secs = 30

[smtp]
# Addresses the SMTP receiver listens on.
listen = ["127.0.0.1:2525"]
# Maximum message size in octets (advertised with the SIZE extension).
message_size_max = 26214400
# Maximum length of one DATA line in octets, CRLF excluded.
data_line_max = 65536
# Maximum recipients of one message.
recipients_max = 100
# Seconds to wait for the next command, and for each block of DATA.
command_timeout_secs = 300
data_timeout_secs = 180
# Maximum MAIL commands in one connection; the next one gets a 421 and the
# connection closes, so the client must reconnect.
messages_per_connection_max = 1000
# Maximum open SMTP connections, on all workers together and from one
# client IP. A connection over either limit gets a 421 and is closed.
connections_max = 10000
connections_per_ip_max = 100
# Milliseconds to wait before sending the greeting. A client that sends
# anything before the greeting gets a 554 and is closed (checked also at 0).
greet_pause_ms = 0
# Maximum Received header fields in a message as the client sent it (the
# one Ringmail adds is not counted). More is rejected with 554 5.4.6 as a
# probable mail loop.
received_max = 100
# Maximum size in octets of a message's header as the client sent it.
# A larger header is rejected with 552 5.3.4.
header_size_max = 1048576
# Offer STARTTLS on the addresses above. The submission listeners always
# offer it.
starttls = true
# Client networks that may relay without AUTH (CIDR, e.g. "10.0.0.0/8"):
# their recipients in other domains are spooled for relay. Empty means only
# authenticated submission clients relay; never list networks you do not
# control, or the server becomes an open relay.
relay_networks = []

[tls]
# Certificate chain (leaf first) and private key, PEM files. When both are
# empty, a self-signed certificate for the host name and localhost is
# generated on first start as <data>/tls/cert.pem and <data>/tls/key.pem,
# and reused on later starts.
cert = ""
key = ""

[imap]
# Addresses the IMAP server listens on.
listen = ["127.0.0.1:1143"]
# Seconds an idle session may stay open.
idle_timeout_secs = 1800
# Allow LOGIN and AUTHENTICATE PLAIN without TLS (the IMAP server has no TLS yet,
# so keep the listeners on loopback).
allow_plaintext_auth = true

[submission]
# Message submission (RFC 6409): clients upgrade with STARTTLS (port 587) and
# must authenticate with AUTH before MAIL. These connections share the [smtp]
# limits. Empty disables the listener.
listen = ["127.0.0.1:5587"]
# Submission over implicit TLS (RFC 8314, port 465): the TLS handshake comes
# before the greeting. Empty disables the listener.
listen_tls = ["127.0.0.1:5465"]
# Offer AUTH PLAIN and LOGIN without TLS to clients on a loopback address.
# Other clients get AUTH only after TLS.
allow_plaintext_auth_loopback = true
# Reject MAIL FROM addresses that are not the authenticated user's own
# (user@ or user+tag@ any local domain) with 553 5.7.1.
sender_must_match = true
# Failed AUTH from one client IP: the first gets its 535 at once, the second
# after auth_failure_delay_base_ms, and each further one waits twice as long,
# up to auth_failure_delay_max_ms. The count is forgotten
# auth_failure_window_secs after the last failure.
auth_failure_delay_base_ms = 500
auth_failure_delay_max_ms = 8000
auth_failure_window_secs = 900
# Failed AUTH commands allowed in one connection; the one that reaches this
# count gets a 421 and the connection closes.
auth_failures_per_connection_max = 3

[delivery]
# Domains whose recipients are local users.
domains = ["localhost"]
# Subaddress separator: alice+lists@localhost is delivered to alice.
# Empty disables subaddressing.
recipient_delimiter = "+"

[spool]
# Bytes of each spool segment file (64 KiB to 1 GiB), zero-filled when it
# is created. Each worker keeps its active segment and, once that is half
# full, the next one on disk. A message larger than this gets a segment of
# its own.
segment_size = 67108864
# Seconds before the first retry of a failed delivery; each retry waits twice
# as long as the one before, up to retry_max_secs.
retry_min_secs = 60
retry_max_secs = 3600
# Seconds after which an undeliverable message is due to bounce (5 days).
bounce_after_secs = 432000
# Write spool appends with O_DIRECT and O_DSYNC, so each batch is durable
# when its write completes, without an fdatasync. Where the file system
# refuses O_DIRECT (tmpfs), or with false, appends use buffered writes and
# fdatasync. Both are durable.
direct_io = true

[spam]
# Score every message at the end of DATA or BDAT, before the reply. Off by
# default: the server runs no rules unless the operator turns them on.
enabled = false
# Directory of SpamAssassin .pre and .cf rule files. Without this key the
# rules come from /usr/share/spamassassin and /etc/spamassassin when
# SpamAssassin is installed, else from Ringmail's embedded rule set. A rule
# file that fails to load stops the server at start. Bayes uses
# <data>/spam/bayes.db (see `ringmail spam learn`) once it has learned
# enough mail; the server reads it at start and again when it changes.
# rules = "/etc/ringmail/spam-rules"
# Every scored message gets X-Spam-Score, X-Spam-Level and X-Spam-Status.
# From add_header_score on, it also gets X-Spam-Flag: YES. Without this key
# the rule set's required_score applies (5.0 in SpamAssassin's rules).
# add_header_score = 5.0
# From this score on, local recipients get the message in their Junk folder
# (Maildir++ .Junk, created when missing).
junk_score = 5.0
# Above this score the message is rejected with 550 5.7.1 and stored
# nowhere. Must be at least junk_score.
reject_score = 15.0
# Messages larger than this many octets are delivered unscored, without
# X-Spam-* fields, as spamc does with its 500 KiB default.
message_size_max = 512000
# Seconds between checks of <data>/spam/bayes.db for a newer version, such
# as one that `ringmail spam learn` wrote while the server runs (1 to 86400).
bayes_reload_secs = 10
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_parses_to_defaults() {
        let parsed = Config::parse(EXAMPLE).expect("example must parse");
        let defaults = Config::default();
        assert_eq!(parsed.smtp.listen, defaults.smtp.listen);
        assert_eq!(parsed.imap.listen, defaults.imap.listen);
        assert_eq!(parsed.smtp.message_size_max, defaults.smtp.message_size_max);
        assert_eq!(parsed.smtp.data_line_max, defaults.smtp.data_line_max);
        assert_eq!(parsed.delivery.domains, defaults.delivery.domains);
        assert_eq!(
            parsed.smtp.messages_per_connection_max,
            defaults.smtp.messages_per_connection_max
        );
        assert_eq!(parsed.smtp.connections_max, defaults.smtp.connections_max);
        assert_eq!(
            parsed.smtp.connections_per_ip_max,
            defaults.smtp.connections_per_ip_max
        );
        assert_eq!(parsed.smtp.greet_pause_ms, defaults.smtp.greet_pause_ms);
        assert_eq!(parsed.spool.segment_size, defaults.spool.segment_size);
        assert_eq!(parsed.spool.retry_min_secs, defaults.spool.retry_min_secs);
        assert_eq!(parsed.spool.retry_max_secs, defaults.spool.retry_max_secs);
        assert_eq!(
            parsed.spool.bounce_after_secs,
            defaults.spool.bounce_after_secs
        );
        assert_eq!(parsed.spool.direct_io, defaults.spool.direct_io);
    }

    #[test]
    fn spool_values_out_of_range_are_rejected() {
        let cases = [
            ("segment_size = 1024", "spool.segment_size"),
            ("segment_size = 2147483648", "spool.segment_size"),
            ("retry_min_secs = 0", "spool.retry_max_secs"),
            ("retry_min_secs = 7200", "spool.retry_max_secs"),
            (
                "retry_min_secs = 10\nretry_max_secs = 20\nbounce_after_secs = 5",
                "spool.bounce_after_secs",
            ),
        ];
        for (line, key) in cases {
            let text = format!("[spool]\n{line}\n");
            let error = Config::parse(&text).expect_err(line).to_string();
            assert!(error.contains(key), "{line}: {error}");
        }
    }

    #[test]
    fn starttls_submission_and_tls_defaults_parse_back() {
        let defaults = Config::default();
        let parsed = Config::parse(EXAMPLE).expect("the example parses");
        assert_eq!(parsed.smtp.starttls, defaults.smtp.starttls);
        assert_eq!(parsed.submission.listen, defaults.submission.listen);
        assert_eq!(parsed.submission.listen_tls, defaults.submission.listen_tls);
        assert_eq!(parsed.tls.cert, defaults.tls.cert);
        assert_eq!(parsed.tls.key, defaults.tls.key);
    }

    #[test]
    fn relay_networks_match_clients() {
        let config =
            Config::parse("[smtp]\nrelay_networks = [\"127.0.0.0/8\", \"2001:db8::/32\"]\n")
                .expect("relay networks parse");
        let cases = [
            ("127.0.0.1", true),
            ("127.255.0.9", true),
            ("::ffff:127.0.0.1", true),
            ("2001:db8::5", true),
            ("10.0.0.1", false),
            ("::1", false),
        ];
        for (ip, expected) in cases {
            assert_eq!(
                config.is_relay_client(ip.parse().unwrap()),
                expected,
                "{ip}"
            );
        }
        assert!(!Config::default().is_relay_client("127.0.0.1".parse().unwrap()));
        let error = Config::parse("[smtp]\nrelay_networks = [\"127.0.0.0/33\"]\n")
            .expect_err("a prefix longer than 32 bits");
        assert!(error.to_string().contains("relay_networks"), "{error}");
    }

    #[test]
    fn duplicate_listen_address_is_rejected() {
        let cases = [
            "[smtp]\nlisten = [\"127.0.0.1:5587\"]\n",
            "[submission]\nlisten_tls = [\"127.0.0.1:1143\"]\n",
            "[submission]\nlisten = [\"127.0.0.1:6000\", \"127.0.0.1:6000\"]\n",
        ];
        for text in cases {
            let error = Config::parse(text).expect_err(text).to_string();
            assert!(error.contains("listen"), "{text:?}: {error}");
        }
        let disabled = "[submission]\nlisten = []\nlisten_tls = []\n";
        assert!(Config::parse(disabled).is_ok(), "empty submission lists");
    }

    #[test]
    fn connection_limit_out_of_range_is_rejected() {
        let cases = [
            (
                "messages_per_connection_max = 0",
                "smtp.messages_per_connection_max",
            ),
            ("connections_max = 0", "smtp.connections_max"),
            ("connections_max = 1000001", "smtp.connections_max"),
            ("connections_per_ip_max = 0", "smtp.connections_per_ip_max"),
            ("greet_pause_ms = 60001", "smtp.greet_pause_ms"),
        ];
        for (line, key) in cases {
            let error = Config::parse(&format!("[smtp]\n{line}\n"))
                .expect_err(line)
                .to_string();
            assert!(error.contains(key), "{line}: {error}");
        }
    }

    #[test]
    fn submission_example_and_range() {
        let parsed = Config::parse(EXAMPLE).expect("example must parse");
        let defaults = SubmissionConfig::default();
        assert_eq!(parsed.submission.listen, defaults.listen);
        assert_eq!(
            parsed.submission.auth_failure_delay_max_ms,
            AUTH_FAILURE_DELAY_MAX_MS_DEFAULT
        );
        assert_eq!(
            parsed.submission.auth_failure_window_secs,
            defaults.auth_failure_window_secs
        );

        // (config line, key named in the error)
        let cases = [
            (
                "auth_failure_delay_max_ms = 60001",
                "submission.auth_failure_delay_max_ms",
            ),
            (
                "auth_failure_delay_base_ms = 60001",
                "submission.auth_failure_delay_base_ms",
            ),
            (
                "auth_failure_window_secs = 0",
                "submission.auth_failure_window_secs",
            ),
            (
                "auth_failures_per_connection_max = 0",
                "submission.auth_failures_per_connection_max",
            ),
        ];
        for (line, key) in cases {
            let error = Config::parse(&format!("[submission]\n{line}\n"))
                .expect_err(line)
                .to_string();
            assert!(error.contains(key), "{line}: {error}");
        }
    }

    #[test]
    fn spam_example_and_range() {
        let parsed = Config::parse(EXAMPLE).expect("example must parse");
        let defaults = SpamConfig::default();
        assert!(!parsed.spam.enabled);
        assert_eq!(parsed.spam.rules, defaults.rules);
        assert_eq!(parsed.spam.add_header_score, None);
        assert_eq!(parsed.spam.junk_score, SPAM_JUNK_SCORE_DEFAULT);
        assert_eq!(parsed.spam.reject_score, SPAM_REJECT_SCORE_DEFAULT);
        assert_eq!(parsed.spam.message_size_max, SPAM_MESSAGE_SIZE_MAX_DEFAULT);
        let set = Config::parse("[spam]\nenabled = true\nrules = \"/r\"\nadd_header_score = 4.5\n")
            .expect("a full spam section parses");
        assert_eq!(set.spam.rules, Some(PathBuf::from("/r")));
        assert_eq!(set.spam.add_header_score, Some(4.5));

        // (lines of [spam], key named in the error)
        let cases = [
            ("reject_score = 4.0", "spam.reject_score"),
            ("junk_score = 20.0", "spam.reject_score"),
            ("add_header_score = 6.0", "spam.add_header_score"),
            ("junk_score = nan", "spam.junk_score"),
            ("reject_score = inf", "spam.reject_score"),
            ("add_header_score = -inf", "spam.add_header_score"),
            ("message_size_max = 1023", "spam.message_size_max"),
            ("message_size_max = 67108865", "spam.message_size_max"),
            ("bayes_reload_secs = 0", "spam.bayes_reload_secs"),
            ("bayes_reload_secs = 86401", "spam.bayes_reload_secs"),
            ("rules = \"\"", "spam.rules"),
            ("reject_scor = 4.0", "reject_scor"),
            ("junk_score = \"high\"", "junk_score"),
        ];
        for (line, key) in cases {
            let error = Config::parse(&format!("[spam]\n{line}\n"))
                .expect_err(line)
                .to_string();
            assert!(error.contains(key), "{line}: {error}");
        }
    }

    #[test]
    fn spam_scores_accept_integers() {
        let parsed = Config::parse("[spam]\njunk_score = 6\nreject_score = 6\n")
            .expect("integer scores parse");
        assert_eq!(parsed.spam.junk_score, 6.0);
        assert_eq!(parsed.spam.reject_score, 6.0);
    }

    #[test]
    fn empty_text_is_defaults() {
        let parsed = Config::parse("").expect("empty config must parse");
        assert_eq!(parsed.smtp.recipients_max, RECIPIENTS_MAX_DEFAULT);
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "workers = 1\n\n[smtp]\nmessage_size_maximum = 10\n";
        let error = Config::parse(text).unwrap_err().to_string();
        assert!(error.contains("message_size_maximum"), "{error}");
        assert!(error.contains("line 4"), "{error}");
    }

    #[test]
    fn unknown_table_names_key() {
        let error = Config::parse("[smpt]\nlisten = []\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("smpt"), "{error}");
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn mistyped_value_is_rejected() {
        let error = Config::parse("[smtp]\nmessage_size_max = \"big\"\n").unwrap_err();
        assert!(error.to_string().contains("line 2"), "{error}");
    }

    #[test]
    fn out_of_range_value_is_rejected() {
        let error = Config::parse("[smtp]\ndata_line_max = 10\n").unwrap_err();
        assert!(error.to_string().contains("smtp.data_line_max"), "{error}");
    }

    #[test]
    fn local_domain_match_ignores_case() {
        let config = Config::default();
        assert!(config.is_local_domain("LocalHost"));
        assert!(!config.is_local_domain("example.org"));
    }

    #[test]
    fn header_limits_example_and_range() {
        let parsed = Config::parse(EXAMPLE).expect("example must parse");
        assert_eq!(parsed.smtp.received_max, RECEIVED_MAX_DEFAULT);
        assert_eq!(parsed.smtp.header_size_max, HEADER_SIZE_MAX_DEFAULT);

        // (config text, key named in the error)
        let cases = [
            ("[smtp]\nreceived_max = 0\n", "smtp.received_max"),
            ("[smtp]\nreceived_max = 9999\n", "smtp.received_max"),
            ("[smtp]\nheader_size_max = 1023\n", "smtp.header_size_max"),
        ];
        for (text, key) in cases {
            let error = Config::parse(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text:?}: {error}");
        }
        assert!(Config::parse("[smtp]\nreceived_max = 9998\n").is_ok());
    }
}
