//! Command-line arguments of `ringmail-loadgen sink` and `ringmail-loadgen
//! verify`, and their checks.
//!
//! [`SinkArgs::validate`] turns the sink's arguments into a [`SinkPlan`], and
//! [`VerifyArgs::validate`] the verifier's into a [`VerifyPlan`]. Both return
//! a [`UsageError`] on invalid input, which the binary prints on one line
//! before exiting with status 2. [`FailRate`] is the parsed `--fail-rate`.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::{UsageError, MESSAGES_MAX, WORKERS_MAX};

/// Maximum `--delay-ms`: one minute, well under the 10 minutes RFC 5321
/// section 4.5.3.2.6 lets a client wait after the final dot.
pub const DELAY_MS_MAX: u64 = 60_000;

/// Maximum length of `--hostname`: RFC 5321 section 4.5.3.1.2 caps a domain
/// at 255 octets.
pub const HOSTNAME_LEN_MAX: usize = 255;

/// Maximum number of `--maildir` directories.
pub const MAILDIRS_MAX: usize = 10_000;

/// Hostname used when neither `--hostname` nor the kernel's name is usable.
const HOSTNAME_DEFAULT: &str = "localhost";

/// Arguments of `ringmail-loadgen sink`, as parsed.
#[derive(Debug, Args)]
pub struct SinkArgs {
    /// Address to listen on, as HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub listen: String,

    /// Worker threads, each with its own io_uring and listener (default: one per core).
    #[arg(long, value_name = "W")]
    pub workers: Option<usize>,

    /// Probabilities of replying 451 or 554 instead of 250 at the end of a
    /// message, as 4xx:P,5xx:Q with each from 0 to 1 and a sum of at most 1.
    #[arg(long, value_name = "4xx:P,5xx:Q")]
    pub fail_rate: Option<String>,

    /// Delay of each reply to the end of a message, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub delay_ms: u64,

    /// Append the X-Loadgen-Id of every accepted message to this file, one
    /// per line (`-` for a message without one).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,

    /// Stop after this many accepted messages.
    #[arg(long, value_name = "N")]
    pub max_messages: Option<u64>,

    /// Name in the greeting and the EHLO reply (default: the kernel's hostname).
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
}

/// Probabilities of injected failures at the end of a message.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FailRate {
    /// Probability of `451 4.3.0`.
    pub temporary: f64,
    /// Probability of `554 5.3.0`.
    pub permanent: f64,
}

impl FailRate {
    /// Parses `4xx:P,5xx:Q`; either entry may be left out, neither repeated.
    pub fn parse(text: &str) -> Result<FailRate, UsageError> {
        let invalid =
            |reason: String| UsageError(format!("invalid --fail-rate {text:?}: {reason}"));
        let mut rate = FailRate::default();
        let mut seen = (false, false);

        for entry in text.split(',') {
            let Some((class, value)) = entry.split_once(':') else {
                return Err(invalid(format!(
                    "entry {entry:?} is not CLASS:PROBABILITY, e.g. 4xx:0.1"
                )));
            };
            let probability: f64 = value
                .trim()
                .parse()
                .map_err(|_| invalid(format!("probability {value:?} is not a number")))?;
            if !(0.0..=1.0).contains(&probability) {
                return Err(invalid(format!(
                    "probability {probability} must be from 0 to 1"
                )));
            }

            let (slot, seen_class) = match class.trim() {
                "4xx" => (&mut rate.temporary, &mut seen.0),
                "5xx" => (&mut rate.permanent, &mut seen.1),
                other => return Err(invalid(format!("class {other:?} must be 4xx or 5xx"))),
            };
            if *seen_class {
                return Err(invalid(format!("class {} given twice", class.trim())));
            }
            *seen_class = true;
            *slot = probability;
        }

        let sum = rate.temporary + rate.permanent;
        if sum > 1.0 {
            return Err(invalid(format!("probabilities sum to {sum}, more than 1")));
        }
        Ok(rate)
    }

    /// Returns whether no failure is ever injected.
    pub fn is_zero(&self) -> bool {
        self.temporary == 0.0 && self.permanent == 0.0
    }
}

/// Checked settings of a sink.
#[derive(Debug, Clone)]
pub struct SinkPlan {
    pub listen: SocketAddr,
    pub workers: usize,
    pub fail_rate: FailRate,
    pub delay: Duration,
    pub log: Option<PathBuf>,
    pub max_messages: Option<u64>,
    pub hostname: String,
}

impl SinkArgs {
    /// Checks every argument and resolves the listen address.
    pub fn validate(self) -> Result<SinkPlan, UsageError> {
        let listen = resolve("--listen", &self.listen)?;
        let workers = match self.workers {
            Some(workers) if (1..=WORKERS_MAX).contains(&workers) => workers,
            Some(workers) => {
                return Err(UsageError(format!(
                    "invalid --workers {workers}: must be from 1 to {WORKERS_MAX}"
                )))
            }
            None => ringmail_engine::runtime::available_cores().min(WORKERS_MAX),
        };
        let fail_rate = match &self.fail_rate {
            Some(text) => FailRate::parse(text)?,
            None => FailRate::default(),
        };
        if self.delay_ms > DELAY_MS_MAX {
            return Err(UsageError(format!(
                "invalid --delay-ms {}: must be from 0 to {DELAY_MS_MAX}",
                self.delay_ms
            )));
        }
        if let Some(max) = self.max_messages {
            if !(1..=MESSAGES_MAX).contains(&max) {
                return Err(UsageError(format!(
                    "invalid --max-messages {max}: must be from 1 to {MESSAGES_MAX}"
                )));
            }
        }
        let hostname = match self.hostname {
            Some(name) => check_hostname(name)?,
            None => kernel_hostname(),
        };

        Ok(SinkPlan {
            listen,
            workers,
            fail_rate,
            delay: Duration::from_millis(self.delay_ms),
            log: self.log,
            max_messages: self.max_messages,
            hostname,
        })
    }
}

