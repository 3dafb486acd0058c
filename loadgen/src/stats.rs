//! Counters and latency histograms of a run, and the report made from them.
//!
//! Each connection task keeps its own [`Stats`], so recording needs no lock.
//! Workers merge their tasks' stats, and the run merges the workers'. A
//! [`Report`] is the merged figures with the run's settings; it prints as
//! plain text and serializes as JSON with the same fields.
//!
//! Latencies are recorded in microseconds into HdrHistograms with 3
//! significant digits, from 1 µs to [`LATENCY_US_MAX`]. Longer values are
//! recorded as that maximum rather than dropped, so the counts stay whole.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest latency a histogram tracks exactly: one hour, in microseconds.
/// Any reply takes far less; a slower one is a stalled server.
pub const LATENCY_US_MAX: u64 = 3_600_000_000;

/// Significant decimal digits the histograms keep (0.1 % resolution).
const LATENCY_SIGNIFICANT_DIGITS: u8 = 3;

/// Figures of one connection task, one worker or the whole run.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Messages whose MAIL command was sent.
    pub sent: u64,
    /// Messages that got a 2xx reply after their data.
    pub accepted: u64,
    /// Octets of accepted messages, headers and body, before dot stuffing.
    pub accepted_bytes: u64,
    /// Messages rejected, by the reply code that ended their transaction.
    pub rejected: BTreeMap<u16, u64>,
    /// RCPT commands rejected, by reply code. A message with one accepted
    /// recipient is still sent, so these do not show in `rejected`.
    pub rcpts_rejected: BTreeMap<u16, u64>,
    /// Connections opened (TCP handshakes completed).
    pub connections: u64,
    /// Sessions that ended in an error, by the kind of error.
    pub connection_errors: BTreeMap<&'static str, u64>,
    /// The first error message seen of each kind, for diagnosis.
    pub connection_error_examples: BTreeMap<&'static str, String>,
    /// TCP connect until the greeting arrived, in microseconds.
    pub connect_us: Histogram<u64>,
    /// MAIL sent (or, with `--rate`, the message's scheduled time) until the
    /// transaction's final reply, in microseconds.
    pub message_us: Histogram<u64>,
    /// TCP connect until the reply to QUIT, in microseconds. Sessions that
    /// end without a QUIT reply are not recorded.
    pub session_us: Histogram<u64>,
    /// With `--rate`: how late each message started against its scheduled
    /// time, in microseconds. Values under 1 µs are recorded as 1 µs.
    pub lag_us: Histogram<u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats::new()
    }
}

impl Stats {
    /// Creates empty figures.
    pub fn new() -> Self {
        Stats {
            sent: 0,
            accepted: 0,
            accepted_bytes: 0,
            rejected: BTreeMap::new(),
            rcpts_rejected: BTreeMap::new(),
            connections: 0,
            connection_errors: BTreeMap::new(),
            connection_error_examples: BTreeMap::new(),
            connect_us: latency_histogram(),
            message_us: latency_histogram(),
            session_us: latency_histogram(),
            lag_us: latency_histogram(),
        }
    }

    /// Records the time from connect to the reply to QUIT.
    pub fn record_session(&mut self, latency: Duration) {
        self.session_us.saturating_record(micros(latency));
    }

    /// Records how late a message started against its schedule.
    pub fn record_lag(&mut self, lag: Duration) {
        self.lag_us.saturating_record(micros(lag));
    }

    /// Records the time from connect to greeting.
    pub fn record_connect(&mut self, latency: Duration) {
        self.connect_us.saturating_record(micros(latency));
    }

    /// Records a transaction that ended with `code`: accepted when 2xx.
    pub fn record_message(&mut self, code: u16, message_len: usize, latency: Duration) {
        if (200..300).contains(&code) {
            self.accepted += 1;
            self.accepted_bytes += message_len as u64;
        } else {
            *self.rejected.entry(code).or_insert(0) += 1;
        }
        self.message_us.saturating_record(micros(latency));
    }

    /// Counts one RCPT command rejected with `code`.
    pub fn record_rcpt_rejected(&mut self, code: u16) {
        *self.rcpts_rejected.entry(code).or_insert(0) += 1;
    }

    /// Counts one session that ended in an error of `kind`, keeping
    /// `message` if it is the first of its kind.
    pub fn record_connection_error(
        &mut self,
        kind: &'static str,
        message: impl FnOnce() -> String,
    ) {
        *self.connection_errors.entry(kind).or_insert(0) += 1;
        self.connection_error_examples
            .entry(kind)
            .or_insert_with(message);
    }

    /// Returns the number of sessions that ended in an error.
    pub fn connection_error_count(&self) -> u64 {
        self.connection_errors.values().sum()
    }

