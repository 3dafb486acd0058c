//! Deferred local delivery. When writing an accepted message into a Maildir
//! fails, [`spool_failed_delivery`] appends it to the worker's spool, where
//! the queue runner retries it. Once the append is durable it returns the 250
//! reply for the session to send.
//!
//! Without a spool on this worker, or when the append fails too, it returns
//! `None` and the session answers 451 as before, so the client retries.

use std::net::SocketAddr;

use ringmail_protocols::smtp::{EnhancedStatus, Reply};

use crate::envelope::{BodyType, Destination, Envelope, EnvelopeRecipient};
use crate::spool;

/// The parts of a failed local delivery that the spool record needs.
pub(super) struct FailedDelivery<'a> {
    pub queue_id: &'a str,
    pub reverse_path: &'a str,
    /// `(address, local user)` of each accepted recipient.
    pub recipients: Vec<(&'a str, &'a str)>,
    pub peer: SocketAddr,
    pub helo: &'a str,
}

/// Appends the message to this worker's spool and returns
/// `250 2.0.0 Ok: queued as <id>` once the append is synced, or `None` when
/// there is no spool or the append failed.
pub(super) async fn spool_failed_delivery(
    failed: FailedDelivery<'_>,
    message: &[u8],
) -> Option<Reply> {
    let spool = spool::current()?;
    let envelope = Envelope {
        queue_id: failed.queue_id.to_string(),
        reverse_path: failed.reverse_path.to_string(),
        recipients: failed
            .recipients
            .iter()
            .map(|(address, user)| EnvelopeRecipient {
                address: address.to_string(),
                destination: Destination::Local {
                    user: user.to_string(),
                },
                notify: None,
                orcpt: None,
            })
            .collect(),
        body: BodyType::SevenBit,
        smtputf8: false,
        requiretls: false,
        ret: None,
        envid: None,
        auth_user: None,
        peer: failed.peer,
        helo: failed.helo.to_string(),
        received_unix_secs: u64::try_from(crate::time::unix_now()).unwrap_or(0),
    };

    match spool.append(&envelope, message).await {
        Ok(record) => {
            spool.count_failed_attempt(record);
            tracing::info!(peer = %failed.peer, queue_id = failed.queue_id, %record, size = message.len(), "local delivery deferred to the spool");
            let status = EnhancedStatus {
                class: 2,
                subject: 0,
                detail: 0,
            };
            Some(Reply::new(
                250,
                Some(status),
                format!("Ok: queued as {}", failed.queue_id),
            ))
        }
        Err(error) => {
            tracing::error!(peer = %failed.peer, queue_id = failed.queue_id, %error, "spool append failed");
            None
        }
    }
}
