//! The queue runner: [`run_queue`] delivers one worker's spooled messages.
//!
//! Local recipients go to their Maildir through [`crate::mailstore::deliver`],
//! one call per user, so one broken mailbox does not hold back the others.
//! Each delivered recipient gets a done mark only after its copy is durable,
//! so a crash between the two delivers that recipient again (an in-flight
//! duplicate) instead of losing it. Remote recipients wait for relay support and
//! stay queued on the same retry schedule.
//!
//! A message that still has recipients left is retried after
//! `retry_min_secs`, doubling per attempt up to `retry_max_secs`.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{segment_path, QueuedMessage, RecordId, Spool};
use crate::envelope::Destination;
use crate::mailstore::{self, Delivery, MailStore};
use crate::runtime::{self, fs::File};
use crate::server::Shutdown;

/// Maximum time the runner sleeps with nothing due, so a clock jump or a
/// missed wake-up delays delivery by at most this much.
const IDLE_WAIT_MAX: Duration = Duration::from_secs(60);

/// Runs the queue of `spool` until shutdown: delivers due messages, records
/// progress, and deletes finished segments.
pub async fn run_queue(spool: Rc<Spool>, store: MailStore, mut shutdown: Shutdown) {
    loop {
        run_due(&spool, &store).await;
        if let Err(error) = spool.recycle().await {
            tracing::error!(worker = spool.worker, %error, "spool segment recycling failed");
        }

        let now = Instant::now();
        let wait = spool
            .next_attempt()
            .map_or(IDLE_WAIT_MAX, |next| next.saturating_duration_since(now))
            .min(IDLE_WAIT_MAX);
        tokio::select! {
            _ = runtime::sleep(wait) => {}
            _ = spool.runner_wake.notified() => {}
            _ = shutdown.started() => return,
        }
    }
}

/// Makes one delivery attempt for every message due now.
pub(super) async fn run_due(spool: &Spool, store: &MailStore) {
    for id in spool.due(Instant::now()) {
        let (message, users) = {
            let queue = spool.queue.borrow();
            let Some(message) = queue.get(&id) else {
                continue;
            };
            let users = pending_local_users(message);
            // Only a message with local recipients left needs a copy for the
            // attempt. The others just move to their next retry.
            let copy = (!users.is_empty()).then(|| message.clone());
            (copy, users)
        };
        let delivered = match message {
            Some(message) => attempt(spool, store, &message, users).await,
            None => Vec::new(),
        };
        update_after_attempt(spool, id, &delivered);
    }
}

/// Delivers `message` to `users`, its local users with recipients not done,
/// and returns the recipient indexes that are now done.
async fn attempt(
    spool: &Spool,
    store: &MailStore,
    message: &QueuedMessage,
    users: Vec<(String, Vec<u32>)>,
) -> Vec<u32> {
    let mut delivered = Vec::new();
    let bytes = match read_message(spool, message).await {
        Ok(mut bytes) => {
            // The record contains the message as received, with CRLF, and
            // Maildir files use LF.
            mailstore::line_ends::to_lf_in_place(&mut bytes);
            Rc::<[u8]>::from(bytes)
        }
        Err(error) => {
            tracing::error!(queue_id = message.envelope.queue_id, record = %message.id, %error, "cannot read spooled message");
            return delivered;
        }
    };

    let folder = message.envelope.local_folder.as_deref();
    for (user, indexes) in users {
        match deliver_to_user(store, &user, folder, bytes.clone()).await {
            Ok(()) => match spool.mark_done(message.id, &indexes).await {
                Ok(()) => {
                    tracing::info!(
                        queue_id = message.envelope.queue_id,
                        user,
                        "spooled message delivered"
                    );
                    delivered.extend(indexes);
                }
                Err(error) => {
                    // The copy is in the Maildir but the mark is not durable:
                    // a restart delivers it again.
                    tracing::error!(queue_id = message.envelope.queue_id, user, %error, "cannot record spool delivery progress");
                    delivered.extend(indexes);
                }
            },
            Err(error) => {
                tracing::warn!(queue_id = message.envelope.queue_id, user, attempts = message.attempts + 1, %error, "spooled local delivery failed, will retry");
            }
        }
    }
    delivered
}