fn resolve(option: &str, addr: &str) -> Result<SocketAddr, UsageError> {
    let invalid = |reason: String| UsageError(format!("invalid {option} {addr:?}: {reason}"));
    addr.to_socket_addrs()
        .map_err(|error| invalid(format!("{error}; expected HOST:PORT")))?
        .next()
        .ok_or_else(|| invalid("the name has no address".to_string()))
}

fn check_hostname(name: String) -> Result<String, UsageError> {
    let usable = !name.is_empty()
        && name.len() <= HOSTNAME_LEN_MAX
        && name.bytes().all(|byte| byte.is_ascii_graphic());
    if !usable {
        return Err(UsageError(format!(
            "invalid --hostname {name:?}: must be 1 to {HOSTNAME_LEN_MAX} printable ASCII characters"
        )));
    }
    Ok(name)
}

/// Returns the kernel's hostname, or [`HOSTNAME_DEFAULT`] when it is unreadable.
fn kernel_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|name| check_hostname(name.trim().to_string()).ok())
        .unwrap_or_else(|| HOSTNAME_DEFAULT.to_string())
}

/// Arguments of `ringmail-loadgen verify`, as parsed.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Ids of acknowledged messages, one per line, as `smtp --ack-log` writes them.
    #[arg(long, value_name = "FILE")]
    pub ack_log: PathBuf,

    /// Maildir whose messages count as delivered, with its Maildir++ folders.
    /// Repeat for several mailboxes.
    #[arg(long, value_name = "DIR", conflicts_with = "sink_log")]
    pub maildir: Vec<PathBuf>,

    /// Log of a `ringmail-loadgen sink --log` run; its ids count as delivered.
    #[arg(long, value_name = "FILE")]
    pub sink_log: Option<PathBuf>,
}

/// Source of the delivered ids that the verifier reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Maildirs(Vec<PathBuf>),
    SinkLog(PathBuf),
}

/// Checked settings of a verification.
#[derive(Debug, Clone)]
pub struct VerifyPlan {
    pub ack_log: PathBuf,
    pub delivered: Delivered,
}

impl VerifyArgs {
    /// Checks that exactly one source of delivered ids is given.
    pub fn validate(self) -> Result<VerifyPlan, UsageError> {
        let delivered = match (self.maildir.is_empty(), self.sink_log) {
            (true, None) => {
                return Err(UsageError(
                    "missing --maildir or --sink-log: give one source of delivered ids".to_string(),
                ))
            }
            (false, Some(_)) => {
                return Err(UsageError(
                    "--maildir and --sink-log cannot be used together".to_string(),
                ))
            }
            (true, Some(log)) => Delivered::SinkLog(log),
            (false, None) => {
                if self.maildir.len() > MAILDIRS_MAX {
                    return Err(UsageError(format!(
                        "invalid number of --maildir {}: must be at most {MAILDIRS_MAX}",
                        self.maildir.len()
                    )));
                }
                Delivered::Maildirs(self.maildir)
            }
        };
        Ok(VerifyPlan {
            ack_log: self.ack_log,
            delivered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_rate_valid_table() {
        let cases: &[(&str, f64, f64)] = &[
            ("4xx:0.1,5xx:0.01", 0.1, 0.01),
            ("5xx:1", 0.0, 1.0),
            ("4xx:1.0", 1.0, 0.0),
            ("4xx:0", 0.0, 0.0),
            ("4xx:0.5,5xx:0.5", 0.5, 0.5),
        ];
        for (text, temporary, permanent) in cases {
            let rate = FailRate::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(rate.temporary, *temporary, "{text}");
            assert_eq!(rate.permanent, *permanent, "{text}");
        }
    }

    #[test]
    fn fail_rate_invalid_table() {
        let cases: &[(&str, &str)] = &[
            ("4xx", "not CLASS:PROBABILITY"),
            ("4xx:abc", "not a number"),
            ("4xx:1.5", "from 0 to 1"),
            ("4xx:-0.1", "from 0 to 1"),
            ("4xx:NaN", "from 0 to 1"),
            ("3xx:0.1", "must be 4xx or 5xx"),
            ("4xx:0.1,4xx:0.2", "given twice"),
            ("4xx:0.7,5xx:0.4", "more than 1"),
            ("", "not CLASS:PROBABILITY"),
        ];
        for (text, expected) in cases {
            let error = FailRate::parse(text).expect_err(text);
            assert!(error.0.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn hostname_with_space_rejected() {
        assert!(check_hostname("a b".to_string()).is_err());
        assert!(check_hostname(String::new()).is_err());
        assert!(check_hostname("mx.example".to_string()).is_ok());
    }
}
