//! Arguments of `ringmail-loadgen imap` and their checks.
//!
//! [`ImapArgs`] is what clap parses. [`ImapArgs::validate`] turns it into an
//! [`ImapPlan`] that the run trusts, or returns a [`UsageError`] that the
//! binary prints on one line before exiting with status 2. [`Mix`] contains the
//! percentage of sessions that run each optional step, per protocol, and
//! `--mix` overrides it.
//!
//! Each count has a named maximum for the same reasons as the SMTP mode's
//! (see [`crate::cli`]), and the users file has limits on its size and on
//! each field, because it is read whole into memory before the run.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::cli::{
    check_range, resolve_target, usage, UsageError, CONNECTIONS_MAX, DURATION_SECS_MAX, WORKERS_MAX,
};

/// Maximum number of sessions in one run; like the SMTP mode's message
/// maximum, it keeps counters far from overflow.
pub const SESSIONS_MAX: u64 = 1_000_000_000;

/// Default of `--sessions` when neither it nor `--duration` is given.
pub const SESSIONS_DEFAULT: u64 = 100;

/// Maximum size of the `--users` file (16 MiB): it is read whole.
pub const USERS_FILE_LEN_MAX: u64 = 16 * 1024 * 1024;

/// Maximum number of users in the `--users` file.
pub const USERS_MAX: usize = 100_000;

/// Maximum length of a user name in octets. Sent as an IMAP quoted string,
/// which servers cap at a few hundred octets for the LOGIN command.
pub const USER_LEN_MAX: usize = 256;

/// Maximum length of a password in octets. POP3 caps a command line at 255
/// octets (RFC 2449), so longer passwords only work over IMAP.
pub const PASSWORD_LEN_MAX: usize = 1024;

/// Protocol that the sessions speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Imap,
    Pop3,
}

/// One login: a user name and its password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    // Passwords stay out of debug output and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// How many sessions a run opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionAmount {
    /// This many sessions in total, over all connections.
    Sessions(u64),
    /// New sessions start until this time has passed; running ones finish.
    Duration(Duration),
}

/// Percentage of sessions (0 to 100) that run each optional step.
///
/// IMAP steps run in this order after LOGIN and SELECT INBOX:
/// - `fetch`: `FETCH 1:* FLAGS`.
/// - `body`: BODY.PEEK[] of a few random messages.
/// - `store`: +FLAGS or -FLAGS \Seen or \Flagged on random messages.
/// - `append`: one generated message.
/// - `expunge`: one message that a loadgen APPEND created.
///
/// POP3 steps after USER, PASS and STAT:
/// `uidl`, `retr` (a few random messages), `dele` (one loadgen message) and
/// `commit` (QUIT keeps the deletion; otherwise RSET undoes it first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mix {
    pub steps: Vec<(&'static str, u8)>,
}

/// Default IMAP mix. Every session reads the flags, fetches bodies, appends
/// one message and expunges one, so the mailbox size stays about constant,
/// and half the sessions change flags.
pub const IMAP_MIX_DEFAULT: &[(&str, u8)] = &[
    ("fetch", 100),
    ("body", 100),
    ("store", 50),
    ("append", 100),
    ("expunge", 100),
];

/// Default POP3 mix. Half the sessions keep their deletion, the other half
/// undo it with RSET, so a maildrop filled beforehand lasts twice as long.
pub const POP3_MIX_DEFAULT: &[(&str, u8)] =
    &[("uidl", 100), ("retr", 100), ("dele", 100), ("commit", 50)];

impl Mix {
    /// Returns the default mix of `protocol`.
    pub fn default_for(protocol: Protocol) -> Self {
        let steps = match protocol {
            Protocol::Imap => IMAP_MIX_DEFAULT,
            Protocol::Pop3 => POP3_MIX_DEFAULT,
        };
        Mix {
            steps: steps.to_vec(),
        }
    }

    /// Returns the percentage of step `name`, 0 for a name not in the mix.
    pub fn percent(&self, name: &str) -> u8 {
        self.steps
            .iter()
            .find(|(step, _)| *step == name)
            .map_or(0, |(_, percent)| *percent)
    }

    /// Applies `NAME=PERCENT[,NAME=PERCENT...]` on top of this mix. Names must
    /// be steps of the protocol and percentages from 0 to 100.
    pub fn apply_overrides(&mut self, text: &str) -> Result<(), UsageError> {
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let Some((name, percent)) = item.split_once('=') else {
                return Err(usage(format!(
                    "invalid --mix item {item:?}: expected NAME=PERCENT"
                )));
            };
            let known: Vec<&str> = self.steps.iter().map(|(step, _)| *step).collect();
            let Some(slot) = self.steps.iter_mut().find(|(step, _)| *step == name.trim()) else {
                return Err(usage(format!(
                    "invalid --mix step {name:?}: expected one of {}",
                    known.join(", ")
                )));
            };
            slot.1 = match percent.trim().parse::<u8>() {
                Ok(value) if value <= 100 => value,
                _ => {
                    return Err(usage(format!(
                        "invalid --mix percentage {percent:?} for {name}: must be from 0 to 100"
                    )))
                }
            };
        }
        Ok(())
    }
}

/// Arguments of `ringmail-loadgen imap`, as parsed.
#[derive(Debug, Args)]
pub struct ImapArgs {
    /// Server to connect to, as HOST:PORT; a name resolves once, to its first address.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,

    /// User name to log in as (with --pass).
    #[arg(long, value_name = "U", requires = "pass", conflicts_with = "users")]
    pub user: Option<String>,

    /// Password of --user.
    #[arg(long, value_name = "P", requires = "user")]
    pub pass: Option<String>,

