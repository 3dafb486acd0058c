//! Connection limits of the SMTP receiver and the pre-greeting talker check.
//!
//! [`ConnectionCounter`] counts open SMTP connections across all workers, in
//! total and per client IP. [`ConnectionCounter::admit`] runs once at accept
//! and returns a [`ConnectionPermit`] whose `Drop` releases both counts,
//! however the session ends (QUIT, error, timeout, shutdown or a panic).
//! A connection over a limit gets [`reject_connection`]: one
//! `421 4.7.0 too many connections` reply and a close, before the greeting.
//!
//! Why each limit exists:
//! - `connections_max` bounds the file descriptors and buffers that SMTP
//!   sessions hold (each has at least a 16 KiB input buffer), so a flood of
//!   connections cannot starve IMAP or the Maildir writes of descriptors.
//! - `connections_per_ip_max` keeps one client from taking every slot of
//!   `connections_max`.
//! - `messages_per_connection_max` (checked in the session at MAIL) bounds
//!   the work one connection can queue, and makes a runaway client reconnect
//!   and pass the accept-time checks again.
//!
//! RFC 5321 section 4.3.1 requires the client to wait for the 220 greeting
//! before sending anything. Spam software often sends at once to save a
//! round trip. [`client_talked_first`] waits `greet_pause_ms` on the worker's
//! timer and then peeks at the socket without blocking to catch such a client.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringmail_protocols::smtp::{EnhancedStatus, Reply};

use crate::connection::Connection;
use crate::runtime::{self, net::TcpStream};
use crate::server::Shutdown;

/// Counts of open SMTP connections, shared by every worker.
pub struct ConnectionCounter {
    connections_max: usize,
    connections_per_ip_max: u32,
    /// Open connections on every worker together.
    total: AtomicUsize,
    /// Open connections per client IP. An IP leaves the map when its count
    /// drops to 0, so the map has at most `connections_max` entries.
    // NOTE: the lock is taken once at accept and once at close, never per
    // command, so contention grows with the connection rate only.
    per_ip: Mutex<HashMap<IpAddr, u32>>,
}

/// Reason for rejecting a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// `connections_max` connections are already open.
    TooManyConnections { open: usize, max: usize },
    /// `connections_per_ip_max` connections from `ip` are already open.
    TooManyFromIp { ip: IpAddr, open: u32, max: u32 },
}

/// One admitted connection. Dropping it releases its slot in the total and
/// in its IP's count.
pub struct ConnectionPermit {
    counter: Arc<ConnectionCounter>,
    ip: IpAddr,
}

impl ConnectionCounter {
    /// Creates a counter with no open connections.
    pub fn new(connections_max: usize, connections_per_ip_max: u32) -> Self {
        assert!(connections_max > 0, "connections_max must be positive");
        assert!(
            connections_per_ip_max > 0,
            "connections_per_ip_max must be positive"
        );
        ConnectionCounter {
            connections_max,
            connections_per_ip_max,
            total: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
        }
    }

    /// Counts a new connection from `ip`, or returns which limit it is over.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnectionPermit, Rejection> {
        let ip = ip.to_canonical();

