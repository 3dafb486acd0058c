//! One IMAP session of the load.
//!
//! In order: connect and greeting, LOGIN, SELECT INBOX, then the steps the
//! mix draws for this session, then LOGOUT:
//!
//! - `fetch`: `FETCH 1:* FLAGS`.
//! - `body`: `FETCH n BODY.PEEK[]` of [`BODY_FETCHES`] random messages.
//! - `store`: `STORE n +FLAGS` or `-FLAGS` with \Seen or \Flagged, on
//!   [`STORES`] random messages.
//! - `append`: APPEND of a generated message with an X-Loadgen-Id and the
//!   [`APPEND_MARKER`] header.
//! - `expunge`: removes one message that carries the marker, by the rule in
//!   the [module documentation of `imap`](super).
//!
//! Every command is recorded under its name with its latency. A NO or BAD
//! counts as an error of that command and the session goes on, except for
//! LOGIN and SELECT, which the rest of the session needs.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::Rng;

use super::client::{write_quoted, Completion, ImapClient};
use super::connection::SessionError;
use super::stats::MailboxStats;
use super::{SessionContext, APPEND_MARKER};
use crate::message::generate_body;

/// Messages whose body one `body` step fetches.
pub const BODY_FETCHES: usize = 3;

/// Messages whose flags one `store` step changes.
pub const STORES: usize = 2;

/// Body size of an appended message in octets: about a short text mail.
pub const APPEND_BODY_LEN: usize = 2048;

/// Keyword set on appended messages. Servers that keep keywords show it in
/// FLAGS, but the expunge rule relies on the header alone, because not every
/// server keeps keywords (Ringmail keeps them only while the mailbox is open).
pub const APPEND_KEYWORD: &str = "$LoadgenAppended";

/// Runs one IMAP session, recording each command into `stats`.
pub async fn run_session(
    mut context: SessionContext<'_>,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    let mut client = open(&context, stats).await?;
    select_inbox(&mut client, stats).await?;

    if context.runs_step("fetch") {
        fetch_flags(&mut client, stats).await?;
    }
    if context.runs_step("body") {
        fetch_bodies(&mut context, &mut client, stats).await?;
    }
    if context.runs_step("store") {
        store_flags(&mut context, &mut client, stats).await?;
    }
    if context.runs_step("append") {
        append(&context, &mut client, stats).await?;
    }
    if context.runs_step("expunge") {
        expunge_one(&mut context, &mut client, stats).await?;
    }

    timed(&mut client, stats, "LOGOUT", b"LOGOUT", "LOGOUT response").await?;
    Ok(())
}

/// Sends `command` and records it under `name`.
async fn timed(
    client: &mut ImapClient,
    stats: &mut MailboxStats,
    name: &'static str,
    command: &[u8],
    waiting_for: &'static str,
) -> Result<Completion, SessionError> {
    let started = Instant::now();
    let completion = client.command(command, waiting_for).await?;
    stats.record_command(name, completion.is_ok(), started.elapsed());
    Ok(completion)
}

/// Connects, reads the greeting and logs in.
async fn open(
    context: &SessionContext<'_>,
    stats: &mut MailboxStats,
) -> Result<ImapClient, SessionError> {
    let started = Instant::now();
    let mut client = ImapClient::connect(context.shared.plan().target).await?;
    stats.connections += 1;
    stats.record_command("CONNECT", true, started.elapsed());

    let mut login = b"LOGIN ".to_vec();
    write_quoted(&context.credentials.user, &mut login);
    login.push(b' ');
    write_quoted(&context.credentials.password, &mut login);
    let completion = timed(&mut client, stats, "LOGIN", &login, "LOGIN response").await?;
    if !completion.is_ok() {
        return Err(SessionError::Rejected {
            step: "login",
            text: completion.text,
        });
    }

    if !client.knows_capabilities() {
        timed(
            &mut client,
            stats,
            "CAPABILITY",
            b"CAPABILITY",
            "CAPABILITY response",
        )
        .await?;
    }
    Ok(client)
}

async fn select_inbox(
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    let completion = timed(client, stats, "SELECT", b"SELECT INBOX", "SELECT response").await?;
    if !completion.is_ok() {
        return Err(SessionError::Rejected {
            step: "select",
            text: completion.text,
        });
    }
    Ok(())
}

async fn fetch_flags(
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    if client.exists == 0 {
        stats.record_skip("fetch: empty mailbox");
        return Ok(());
    }
    timed(
        client,
        stats,
        "FETCH FLAGS",
        b"FETCH 1:* FLAGS",
        "FETCH response",
    )
    .await?;
    Ok(())
}

async fn fetch_bodies(
    context: &mut SessionContext<'_>,
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    for _ in 0..BODY_FETCHES {
        if client.exists == 0 {
            stats.record_skip("body: empty mailbox");
            return Ok(());
        }
        let sequence = context.rng.gen_range(1..=client.exists);
        let command = format!("FETCH {sequence} BODY.PEEK[]");
        timed(
            client,
            stats,
            "FETCH BODY",
            command.as_bytes(),
            "FETCH response",
        )
        .await?;
    }
    Ok(())
}

