//! `ringmail queue list`: [`list_queue`] reads the spool offline and
//! [`format_queue`] prints one block per queued message.
//!
//! Reading works whether or not the server runs, because segments are only
//! appended to and a record counts once its checksum matches. A record that
//! the server is writing at that moment may be left out. The retry schedule
//! lives in the server's memory, so the listing cannot show the next attempt
//! time; it shows the state of each recipient instead.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::{recover, QueuedMessage};
use crate::envelope::Destination;

/// Returns every message in the spool under `spool_dir` that has a recipient
/// not done, oldest first.
pub fn list_queue(spool_dir: &Path) -> io::Result<Vec<QueuedMessage>> {
    let workers = highest_worker_dir(spool_dir)?.map_or(1, |highest| highest as usize + 1);
    let recovered = recover(spool_dir, workers)?;
    let mut queued: Vec<QueuedMessage> = recovered
        .workers
        .into_iter()
        .flat_map(|worker| worker.queued)
        .collect();
    queued.sort_by_key(|message| (message.envelope.received_unix_secs, message.id));
    Ok(queued)
}

fn highest_worker_dir(spool_dir: &Path) -> io::Result<Option<u32>> {
    let entries = match std::fs::read_dir(spool_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut highest = None;
    for entry in entries {
        let name = entry?.file_name();
        let worker = name
            .to_str()
            .and_then(|name| name.strip_prefix('w'))
            .and_then(|number| number.parse::<u32>().ok());
        highest = highest.max(worker);
    }
    Ok(highest)
}

/// Formats `queued` for a terminal, with ages relative to `now_unix_secs`.
pub fn format_queue(queued: &[QueuedMessage], now_unix_secs: u64) -> String {
    let mut out = String::new();
    for message in queued {
        let envelope = &message.envelope;
        let age_secs = now_unix_secs.saturating_sub(envelope.received_unix_secs);
        let sender = if envelope.reverse_path.is_empty() {
            "<>"
        } else {
            envelope.reverse_path.as_str()
        };
        let _ = writeln!(
            out,
            "{}  age {}  size {}  from {}  record {}",
            envelope.queue_id,
            format_age(age_secs),
            message.message_len,
            sender,
            message.id
        );
        for (recipient, done) in envelope.recipients.iter().zip(&message.done) {
            let state = match (done, &recipient.destination, &envelope.local_folder) {
                (true, _, _) => "done".to_string(),
                (false, Destination::Local { .. }, None) => "pending, local".to_string(),
                (false, Destination::Local { .. }, Some(folder)) => {
                    format!("pending, local, folder {folder}")
                }
                (false, Destination::Remote, _) => {
                    "pending, remote delivery not available yet".to_string()
                }
            };
            let _ = writeln!(out, "    to {} ({state})", recipient.address);
        }
    }
    let _ = writeln!(out, "{} queued message(s)", queued.len());
    out
}

/// Formats a duration in seconds as `45s`, `12m`, `5h` or `3d`.
fn format_age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_units_by_range() {
        let cases = [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3599, "59m"),
            (3600, "1h"),
            (86_400, "1d"),
        ];
        for (secs, expected) in cases {
            assert_eq!(format_age(secs), expected, "{secs} seconds");
        }
    }

    #[test]
    fn missing_spool_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let queued = list_queue(&dir.path().join("spool")).unwrap();
        assert!(queued.is_empty());
        assert_eq!(format_queue(&queued, 0), "0 queued message(s)\n");
    }
}