        let open = self.total.fetch_add(1, Ordering::AcqRel);
        if open >= self.connections_max {
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejection::TooManyConnections {
                open,
                max: self.connections_max,
            });
        }

        let mut per_ip = self.lock_per_ip();
        let count = per_ip.entry(ip).or_insert(0);
        if *count >= self.connections_per_ip_max {
            let open = *count;
            drop(per_ip);
            self.total.fetch_sub(1, Ordering::AcqRel);
            return Err(Rejection::TooManyFromIp {
                ip,
                open,
                max: self.connections_per_ip_max,
            });
        }
        *count += 1;

        Ok(ConnectionPermit {
            counter: self.clone(),
            ip,
        })
    }

    /// Returns the number of open connections on all workers.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// Returns the number of open connections from `ip`.
    pub fn open_from(&self, ip: IpAddr) -> u32 {
        let ip = ip.to_canonical();
        self.lock_per_ip().get(&ip).copied().unwrap_or(0)
    }

    /// Locks the per-IP map. A panic while it was held cannot leave a count
    /// half-changed, because each change is one statement, so a poisoned lock
    /// is still used.
    fn lock_per_ip(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, u32>> {
        self.per_ip
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut per_ip = self.counter.lock_per_ip();
        if let Some(count) = per_ip.get_mut(&self.ip) {
            debug_assert!(*count > 0, "per-IP count of an admitted IP is positive");
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
        drop(per_ip);
        self.counter.total.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Rejection {
    /// Returns the reply sent before closing. It carries its enhanced status
    /// code even though no EHLO came first, because it is the only reply the
    /// client gets.
    pub fn reply(&self) -> Reply {
        let text = match self {
            Rejection::TooManyConnections { .. } => {
                "too many connections, try again later".to_string()
            }
            Rejection::TooManyFromIp { ip, .. } => {
                format!("too many connections from {ip}, try again later")
            }
        };
        Reply::new(421, status_4_7_0(), text)
    }
}

fn status_4_7_0() -> Option<EnhancedStatus> {
    Some(EnhancedStatus {
        class: 4,
        subject: 7,
        detail: 0,
    })
}

/// Sends the 421 of `rejection` on `stream` and closes it. The session task
/// runs nothing else for this connection.
pub async fn reject_connection(stream: TcpStream, peer: SocketAddr, rejection: Rejection) {
    match rejection {
        Rejection::TooManyConnections { open, max } => {
            tracing::warn!(%peer, open, connections_max = max, "smtp connection rejected: too many connections");
        }
        Rejection::TooManyFromIp { open, max, .. } => {
            tracing::warn!(%peer, open, connections_per_ip_max = max, "smtp connection rejected: too many connections from this ip");
        }
    }
    // NOTE: each rejected connection logs one line, with no rate limit, so a
    // connection flood also floods the log.

    let reply = rejection.reply().to_bytes(true);
    let (result, _) = stream.write_all(reply).await;
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "sending the 421 to a rejected connection failed");
    }
    let _ = stream.shutdown_write();
}

/// Waits `greet_pause` (cut short when shutdown begins), then returns whether
/// the client sent bytes before the greeting.
///
/// The check runs also with a zero pause, to catch a client that sent its
/// EHLO in the same packets as the handshake.
pub async fn client_talked_first(
    connection: &Connection,
    greet_pause: Duration,
    shutdown: &mut Shutdown,
) -> io::Result<bool> {
    if !greet_pause.is_zero() {
        tokio::select! {
            _ = runtime::sleep(greet_pause) => {}
            _ = shutdown.started() => {}
        }
    }
    connection.has_pending_input()
}

/// Returns the `554 5.5.0` reply to a client that talked before the greeting.
pub fn talked_first_reply() -> Reply {
    Reply::new(
        554,
        Some(EnhancedStatus {
            class: 5,
            subject: 5,
            detail: 0,
        }),
        "protocol error: talked before the greeting",
    )
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    const CLIENT_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
    const CLIENT_B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn per_ip_flood_is_rejected_and_released() {
        let counter = Arc::new(ConnectionCounter::new(100, 2));
        let first = counter.admit(CLIENT_A).expect("first connection");
        let _second = counter.admit(CLIENT_A).expect("second connection");

        let rejected = counter.admit(CLIENT_A).err();
        assert_eq!(
            rejected,
            Some(Rejection::TooManyFromIp {
                ip: CLIENT_A,
                open: 2,
                max: 2
            })
        );
        assert_eq!(counter.open(), 2, "a rejected connection holds no slot");
        assert!(counter.admit(CLIENT_B).is_ok(), "another IP is not limited");

        drop(first);
        assert_eq!(counter.open_from(CLIENT_A), 1);
        assert!(counter.admit(CLIENT_A).is_ok(), "released slot is reused");
    }

    #[test]
    fn total_flood_is_rejected_and_released() {
        let counter = Arc::new(ConnectionCounter::new(2, 100));
        let first = counter.admit(CLIENT_A).expect("first connection");
        let _second = counter.admit(CLIENT_B).expect("second connection");

        let rejected = counter.admit(CLIENT_A).err();
        assert_eq!(
            rejected,
            Some(Rejection::TooManyConnections { open: 2, max: 2 })
        );
        assert_eq!(
            counter.open_from(CLIENT_A),
            1,
            "rejection left the IP count"
        );

        drop(first);
        assert_eq!(counter.open(), 1);
        assert!(counter.admit(CLIENT_A).is_ok(), "released slot is reused");
    }

    #[test]
    fn idle_ip_leaves_the_map() {
        let counter = Arc::new(ConnectionCounter::new(10, 10));
        drop(counter.admit(CLIENT_A).unwrap());
        assert_eq!(counter.open(), 0);
        assert!(counter.lock_per_ip().is_empty(), "map keeps an idle IP");
    }

    #[test]
    fn ipv4_mapped_ipv6_counts_as_ipv4() {
        let counter = Arc::new(ConnectionCounter::new(10, 1));
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 1).to_ipv6_mapped());
        let _permit = counter.admit(CLIENT_A).unwrap();
        assert!(
            counter.admit(mapped).is_err(),
            "mapped address evades limit"
        );
        assert!(counter.admit(IpAddr::V6(Ipv6Addr::LOCALHOST)).is_ok());
    }

    #[test]
    fn rejection_replies_are_421_4_7_0() {
        let cases = [
            (
                Rejection::TooManyConnections { open: 3, max: 3 },
                "421 4.7.0 too many connections, try again later\r\n",
            ),
            (
                Rejection::TooManyFromIp {
                    ip: CLIENT_A,
                    open: 2,
                    max: 2,
                },
                "421 4.7.0 too many connections from 192.0.2.1, try again later\r\n",
            ),
        ];
        for (rejection, expected) in cases {
            let wire = rejection.reply().to_bytes(true);
            assert_eq!(String::from_utf8_lossy(&wire), expected, "{rejection:?}");
        }
    }

    #[test]
    fn talker_reply_is_554_5_5_0() {
        let wire = talked_first_reply().to_bytes(true);
        assert_eq!(
            String::from_utf8_lossy(&wire),
            "554 5.5.0 protocol error: talked before the greeting\r\n"
        );
    }
}
