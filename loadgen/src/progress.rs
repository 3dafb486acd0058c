//! A one-line live progress display (sent, accepted, msg/s) for a terminal.
//!
//! [`Progress`] contains two counters that the connection tasks bump. It is
//! enabled only when stdout is a terminal, so runs whose output is piped or
//! captured (scripts, tests) print nothing but the report, and their tasks
//! skip the shared atomic counters. [`Progress::display`] starts a thread
//! that redraws the line every [`REFRESH_INTERVAL`] until the returned
//! [`Display`] is finished; the line is cleared before the report prints.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Time between two redraws of the progress line.
pub const REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// Live counters of a run.
#[derive(Debug)]
pub struct Progress {
    enabled: bool,
    sent: AtomicU64,
    accepted: AtomicU64,
}

impl Progress {
    /// Creates the counters, enabled when stdout is a terminal.
    pub fn for_stdout() -> Self {
        Progress {
            enabled: std::io::stdout().is_terminal(),
            sent: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
        }
    }

    /// Counts one message whose MAIL is about to be sent.
    pub fn add_sent(&self) {
        if self.enabled {
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one accepted message.
    pub fn add_accepted(&self) {
        if self.enabled {
            self.accepted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Starts redrawing the progress line, or does nothing when disabled.
    pub fn display(self: &Arc<Self>) -> Display {
        if !self.enabled {
            return Display { thread: None };
        }

        let done = Arc::new(AtomicBool::new(false));
        let progress = Arc::clone(self);
        let thread_done = Arc::clone(&done);
        let thread = std::thread::spawn(move || progress.redraw_until(&thread_done));
        Display {
            thread: Some((done, thread)),
        }
    }

    fn redraw_until(&self, done: &AtomicBool) {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed} {msg}") {
            bar.set_style(style);
        }

        let started = Instant::now();
        while !done.load(Ordering::Relaxed) {
            let sent = self.sent.load(Ordering::Relaxed);
            let accepted = self.accepted.load(Ordering::Relaxed);
            let elapsed_secs = started.elapsed().as_secs_f64();
            let rate = if elapsed_secs > 0.0 {
                accepted as f64 / elapsed_secs
            } else {
                0.0
            };
            bar.set_message(format!("sent {sent}, accepted {accepted}, {rate:.1} msg/s"));
            bar.tick();
            std::thread::sleep(REFRESH_INTERVAL);
        }
        bar.finish_and_clear();
    }
}

/// The running progress line.
pub struct Display {
    thread: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Display {
    /// Stops redrawing and clears the line.
    pub fn finish(self) {
        if let Some((done, thread)) = self.thread {
            done.store(true, Ordering::Relaxed);
            let _ = thread.join();
        }
    }
}
