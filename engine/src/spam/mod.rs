//! Spam scoring in the SMTP server. [`SpamFilter`] scores each received
//! message at the end of DATA or BDAT LAST, before the message is stored and
//! before the reply. It returns the message with its `X-Spam-*` fields and
//! the [`Action`] that the thresholds pick.
//!
//! [`SpamFilter::start`] loads and compiles the rules once, before the
//! server listens, and opens the Bayes store of the data directory, which
//! the scoring threads load again when its file changes. A rule
//! file that fails to load is a start-up error that names the file. The
//! compiled rules are shared read-only by the scoring threads through an
//! `Arc`.
//!
//! Scoring costs milliseconds of CPU per message, which would stall every
//! other session of an io_uring worker. So a session sends the message to a
//! small pool of scoring threads (one per worker) over a bounded crossbeam
//! channel and waits on a [`runtime::reply_channel`] while its worker serves
//! other sessions.
//!
//! Limits, and what happens past them. In each case the message is
//! delivered unscored, with no `X-Spam-*` fields, and the event is logged:
//! - a message larger than `spam.message_size_max` is not scored, as spamc
//!   returns such a message unchanged;
//! - at most [`QUEUE_PER_THREAD_MAX`] messages per thread wait for scoring,
//!   so a flood of mail cannot queue unbounded memory or latency;
//! - a session waits at most [`SCORE_TIMEOUT_MS`] for its result.
//!
//! spamc also passes mail through unscored when spamd is down. So a
//! scoring failure never loses mail, and it delays a message by at most
//! [`SCORE_TIMEOUT_MS`].

mod fields;

#[cfg(test)]
mod tests;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ringmail_spam::bayes::BayesStore;
use ringmail_spam::compile::CompiledRules;
use ringmail_spam::rules::{self, LoadOptions, RuleModel};
use ringmail_spam::score::{format_score, spam_headers, Scorer, Verdict};

use crate::config::SpamConfig;
use crate::file_version::FileVersion;
use crate::runtime::{self, ReplySender};

pub use fields::{insert_spam_fields, is_spam_field_name};

/// Maximum messages per scoring thread that wait in the queue. At a few
/// milliseconds per message (an estimate from `ringmail spam check` on the
/// corpus), a full queue is well under a second of work.
pub const QUEUE_PER_THREAD_MAX: usize = 64;

/// Maximum time a session waits for its score, in milliseconds. A client
/// waits 10 minutes for the reply to the end of data (RFC 5321 section
/// 4.5.3.2.6), and a message that takes longer than this is pathological.
pub const SCORE_TIMEOUT_MS: u64 = 30_000;

/// Number of hit rules named in the log line, highest scores first.
pub const LOGGED_RULES_MAX: usize = 5;

/// Name of the folder that receives spam of local recipients. Maildir++
/// stores it as `.Junk`, and IMAP lists it as `Junk`.
pub const JUNK_FOLDER: &str = "Junk";

/// The server's next step for a message after scoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Action {
    /// Deliver into INBOX: not scored, or below `junk_score`.
    Inbox,
    /// Deliver local recipients into their Junk folder.
    Junk,
    /// Reply 550 5.7.1 and store nothing.
    Reject { score: f64, reject_score: f64 },
}

impl Action {
    /// Returns the action's name in log lines.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Inbox => "inbox",
            Action::Junk => "junk",
            Action::Reject { .. } => "reject",
        }
    }
}

/// The score thresholds, with `add_header` resolved to a number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// From this score on, `X-Spam-Flag: YES` is added.
    pub add_header: f64,
    /// From this score on, local recipients get the message in Junk.
    pub junk: f64,
    /// Above this score, the message is rejected.
    pub reject: f64,
}