/// Returns each local user with recipients not done, and their indexes.
fn pending_local_users(message: &QueuedMessage) -> Vec<(String, Vec<u32>)> {
    let mut users: Vec<(String, Vec<u32>)> = Vec::new();
    for (index, recipient) in message.envelope.recipients.iter().enumerate() {
        if message.done[index] {
            continue;
        }
        let Destination::Local { user } = &recipient.destination else {
            continue;
        };
        match users.iter_mut().find(|(known, _)| known == user) {
            Some((_, indexes)) => indexes.push(index as u32),
            None => users.push((user.clone(), vec![index as u32])),
        }
    }
    users
}

/// Delivers `bytes` to `user`'s `folder`, created when missing, or to INBOX.
async fn deliver_to_user(
    store: &MailStore,
    user: &str,
    folder: Option<&str>,
    bytes: Rc<[u8]>,
) -> io::Result<()> {
    let maildir = match folder {
        None => store.ensure_maildir(user)?,
        Some(name) => store.ensure_folder(user, name.as_bytes())?,
    };
    mailstore::deliver(&[Delivery { maildir }], bytes).await?;
    Ok(())
}

/// Reads the message bytes of a queued record back from its segment.
async fn read_message(spool: &Spool, message: &QueuedMessage) -> io::Result<Vec<u8>> {
    let path = segment_path(&spool.spool_dir, message.id.segment);
    let file = File::open(&path).await?;
    let len = message.message_len as usize;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let pos = message.message_offset + buf.len() as u64;
        let before = buf.len();
        let (result, returned) = file.read_at(buf, pos).await;
        buf = returned;
        result?;
        if buf.len() == before {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "spool segment {} ends inside record {}",
                    path.display(),
                    message.id
                ),
            ));
        }
    }
    buf.truncate(len);
    file.close().await?;
    Ok(buf)
}

/// Records the recipients delivered in an attempt, and either finishes the
/// message or schedules its next attempt.
fn update_after_attempt(spool: &Spool, id: RecordId, delivered: &[u32]) {
    let finished = {
        let mut queue = spool.queue.borrow_mut();
        let Some(message) = queue.get_mut(&id) else {
            return;
        };
        for index in delivered {
            message.done[*index as usize] = true;
        }
        if message.is_done() {
            true
        } else {
            schedule_retry(spool, message);
            false
        }
    };
    if finished {
        spool.finish(id);
    }
}

fn schedule_retry(spool: &Spool, message: &mut QueuedMessage) {
    message.attempts += 1;
    let delay = spool.retry_delay(message.attempts);
    spool.reschedule(message, Instant::now() + delay);

    let has_remote = message
        .envelope
        .recipients
        .iter()
        .zip(&message.done)
        .any(|(recipient, done)| !done && recipient.destination == Destination::Remote);
    if has_remote && !message.remote_logged {
        message.remote_logged = true;
        // One info line per worker tells the operator why remote mail
        // stays. A line per message at that level would cost a loaded relay
        // a log write per message and tell nothing new.
        if spool.remote_notice_logged.replace(true) {
            tracing::debug!(queue_id = message.envelope.queue_id, record = %message.id, "remote delivery not available yet, message stays queued");
        } else {
            tracing::info!(worker = spool.worker, queue_id = message.envelope.queue_id, record = %message.id, "remote delivery not available yet: messages for remote recipients stay queued (`ringmail queue list` shows them); later ones are logged at debug level");
        }
    }

    let now_secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| now.as_secs());
    let age_secs = now_secs.saturating_sub(message.envelope.received_unix_secs);
    if age_secs >= spool.config.bounce_after_secs && !message.bounce_logged {
        message.bounce_logged = true;
        // TODO: send a DSN bounce and mark the recipients done; bounces come
        // with relay support. Until then the message is retried for ever.
        tracing::warn!(
            queue_id = message.envelope.queue_id,
            age_secs,
            "spooled message is past bounce_after_secs, bounce not implemented yet"
        );
    }
    tracing::debug!(
        queue_id = message.envelope.queue_id,
        attempts = message.attempts,
        delay_secs = delay.as_secs(),
        "spooled message scheduled for retry"
    );
}