    /// Adds `other`'s figures to these.
    pub fn merge(&mut self, other: &Stats) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.accepted_bytes += other.accepted_bytes;
        for (&code, &count) in &other.rejected {
            *self.rejected.entry(code).or_insert(0) += count;
        }
        for (&code, &count) in &other.rcpts_rejected {
            *self.rcpts_rejected.entry(code).or_insert(0) += count;
        }
        self.connections += other.connections;
        for (&kind, &count) in &other.connection_errors {
            *self.connection_errors.entry(kind).or_insert(0) += count;
        }
        for (&kind, message) in &other.connection_error_examples {
            self.connection_error_examples
                .entry(kind)
                .or_insert_with(|| message.clone());
        }
        // Every histogram comes from `latency_histogram`, so both share one
        // range and precision and adding cannot fail.
        self.connect_us
            .add(&other.connect_us)
            .expect("histograms share their bounds");
        self.message_us
            .add(&other.message_us)
            .expect("histograms share their bounds");

        self.session_us
            .add(&other.session_us)
            .expect("histograms share their bounds");
        self.lag_us
            .add(&other.lag_us)
            .expect("histograms share their bounds");
    }
}

pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, LATENCY_US_MAX, LATENCY_SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

pub(crate) fn micros(latency: Duration) -> u64 {
    u64::try_from(latency.as_micros())
        .unwrap_or(u64::MAX)
        .max(1)
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Percentiles {
    /// Number of values recorded.
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    pub max: f64,
}

impl Percentiles {
    /// Reads the percentiles from a histogram of microseconds.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        Percentiles {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p99_9: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
        }
    }
}

/// The figures of a finished run, as printed and as written to JSON.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run_id: String,
    pub target: String,
    pub connections: usize,
    pub workers: usize,
    pub pipelining: bool,
    /// Body size of generated messages with a fixed size, else 0.
    pub body_bytes: usize,
    /// The content option: `fixed N`, `uniform MIN-MAX seed S` or `corpus of N files`.
    pub content: String,
    /// BDAT chunk size in octets, or null when messages go with DATA.
    pub bdat_chunk_bytes: Option<usize>,
    pub starttls: bool,
    /// Whether sessions used implicit TLS (`--tls`).
    pub implicit_tls: bool,
    pub rcpts: usize,
    pub messages_sent: u64,
    pub accepted: u64,
    /// Rejected messages by reply code, the code as a string key for JSON.
    pub rejected: BTreeMap<String, u64>,
    /// Rejected RCPT commands by reply code.
    pub rcpts_rejected: BTreeMap<String, u64>,
    pub connections_opened: u64,
    pub connection_errors: u64,
    pub connection_errors_by_kind: BTreeMap<String, u64>,
    /// The first error message of each kind.
    pub connection_error_examples: BTreeMap<String, String>,
    pub elapsed_secs: f64,
    /// Accepted messages per second.
    pub msgs_per_sec: f64,
    /// Accepted message octets (headers and body) per second, in 10^6 octets.
    pub mb_per_sec: f64,
    pub connect_ms: Percentiles,
    pub message_ms: Percentiles,
    pub session_ms: Percentiles,
    /// Open-loop figures, present with `--rate`.
    pub schedule: Option<Schedule>,
}

/// Schedule figures of an open-loop run.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// The `--rate`, in messages per second.
    pub target_rate: f64,
    /// Messages started per second of the run.
    pub achieved_rate: f64,
    /// How late messages started against their scheduled times; `max` is
    /// how far behind the run fell at worst.
    pub lag_ms: Percentiles,
}

/// Run settings that the report repeats next to the figures.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub run_id: String,
    pub target: String,
    pub connections: usize,
    pub workers: usize,
    pub pipelining: bool,
    pub body_bytes: usize,
    pub content: String,
    pub bdat_chunk_bytes: Option<usize>,
    pub starttls: bool,
    /// Whether sessions used implicit TLS (`--tls`).
    pub implicit_tls: bool,
    pub rcpts: usize,
    /// The `--rate` of an open-loop run.
    pub rate: Option<f64>,
}

