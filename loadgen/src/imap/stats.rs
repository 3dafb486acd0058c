//! Per-command counters and latency histograms of an IMAP or POP3 run, and
//! the [`MailboxReport`] made from them.
//!
//! Each connection task keeps its own [`MailboxStats`] and records every
//! command under its name (`LOGIN`, `FETCH FLAGS`, `RETR`, ...). A name gets
//! a count, the number that failed (IMAP NO or BAD, POP3 -ERR) and the
//! latency from sending the command to its final response. Workers merge their tasks'
//! figures and the run merges the workers', as the SMTP mode does with
//! [`crate::stats::Stats`], and with the same histogram bounds.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::{latency_histogram, micros, Percentiles};

/// Figures of one command name.
#[derive(Debug, Clone)]
pub struct CommandFigures {
    /// Commands sent that got a final response.
    pub count: u64,
    /// Commands whose final response was NO, BAD or -ERR.
    pub errors: u64,
    /// Command sent until its final response, in microseconds.
    pub latency_us: Histogram<u64>,
}

impl CommandFigures {
    fn new() -> Self {
        CommandFigures {
            count: 0,
            errors: 0,
            latency_us: latency_histogram(),
        }
    }
}

/// Figures of one connection task, one worker or the whole run.
#[derive(Debug, Clone, Default)]
pub struct MailboxStats {
    pub commands: BTreeMap<&'static str, CommandFigures>,
    /// Sessions started (a connection attempt was made).
    pub sessions: u64,
    /// Sessions that reached their logout without a session error.
    pub sessions_completed: u64,
    /// Connections opened (TCP handshakes completed).
    pub connections: u64,
    /// Sessions that ended in an error, by the kind of error.
    pub session_errors: BTreeMap<&'static str, u64>,
    /// The first error message seen of each kind, for diagnosis.
    pub session_error_examples: BTreeMap<&'static str, String>,
    /// Steps of the mix that a session skipped, by reason, such as an empty
    /// mailbox or no loadgen message to delete.
    pub skipped: BTreeMap<&'static str, u64>,
}

impl MailboxStats {
    /// Creates empty figures.
    pub fn new() -> Self {
        MailboxStats::default()
    }

    /// Records one command `name` that got its final response after `latency`.
    pub fn record_command(&mut self, name: &'static str, ok: bool, latency: Duration) {
        let figures = self
            .commands
            .entry(name)
            .or_insert_with(CommandFigures::new);
        figures.count += 1;
        if !ok {
            figures.errors += 1;
        }
        figures.latency_us.saturating_record(micros(latency));
    }

    /// Counts one session that ended in an error of `kind`, keeping
    /// `message` if it is the first of its kind.
    pub fn record_session_error(&mut self, kind: &'static str, message: impl FnOnce() -> String) {
        *self.session_errors.entry(kind).or_insert(0) += 1;
        self.session_error_examples
            .entry(kind)
            .or_insert_with(message);
    }

    /// Counts one skipped step, for `reason`.
    pub fn record_skip(&mut self, reason: &'static str) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// Adds `other`'s figures to these.
    pub fn merge(&mut self, other: &MailboxStats) {
        for (&name, figures) in &other.commands {
            let mine = self
                .commands
                .entry(name)
                .or_insert_with(CommandFigures::new);
            mine.count += figures.count;
            mine.errors += figures.errors;
            // Every histogram comes from `latency_histogram`, so both share
            // one range and precision and adding cannot fail.
            mine.latency_us
                .add(&figures.latency_us)
                .expect("histograms share their bounds");
        }
        self.sessions += other.sessions;
        self.sessions_completed += other.sessions_completed;
        self.connections += other.connections;
        for (&kind, &count) in &other.session_errors {
            *self.session_errors.entry(kind).or_insert(0) += count;
        }
        for (&kind, message) in &other.session_error_examples {
            self.session_error_examples
                .entry(kind)
                .or_insert_with(|| message.clone());
        }
        for (&reason, &count) in &other.skipped {
            *self.skipped.entry(reason).or_insert(0) += count;
        }
    }
}

/// Figures of one command name in the report.
#[derive(Debug, Clone, Serialize)]
pub struct CommandReport {
    pub count: u64,
    pub errors: u64,
    /// Commands per second of run time.
    pub per_sec: f64,
    pub latency_ms: Percentiles,
}

/// The figures of a finished IMAP or POP3 run, as printed and as written to JSON.
#[derive(Debug, Clone, Serialize)]
pub struct MailboxReport {
    pub run_id: String,
    /// `imap` or `pop3`.
    pub protocol: String,
    pub target: String,
    pub connections: usize,
    pub workers: usize,
    pub users: usize,
    /// The mix as used, step name to percentage of sessions.
    pub mix: BTreeMap<String, u8>,
    pub sessions: u64,
    pub sessions_completed: u64,
    pub session_errors: u64,
    pub session_errors_by_kind: BTreeMap<String, u64>,
    /// The first error message of each kind.
    pub session_error_examples: BTreeMap<String, String>,
    pub skipped: BTreeMap<String, u64>,
    pub connections_opened: u64,
    pub elapsed_secs: f64,
    /// Completed sessions per second.
    pub sessions_per_sec: f64,
    /// Command name to its figures.
    pub commands: BTreeMap<String, CommandReport>,
}

/// Run settings that the report repeats next to the figures.
#[derive(Debug, Clone)]
pub struct MailboxRunInfo {
    pub run_id: String,
    pub protocol: &'static str,
    pub target: String,
    pub connections: usize,
    pub workers: usize,
    pub users: usize,
    pub mix: Vec<(&'static str, u8)>,
}

impl MailboxReport {
    /// Builds the report from the merged stats and the wall time of the run.
    pub fn new(info: MailboxRunInfo, stats: &MailboxStats, elapsed: Duration) -> Self {
        let elapsed_secs = elapsed.as_secs_f64();
        let per_sec = |value: u64| {
            if elapsed_secs > 0.0 {
                value as f64 / elapsed_secs
            } else {
                0.0
            }
        };
        let text_keys = |map: &BTreeMap<&'static str, u64>| {
            map.iter()
                .map(|(key, count)| (key.to_string(), *count))
                .collect::<BTreeMap<_, _>>()
        };