impl Thresholds {
    /// Picks the action for `score`. Junk starts at its threshold, as
    /// SpamAssassin's `required_score` does, and rejection starts above
    /// its threshold, matching the reply text `score X > Y`.
    pub fn action(&self, score: f64) -> Action {
        if score > self.reject {
            Action::Reject {
                score,
                reject_score: self.reject,
            }
        } else if score >= self.junk {
            Action::Junk
        } else {
            Action::Inbox
        }
    }

    /// Returns `verdict` judged against `add_header` instead of the rule
    /// set's `required_score`, so that `X-Spam-Flag` and the Yes or No of
    /// `X-Spam-Status` follow the configured threshold.
    pub fn header_verdict(&self, verdict: &Verdict) -> Verdict {
        let mut judged = verdict.clone();
        judged.required = self.add_header;
        judged.is_spam = verdict.score >= self.add_header;
        judged
    }
}

/// The result of [`SpamFilter::check`].
pub struct Checked {
    /// The message to store: with `X-Spam-*` fields when it was scored, else
    /// as received.
    pub message: Vec<u8>,
    pub action: Action,
}

/// The compiled rules and the Bayes store, shared by the scoring threads.
struct Classifier {
    scorer: Scorer,
    bayes: BayesSource,
}

impl Classifier {
    fn score(&self, message: &[u8]) -> Verdict {
        let prepared = self.scorer.prepare(message);
        let probability = self.bayes.current().probability(&prepared);
        self.scorer
            .score(&prepared, &ringmail_spam::eval::evaluate, probability)
    }
}

/// The Bayes store of the data directory, loaded again when its file
/// changes. `ringmail spam learn` replaces the file by a rename, so a load
/// reads either the old or the new store, never a mix.
struct BayesSource {
    data_dir: PathBuf,
    ignore_headers: Vec<String>,
    reload_interval: Duration,
    store: RwLock<Arc<BayesStore>>,
    /// The file version loaded and the time of the last check. One thread
    /// checks at a time, and the others score with the store they have.
    check: Mutex<BayesCheck>,
}

struct BayesCheck {
    loaded: Option<FileVersion>,
    checked_at: Instant,
}

impl BayesSource {
    /// Opens the store of `data_dir`, with `ignore_headers` as
    /// `bayes_ignore_header`.
    fn open(
        data_dir: &Path,
        ignore_headers: Vec<String>,
        reload_interval: Duration,
    ) -> Result<BayesSource, String> {
        let path = BayesStore::path_in(data_dir);
        let loaded = FileVersion::of_path(&path);
        let store = load_bayes(data_dir, &ignore_headers)?;
        Ok(BayesSource {
            data_dir: data_dir.to_path_buf(),
            ignore_headers,
            reload_interval,
            store: RwLock::new(Arc::new(store)),
            check: Mutex::new(BayesCheck {
                loaded,
                checked_at: Instant::now(),
            }),
        })
    }

