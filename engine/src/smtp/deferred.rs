//! Messages that the session hands to the spool instead of a Maildir:
//! [`spool_message`] appends the whole envelope and message to the worker's
//! spool and, once the append is durable, returns the 250 reply for the
//! session to send. The queue runner then delivers it.
//!
//! Two cases take this path ([`SpoolReason`]): a message with a remote recipient
//! (relay for an authenticated client), and a local delivery whose Maildir
//! write failed. Without a spool on this worker, or when the append fails
//! too, it returns `None` and the session replies 451, so the client retries.

use ringmail_protocols::smtp::{EnhancedStatus, Reply};

use crate::envelope::Envelope;
use crate::spool;

/// The reason a message goes to the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SpoolReason {
    /// At least one recipient is on another server.
    Relay,
    /// Writing into a local Maildir failed; the runner retries it later.
    LocalDeliveryFailed,
}

/// Appends the message to this worker's spool and returns
/// `250 2.0.0 Ok: queued as <id>` once the append is synced, or `None` when
/// there is no spool or the append failed.
pub(super) async fn spool_message(
    envelope: &Envelope,
    message: &[u8],
    reason: SpoolReason,
) -> Option<Reply> {
    let queue_id = envelope.queue_id.as_str();
    let Some(spool) = spool::current() else {
        tracing::error!(peer = %envelope.peer, queue_id, "no spool on this worker");
        return None;
    };

    match spool.append(envelope, message).await {
        Ok(record) => {
            if reason == SpoolReason::LocalDeliveryFailed {
                // The session's attempt counts as the first one, so the
                // runner waits `retry_min_secs` before trying again.
                spool.count_failed_attempt(record);
            }
            tracing::info!(peer = %envelope.peer, queue_id, %record, size = message.len(), reason = ?reason, "message queued in the spool");
            let status = EnhancedStatus {
                class: 2,
                subject: 0,
                detail: 0,
            };
            Some(Reply::new(
                250,
                Some(status),
                format!("Ok: queued as {queue_id}"),
            ))
        }
        Err(error) => {
            tracing::error!(peer = %envelope.peer, queue_id, %error, "spool append failed");
            None
        }
    }
}