async fn store_flags(
    context: &mut SessionContext<'_>,
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    for _ in 0..STORES {
        if client.exists == 0 {
            stats.record_skip("store: empty mailbox");
            return Ok(());
        }
        let sequence = context.rng.gen_range(1..=client.exists);
        let sign = if context.rng.gen_bool(0.5) { '+' } else { '-' };
        let flag = ["\\Seen", "\\Flagged"]
            .choose(context.rng)
            .copied()
            .unwrap_or("\\Seen");
        let command = format!("STORE {sequence} {sign}FLAGS ({flag})");
        timed(client, stats, "STORE", command.as_bytes(), "STORE response").await?;
    }
    Ok(())
}

async fn append(
    context: &SessionContext<'_>,
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    let message = append_message(context);
    let arguments = format!("INBOX ({APPEND_KEYWORD})");

    let started = Instant::now();
    let completion = client.append(arguments.as_bytes(), &message).await?;
    stats.record_command("APPEND", completion.is_ok(), started.elapsed());
    Ok(())
}

/// Builds the message that session `context.number` appends.
fn append_message(context: &SessionContext<'_>) -> Vec<u8> {
    let id = format!("{}-imap-{}", context.shared.run_id(), context.number);
    let date = ringmail_engine::time::rfc5322_date(ringmail_engine::time::unix_now());
    let header = format!(
        "From: <loadgen@localhost>\r\n\
         To: <{user}>\r\n\
         Subject: ringmail-loadgen append {id}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id}@loadgen.invalid>\r\n\
         X-Loadgen-Id: {id}\r\n\
         {APPEND_MARKER}\r\n\
         \r\n",
        user = context.credentials.user,
    );
    let mut message = header.into_bytes();
    message.extend_from_slice(&generate_body(APPEND_BODY_LEN));
    message
}

/// Deletes one message that carries [`APPEND_MARKER`], confirmed by reading
/// its header first. See the module documentation of `imap` for the rule.
async fn expunge_one(
    context: &mut SessionContext<'_>,
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<(), SessionError> {
    let search = format!("UID SEARCH HEADER {} imap-append", marker_field());
    let found = timed(
        client,
        stats,
        "SEARCH",
        search.as_bytes(),
        "SEARCH response",
    )
    .await?;
    let Some(&uid) = found.collected.search.choose(context.rng) else {
        stats.record_skip("expunge: no appended message");
        return Ok(());
    };

    let fetch = format!(
        "UID FETCH {uid} (BODY.PEEK[HEADER.FIELDS ({})])",
        marker_field()
    );
    let header = timed(
        client,
        stats,
        "FETCH HEADER",
        fetch.as_bytes(),
        "FETCH response",
    )
    .await?;
    if !header.collected.marker_seen {
        // Another session expunged it meanwhile, or the server's search
        // matched a message without the marker: leave it alone.
        stats.record_skip("expunge: marker not confirmed");
        return Ok(());
    }

    let store = format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)");
    timed(client, stats, "STORE", store.as_bytes(), "STORE response").await?;

    if client.has_capability("UIDPLUS") {
        let expunge = format!("UID EXPUNGE {uid}");
        timed(
            client,
            stats,
            "EXPUNGE",
            expunge.as_bytes(),
            "EXPUNGE response",
        )
        .await?;
        return Ok(());
    }

    // Without UIDPLUS, EXPUNGE removes every message with \Deleted, so it
    // runs only when every message with \Deleted carries the marker. The
    // SEARCH finds candidates without it, and their headers are read again,
    // because a search may match a message that another session just
    // expunged. Messages that are gone return no FETCH response.
    // NOTE: another client can set \Deleted between these checks and the
    // EXPUNGE; only UID EXPUNGE closes that window.
    if has_foreign_deleted(client, stats).await? {
        let undo = format!("UID STORE {uid} -FLAGS.SILENT (\\Deleted)");
        timed(client, stats, "STORE", undo.as_bytes(), "STORE response").await?;
        stats.record_skip("expunge: other messages marked deleted");
        return Ok(());
    }
    timed(client, stats, "EXPUNGE", b"EXPUNGE", "EXPUNGE response").await?;
    Ok(())
}

/// Returns whether a message without [`APPEND_MARKER`] has \Deleted, or
/// whether that could not be checked.
async fn has_foreign_deleted(
    client: &mut ImapClient,
    stats: &mut MailboxStats,
) -> Result<bool, SessionError> {
    let search = format!(
        "UID SEARCH DELETED NOT HEADER {} imap-append",
        marker_field()
    );
    let found = timed(
        client,
        stats,
        "SEARCH",
        search.as_bytes(),
        "SEARCH response",
    )
    .await?;
    if !found.is_ok() {
        return Ok(true);
    }
    if found.collected.search.is_empty() {
        return Ok(false);
    }

    let uids: Vec<String> = found.collected.search.iter().map(u32::to_string).collect();
    let fetch = format!(
        "UID FETCH {} (BODY.PEEK[HEADER.FIELDS ({})])",
        uids.join(","),
        marker_field()
    );
    let headers = timed(
        client,
        stats,
        "FETCH HEADER",
        fetch.as_bytes(),
        "FETCH response",
    )
    .await?;
    Ok(
        !headers.is_ok()
            || headers.collected.literal_responses > headers.collected.marker_responses,
    )
}

/// Returns the field name of [`APPEND_MARKER`].
fn marker_field() -> &'static str {
    APPEND_MARKER
        .split_once(':')
        .map_or(APPEND_MARKER, |(name, _)| name)
}