    /// Returns the store to score with, after loading a newer version of
    /// the file when the reload interval has passed and it changed.
    fn current(&self) -> Arc<BayesStore> {
        self.reload_if_changed();
        self.store
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn reload_if_changed(&self) {
        let Ok(mut check) = self.check.try_lock() else {
            return;
        };
        if check.checked_at.elapsed() < self.reload_interval {
            return;
        }
        check.checked_at = Instant::now();
        let path = BayesStore::path_in(&self.data_dir);
        let version = FileVersion::of_path(&path);
        if version == check.loaded {
            return;
        }
        match load_bayes(&self.data_dir, &self.ignore_headers) {
            Ok(store) => {
                tracing::info!(
                    path = %path.display(),
                    bayes_spam = store.nspam(),
                    bayes_ham = store.nham(),
                    "bayes store reloaded"
                );
                *self.store.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(store);
                check.loaded = version;
            }
            Err(error) => {
                // The old store stays in use, and the next check tries again.
                tracing::warn!(%error, "bayes store changed but failed to load; the previous one stays in use");
            }
        }
    }
}

/// Loads the Bayes store of `data_dir` with `ignore_headers` set.
fn load_bayes(data_dir: &Path, ignore_headers: &[String]) -> Result<BayesStore, String> {
    let mut store = BayesStore::open(data_dir).map_err(|error| {
        format!(
            "cannot open the bayes store {}: {error}",
            BayesStore::path_in(data_dir).display()
        )
    })?;
    store.set_ignore_headers(ignore_headers.to_vec());
    Ok(store)
}

/// One message waiting for a scoring thread.
struct Job {
    /// The message. The thread drops its reference before it replies, so
    /// the session gets the buffer back without a copy.
    message: Arc<Vec<u8>>,
    reply: ReplySender<Scored>,
}

/// A verdict and the time the scoring took.
struct Scored {
    verdict: Verdict,
    micros: u64,
}

/// The spam scoring of one server: thresholds, the job queue and the
/// scoring threads behind it.
pub struct SpamFilter {
    thresholds: Thresholds,
    message_size_max: usize,
    jobs: Sender<Job>,
    /// Messages delivered unscored because they could not be queued, for
    /// the log.
    unqueued_count: AtomicU64,
}

impl SpamFilter {
    /// Loads and compiles the rules of `config`, opens the Bayes store in
    /// `data_dir` and starts `threads` scoring threads. The threads end when
    /// the filter is dropped.
    pub fn start(
        config: &SpamConfig,
        data_dir: &Path,
        threads: usize,
    ) -> Result<SpamFilter, String> {
        let (model, sources) = load_rules(config)?;
        let required_score = model.required_score;

        let ignored = model
            .settings
            .get("bayes_ignore_header")
            .cloned()
            .unwrap_or_default();
        let reload_interval = Duration::from_secs(config.bayes_reload_secs);
        let bayes = BayesSource::open(data_dir, ignored, reload_interval)?;
        let learned = bayes.current();

        let (compiled, stats) = CompiledRules::compile(&model);
        let total = stats.total();
        tracing::info!(
            sources = sources.join(","),
            rules = total.total,
            unsupported = total.unsupported,
            compile_ms = stats.compile_ms,
            bayes_spam = learned.nspam(),
            bayes_ham = learned.nham(),
            threads,
            "spam rules loaded"
        );

        let classifier = Arc::new(Classifier {
            scorer: Scorer::new(Arc::new(model), Arc::new(compiled)),
            bayes,
        });
        let threads = threads.max(1);
        let (jobs, queue) = crossbeam_channel::bounded(threads * QUEUE_PER_THREAD_MAX);
        for index in 0..threads {
            let classifier = classifier.clone();
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("ringmail-spam-{index}"))
                .spawn(move || score_jobs(&classifier, &queue))
                .map_err(|error| format!("cannot start a spam scoring thread: {error}"))?;
        }

        Ok(SpamFilter {
            thresholds: Thresholds {
                add_header: config.add_header_score.unwrap_or(required_score),
                junk: config.junk_score,
                reject: config.reject_score,
            },
            message_size_max: config.message_size_max,
            jobs,
            unqueued_count: AtomicU64::new(0),
        })
    }

    /// Returns the thresholds in use.
    pub fn thresholds(&self) -> Thresholds {
        self.thresholds
    }

    /// Scores `message`, whose first `trace_len` octets are this server's
    /// Received field, on a scoring thread, logs one line, and returns the
    /// message with its `X-Spam-*` fields and the action to take.
    pub async fn check(&self, message: Vec<u8>, trace_len: usize, queue_id: &str) -> Checked {
        let size = message.len();
        if size > self.message_size_max {
            tracing::info!(
                queue_id,
                size,
                size_max = self.message_size_max,
                "spam scoring skipped: message too large"
            );
            return Checked {
                message,
                action: Action::Inbox,
            };
        }

        let message = Arc::new(message);
        let (reply, result) = runtime::reply_channel();
        let job = Job {
            message: message.clone(),
            reply,
        };
        if let Err(error) = self.jobs.try_send(job) {
            let reason = match error {
                TrySendError::Full(_) => "queue full",
                TrySendError::Disconnected(_) => "scoring threads stopped",
            };
            let count = self.unqueued_count.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                queue_id,
                reason,
                unscored_total = count,
                "spam scoring skipped"
            );
            return Checked {
                message: take_message(message),
                action: Action::Inbox,
            };
        }

