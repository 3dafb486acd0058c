//! Postfix's SMTP client relays into Ringmail.
//!
//! A private Postfix on loopback has `relayhost = [127.0.0.1]:PORT`, pointing
//! at Ringmail's relay port, and must encrypt (`smtp_tls_security_level =
//! encrypt`). A message submitted to Postfix over SMTP must reach the local
//! user's Maildir through Ringmail, and both sides must show that the hop
//! used TLS: Postfix logs the TLS session and Ringmail's Received header says
//! ESMTPS.
//!
//! Postfix 3.7's SMTP client never sends BDAT (only its server offers
//! CHUNKING), so BDAT interop is shown with Perl's Net::SMTP in
//! tests/perl_bdat.rs.

mod common;

use common::postfix::{self, Postfix};
use common::{read_stored, Server};

/// Time for Postfix to queue, relay and get Ringmail's 250.
const RELAY_TIMEOUT_MS: u64 = 60_000;

fn skip_reason() -> Option<String> {
    postfix::unavailable_reason()
}

#[test]
fn postfix_relays_into_ringmail_over_starttls() {
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let server = Server::start(&[("alice", "secret")]);
    let postfix = Postfix::start(&format!(
        "relayhost = [127.0.0.1]:{}\nsmtp_tls_security_level = encrypt\nsmtp_tls_loglevel = 1\n",
        server.smtp_port
    ));

    let message = b"From: bob@postfix-interop.test\r\nTo: alice@localhost\r\nSubject: relayed by postfix\r\nMessage-ID: <relay-1@postfix-interop.test>\r\n\r\nHello through Postfix.\r\n";
    let (mut client, greeting) = common::SmtpClient::connect(postfix.smtp_port);
    assert_eq!(greeting.code, 220, "postfix greeting: {greeting}");
    client.ehlo("client.test");
    let reply = client.transaction("bob@postfix-interop.test", &["alice@localhost"], message);
    assert_eq!(reply.code, 250, "postfix end of data: {reply}");
    client.quit();

    let log = postfix
        .wait_log("status=sent", RELAY_TIMEOUT_MS)
        .unwrap_or_else(|| {
            panic!(
                "postfix did not relay within {RELAY_TIMEOUT_MS} ms; log:\n{}",
                postfix.log()
            )
        });
    assert!(
        log.contains("TLS connection established to 127.0.0.1"),
        "postfix log shows no TLS session:\n{log}"
    );
    assert!(
        log.contains("relay=127.0.0.1[127.0.0.1]") && log.contains("Ok: delivered as"),
        "postfix log shows no delivery to Ringmail:\n{log}"
    );

    let files = server.maildir_files("alice");
    assert_eq!(files.len(), 1, "alice's Maildir: {files:?}");
    let stored = String::from_utf8(read_stored(&files[0])).expect("stored message is UTF-8");
    let received = stored.split("\r\n\r\n").next().unwrap_or_default();
    assert!(
        received.contains("with ESMTPS"),
        "Ringmail's Received header does not show TLS:\n{received}"
    );
    assert!(
        stored.contains("Subject: relayed by postfix")
            && stored.ends_with("Hello through Postfix.\r\n"),
        "stored message:\n{stored}"
    );
}