impl Report {
    /// Builds the report from the merged stats and the wall time of the run.
    pub fn new(info: RunInfo, stats: &Stats, elapsed: Duration) -> Self {
        let elapsed_secs = elapsed.as_secs_f64();
        let per_sec = |value: f64| {
            if elapsed_secs > 0.0 {
                value / elapsed_secs
            } else {
                0.0
            }
        };

        Report {
            run_id: info.run_id,
            target: info.target,
            connections: info.connections,
            workers: info.workers,
            pipelining: info.pipelining,
            body_bytes: info.body_bytes,
            content: info.content,
            bdat_chunk_bytes: info.bdat_chunk_bytes,
            starttls: info.starttls,
            implicit_tls: info.implicit_tls,
            rcpts: info.rcpts,
            messages_sent: stats.sent,
            accepted: stats.accepted,
            rejected: stats
                .rejected
                .iter()
                .map(|(code, count)| (code.to_string(), *count))
                .collect(),
            rcpts_rejected: stats
                .rcpts_rejected
                .iter()
                .map(|(code, count)| (code.to_string(), *count))
                .collect(),
            connections_opened: stats.connections,
            connection_errors: stats.connection_error_count(),
            connection_errors_by_kind: stats
                .connection_errors
                .iter()
                .map(|(kind, count)| (kind.to_string(), *count))
                .collect(),
            connection_error_examples: stats
                .connection_error_examples
                .iter()
                .map(|(kind, message)| (kind.to_string(), message.clone()))
                .collect(),
            elapsed_secs,
            msgs_per_sec: per_sec(stats.accepted as f64),
            mb_per_sec: per_sec(stats.accepted_bytes as f64 / 1e6),
            connect_ms: Percentiles::from_histogram(&stats.connect_us),
            message_ms: Percentiles::from_histogram(&stats.message_us),
            session_ms: Percentiles::from_histogram(&stats.session_us),
            schedule: info.rate.map(|target_rate| Schedule {
                target_rate,
                achieved_rate: per_sec(stats.sent as f64),
                lag_ms: Percentiles::from_histogram(&stats.lag_us),
            }),
        }
    }

    /// Returns the number of rejected messages.
    pub fn rejected_count(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Formats the report as the plain text printed on stdout.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        // `fmt::Write` for `String` never returns an error, so results of
        // `write!` into `text` are ignored below.
        self.write_settings(&mut text);
        self.write_counts(&mut text);
        self.write_rates(&mut text);
        text
    }

    fn write_settings(&self, text: &mut String) {
        let pipelining = if self.pipelining { "on" } else { "off" };
        let _ = writeln!(text, "run id: {}", self.run_id);
        let _ = writeln!(
            text,
            "target: {}, {} connections on {} workers, pipelining {pipelining}, {} body bytes, {} rcpts",
            self.target, self.connections, self.workers, self.body_bytes, self.rcpts
        );
        let data = match self.bdat_chunk_bytes {
            Some(chunk) => format!("BDAT in chunks of {chunk}"),
            None => "DATA".to_string(),
        };
        let starttls = if self.starttls { "on" } else { "off" };
        let implicit_tls = if self.implicit_tls {
            ", implicit tls on"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "content: {}, sent with {data}, starttls {starttls}{implicit_tls}",
            self.content
        );
    }

    fn write_counts(&self, text: &mut String) {
        let _ = writeln!(text, "messages sent: {}", self.messages_sent);
        let _ = writeln!(text, "accepted: {}", self.accepted);
        let _ = writeln!(text, "rejected: {}", self.rejected_count());
        for (code, count) in &self.rejected {
            let _ = writeln!(text, "  {code}: {count}");
        }

        let rcpts_rejected: u64 = self.rcpts_rejected.values().sum();
        let _ = writeln!(text, "recipients rejected: {rcpts_rejected}");
        for (code, count) in &self.rcpts_rejected {
            let _ = writeln!(text, "  {code}: {count}");
        }

        let _ = writeln!(text, "connections opened: {}", self.connections_opened);
        let _ = writeln!(text, "connection errors: {}", self.connection_errors);
        for (kind, count) in &self.connection_errors_by_kind {
            let _ = write!(text, "  {kind}: {count}");
            if let Some(example) = self.connection_error_examples.get(kind) {
                let _ = write!(text, " (first: {example})");
            }
            text.push('\n');
        }
    }

    fn write_rates(&self, text: &mut String) {
        let _ = writeln!(text, "elapsed: {:.3} s", self.elapsed_secs);
        let _ = writeln!(
            text,
            "throughput: {:.1} msg/s, {:.3} MB/s",
            self.msgs_per_sec, self.mb_per_sec
        );
        if let Some(schedule) = &self.schedule {
            let _ = writeln!(
                text,
                "rate: target {:.1} msg/s, achieved {:.1} msg/s, max lag {:.3} ms",
                schedule.target_rate, schedule.achieved_rate, schedule.lag_ms.max
            );
        }

        let _ = writeln!(
            text,
            "latency ms  {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "count", "p50", "p90", "p99", "p99.9", "max"
        );
        let mut rows = vec![
            ("connect", &self.connect_ms),
            ("message", &self.message_ms),
            ("session", &self.session_ms),
        ];
        if let Some(schedule) = &self.schedule {
            rows.push(("lag", &schedule.lag_ms));
        }
        for (name, percentiles) in rows {
            let _ = writeln!(
                text,
                "{name:<10}  {:>10} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.3}",
                percentiles.count,
                percentiles.p50,
                percentiles.p90,
                percentiles.p99,
                percentiles.p99_9,
                percentiles.max
            );
        }
    }
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