    /// File of `user:password` lines; connection i logs in as user (i mod count).
    /// Empty lines and lines starting with # are skipped.
    #[arg(long, value_name = "FILE", required_unless_present = "user")]
    pub users: Option<PathBuf>,

    /// Number of concurrent connections, each running sessions one after the other.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub connections: usize,

    /// Total number of sessions over all connections (default 100).
    #[arg(long, value_name = "M", conflicts_with = "duration")]
    pub sessions: Option<u64>,

    /// Start sessions for this many seconds instead of a fixed number.
    #[arg(long, value_name = "SECS")]
    pub duration: Option<u64>,

    /// Worker threads, each with its own io_uring (default: one per core).
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,

    /// Percentage of sessions that run each step, as NAME=PERCENT[,...].
    /// IMAP steps: fetch, body, store, append, expunge. POP3 steps: uidl,
    /// retr, dele, commit.
    #[arg(long, value_name = "MIX")]
    pub mix: Option<String>,

    /// Speak POP3 instead of IMAP.
    #[arg(long)]
    pub pop3: bool,

    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// Checked settings of an IMAP or POP3 run.
#[derive(Debug, Clone)]
pub struct ImapPlan {
    pub target: std::net::SocketAddr,
    pub protocol: Protocol,
    pub users: Vec<Credentials>,
    pub connections: usize,
    pub amount: SessionAmount,
    pub workers: usize,
    pub mix: Mix,
    pub json: Option<PathBuf>,
}

impl ImapArgs {
    /// Checks every argument, reads the users file and resolves the target.
    pub fn validate(self) -> Result<ImapPlan, UsageError> {
        let connections = check_range("--connections", self.connections, 1, CONNECTIONS_MAX)?;
        let amount = match (self.sessions, self.duration) {
            (_, Some(secs)) => {
                let secs = check_range("--duration", secs, 1, DURATION_SECS_MAX)?;
                SessionAmount::Duration(Duration::from_secs(secs))
            }
            (sessions, None) => SessionAmount::Sessions(check_range(
                "--sessions",
                sessions.unwrap_or(SESSIONS_DEFAULT),
                1,
                SESSIONS_MAX,
            )?),
        };
        let workers = match self.workers {
            Some(workers) => check_range("--workers", workers, 1, WORKERS_MAX)?,
            None => ringmail_engine::runtime::available_cores().min(WORKERS_MAX),
        };

        let protocol = if self.pop3 {
            Protocol::Pop3
        } else {
            Protocol::Imap
        };
        let mut mix = Mix::default_for(protocol);
        if let Some(text) = &self.mix {
            mix.apply_overrides(text)?;
        }

        let users = match (self.user, self.pass, &self.users) {
            (Some(user), Some(password), None) => {
                let credentials = Credentials { user, password };
                check_credentials(&credentials, "--user/--pass")?;
                vec![credentials]
            }
            (None, None, Some(path)) => read_users(path)?,
            _ => return Err(usage("give either --user and --pass, or --users FILE")),
        };

        Ok(ImapPlan {
            target: resolve_target(&self.target)?,
            protocol,
            users,
            connections,
            amount,
            workers: workers.min(connections),
            mix,
            json: self.json,
        })
    }
}

/// Reads `user:password` lines from `path`.
pub fn read_users(path: &Path) -> Result<Vec<Credentials>, UsageError> {
    let cannot_read =
        |error: std::io::Error| usage(format!("cannot read --users {}: {error}", path.display()));
    let len = std::fs::metadata(path).map_err(cannot_read)?.len();
    if len > USERS_FILE_LEN_MAX {
        return Err(usage(format!(
            "invalid --users {}: {len} octets, more than the maximum of {USERS_FILE_LEN_MAX}",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(cannot_read)?;
    parse_users(&text)
        .map_err(|error| usage(format!("invalid --users {}: {error}", path.display())))
}

/// Parses the text of a users file. Errors name the 1-based line number.
pub fn parse_users(text: &str) -> Result<Vec<Credentials>, String> {
    let mut users = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }

        let Some((user, password)) = line.split_once(':') else {
            return Err(format!("line {number}: expected user:password"));
        };
        let credentials = Credentials {
            user: user.to_string(),
            password: password.to_string(),
        };
        check_credentials(&credentials, &format!("line {number}"))
            .map_err(|error| error.to_string())?;

        if users.len() == USERS_MAX {
            return Err(format!("more than the maximum of {USERS_MAX} users"));
        }
        users.push(credentials);
    }

    if users.is_empty() {
        return Err("no user:password line".to_string());
    }
    Ok(users)
}

/// Checks that a user name and password can be sent on one command line.
fn check_credentials(credentials: &Credentials, origin: &str) -> Result<(), UsageError> {
    let Credentials { user, password } = credentials;
    if user.is_empty() {
        return Err(usage(format!("{origin}: empty user name")));
    }
    if user.len() > USER_LEN_MAX {
        return Err(usage(format!(
            "{origin}: user name of {} octets, more than the maximum of {USER_LEN_MAX}",
            user.len()
        )));
    }
    if password.len() > PASSWORD_LEN_MAX {
        return Err(usage(format!(
            "{origin}: password of {} octets, more than the maximum of {PASSWORD_LEN_MAX}",
            password.len()
        )));
    }
    let is_control = |byte: u8| byte.is_ascii_control();
    if user.bytes().any(|byte| is_control(byte) || byte == b' ') {
        return Err(usage(format!(
            "{origin}: user name {user:?} contains a space or control character"
        )));
    }
    if password.bytes().any(is_control) {
        return Err(usage(format!(
            "{origin}: password contains a control character"
        )));
    }
    Ok(())
}

#[cfg(test)]
#[path = "imap_cli_tests.rs"]
mod tests;