        let commands = stats
            .commands
            .iter()
            .map(|(name, figures)| {
                let report = CommandReport {
                    count: figures.count,
                    errors: figures.errors,
                    per_sec: per_sec(figures.count),
                    latency_ms: Percentiles::from_histogram(&figures.latency_us),
                };
                (name.to_string(), report)
            })
            .collect();

        MailboxReport {
            run_id: info.run_id,
            protocol: info.protocol.to_string(),
            target: info.target,
            connections: info.connections,
            workers: info.workers,
            users: info.users,
            mix: info
                .mix
                .iter()
                .map(|(name, percent)| (name.to_string(), *percent))
                .collect(),
            sessions: stats.sessions,
            sessions_completed: stats.sessions_completed,
            session_errors: stats.session_errors.values().sum(),
            session_errors_by_kind: text_keys(&stats.session_errors),
            session_error_examples: stats
                .session_error_examples
                .iter()
                .map(|(kind, message)| (kind.to_string(), message.clone()))
                .collect(),
            skipped: text_keys(&stats.skipped),
            connections_opened: stats.connections,
            elapsed_secs,
            sessions_per_sec: per_sec(stats.sessions_completed),
            commands,
        }
    }

    /// Returns the number of commands that got NO, BAD or -ERR.
    pub fn command_errors(&self) -> u64 {
        self.commands.values().map(|command| command.errors).sum()
    }

    /// Formats the report as the plain text printed on stdout.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        // `fmt::Write` for `String` never returns an error, so results of
        // `write!` into `text` are ignored below.
        self.write_settings(&mut text);
        self.write_sessions(&mut text);
        self.write_commands(&mut text);
        text
    }

    fn write_settings(&self, text: &mut String) {
        let mix: Vec<String> = self
            .mix
            .iter()
            .map(|(name, percent)| format!("{name}={percent}"))
            .collect();
        let _ = writeln!(text, "run id: {}", self.run_id);
        let _ = writeln!(
            text,
            "target: {} ({}), {} connections on {} workers, {} users, mix {}",
            self.target,
            self.protocol,
            self.connections,
            self.workers,
            self.users,
            mix.join(",")
        );
    }

    fn write_sessions(&self, text: &mut String) {
        let _ = writeln!(text, "sessions: {}", self.sessions);
        let _ = writeln!(text, "sessions completed: {}", self.sessions_completed);
        let _ = writeln!(text, "session errors: {}", self.session_errors);
        for (kind, count) in &self.session_errors_by_kind {
            let _ = write!(text, "  {kind}: {count}");
            if let Some(example) = self.session_error_examples.get(kind) {
                let _ = write!(text, " (first: {example})");
            }
            text.push('\n');
        }
        let _ = writeln!(text, "command errors: {}", self.command_errors());
        let skipped: u64 = self.skipped.values().sum();
        let _ = writeln!(text, "steps skipped: {skipped}");
        for (reason, count) in &self.skipped {
            let _ = writeln!(text, "  {reason}: {count}");
        }
        let _ = writeln!(text, "connections opened: {}", self.connections_opened);
        let _ = writeln!(text, "elapsed: {:.3} s", self.elapsed_secs);
        let _ = writeln!(text, "throughput: {:.1} sessions/s", self.sessions_per_sec);
    }

    fn write_commands(&self, text: &mut String) {
        let _ = writeln!(
            text,
            "{:<14} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "command",
            "count",
            "errors",
            "per s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        for (name, command) in &self.commands {
            let latency = &command.latency_ms;
            let _ = writeln!(
                text,
                "{name:<14} {:>9} {:>7} {:>9.1} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
                command.count,
                command.errors,
                command.per_sec,
                latency.p50,
                latency.p90,
                latency.p99,
                latency.p99_9,
                latency.max
            );
        }
    }
}