        let timeout = Duration::from_millis(SCORE_TIMEOUT_MS);
        let scored = match runtime::timeout(timeout, result.receive()).await {
            Ok(Some(scored)) => scored,
            Ok(None) => {
                tracing::error!(
                    queue_id,
                    "spam scoring failed: the scoring thread dropped the message"
                );
                return Checked {
                    message: take_message(message),
                    action: Action::Inbox,
                };
            }
            Err(runtime::Elapsed) => {
                tracing::warn!(
                    queue_id,
                    timeout_ms = SCORE_TIMEOUT_MS,
                    "spam scoring timed out"
                );
                return Checked {
                    message: take_message(message),
                    action: Action::Inbox,
                };
            }
        };

        let action = self.thresholds.action(scored.verdict.score);
        let header_verdict = self.thresholds.header_verdict(&scored.verdict);
        log_scored(queue_id, &header_verdict, action, scored.micros);
        let message = take_message(message);
        let message = insert_spam_fields(&message, trace_len, &spam_headers(&header_verdict));
        Checked { message, action }
    }
}

/// Returns the message buffer, copying it only when a scoring thread still
/// has a reference to it (after a timeout).
fn take_message(message: Arc<Vec<u8>>) -> Vec<u8> {
    Arc::try_unwrap(message).unwrap_or_else(|shared| shared.as_ref().clone())
}

/// Loads the rules of `config.rules`, or the default rules, and returns the
/// model with the names of its sources.
fn load_rules(config: &SpamConfig) -> Result<(RuleModel, Vec<String>), String> {
    let options = LoadOptions::default();
    let loaded = match &config.rules {
        Some(dir) => {
            rules::load_dir(dir, options).map(|model| (model, vec![dir.display().to_string()]))
        }
        None => rules::load_default(options).map(|(model, paths)| {
            let sources = if paths.is_empty() {
                vec!["embedded ringmail.cf".to_string()]
            } else {
                paths
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect()
            };
            (model, sources)
        }),
    };
    loaded.map_err(|error| format!("spam rules failed to load: {error}"))
}

/// Scores each job of `queue` until the filter is dropped, on one scoring
/// thread. A panic in the classifier is caught, so it fails only that
/// message, which the session then delivers unscored.
fn score_jobs(classifier: &Classifier, queue: &Receiver<Job>) {
    for Job { message, reply } in queue.iter() {
        let started = Instant::now();
        let verdict = std::panic::catch_unwind(AssertUnwindSafe(|| classifier.score(&message)));
        drop(message);
        match verdict {
            Ok(verdict) => {
                let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
                // A session that timed out no longer waits, which is fine.
                let _ = reply.send(Scored { verdict, micros });
            }
            Err(_) => {
                tracing::error!("spam scoring panicked, so the message is delivered unscored")
            }
        }
    }
}

/// Logs the one line of a scored message.
fn log_scored(queue_id: &str, verdict: &Verdict, action: Action, micros: u64) {
    let mut hits: Vec<_> = verdict.hits.iter().collect();
    hits.sort_by(|left, right| {
        right
            .score
            .total_cmp(&left.score)
            .then(left.name.cmp(&right.name))
    });
    let top_rules: Vec<String> = hits
        .iter()
        .take(LOGGED_RULES_MAX)
        .map(|hit| format!("{}={}", hit.name, hit.score))
        .collect();
    tracing::info!(
        queue_id,
        score = format_score(verdict.score),
        required = format_score(verdict.required),
        verdict = if verdict.is_spam { "spam" } else { "ham" },
        action = action.as_str(),
        rules = top_rules.join(","),
        micros,
        "spam scored"
    );
}
