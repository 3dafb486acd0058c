//! Tests of the AUTH policy: offer rules, command order, sender ownership
//! and the failure delay table.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ringmail_protocols::smtp::{parse_command, Command, ReversePath};

use super::*;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));

fn delay_settings() -> FailureDelay {
    FailureDelay {
        base_ms: 500,
        max_ms: 8000,
        window: Duration::from_secs(60),
    }
}

#[test]
fn failure_delay_doubles_to_cap() {
    let delay = delay_settings();
    // (failures before this one, expected delay in ms)
    let cases = [
        (0, 0),
        (1, 500),
        (2, 1000),
        (3, 2000),
        (4, 4000),
        (5, 8000),
        (6, 8000),
        (40, 8000),
        (u32::MAX, 8000),
    ];
    for (prior, expected_ms) in cases {
        assert_eq!(
            delay.delay(prior),
            Duration::from_millis(expected_ms),
            "prior failures {prior}"
        );
    }
}

#[test]
fn failure_count_grows_per_ip() {
    let failures = AuthFailures::new();
    let delay = delay_settings();
    let now = Instant::now();
    assert_eq!(failures.record_failure(REMOTE, now, &delay), Duration::ZERO);
    assert_eq!(
        failures.record_failure(REMOTE, now, &delay),
        Duration::from_millis(500)
    );
    assert_eq!(
        failures.record_failure(REMOTE, now, &delay),
        Duration::from_millis(1000)
    );
    // Another IP starts from zero.
    assert_eq!(
        failures.record_failure(LOOPBACK, now, &delay),
        Duration::ZERO
    );
}

#[test]
fn failure_count_decays_after_window() {
    let failures = AuthFailures::new();
    let delay = delay_settings();
    let start = Instant::now();
    failures.record_failure(REMOTE, start, &delay);
    failures.record_failure(REMOTE, start, &delay);

    let later = start + delay.window + Duration::from_secs(1);
    assert_eq!(
        failures.record_failure(REMOTE, later, &delay),
        Duration::ZERO
    );
}

#[test]
fn ipv4_mapped_address_shares_count() {
    let failures = AuthFailures::new();
    let delay = delay_settings();
    let now = Instant::now();
    failures.record_failure(REMOTE, now, &delay);
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(
        failures.record_failure(mapped, now, &delay),
        Duration::from_millis(500)
    );
}

#[test]
fn failure_table_flood_evicts_oldest() {
    let failures = AuthFailures::new();
    let delay = delay_settings();
    let start = Instant::now();
    failures.record_failure(REMOTE, start, &delay);
    for index in 0..AUTH_FAILURE_TRACKED_IPS_MAX as u32 {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + index));
        failures.record_failure(ip, start + Duration::from_millis(1), &delay);
    }
    assert_eq!(failures.tracked_ips(), AUTH_FAILURE_TRACKED_IPS_MAX);
    // REMOTE had the oldest failure, so it was forgotten.
    assert_eq!(
        failures.record_failure(REMOTE, start + Duration::from_millis(2), &delay),
        Duration::ZERO
    );
    assert_eq!(failures.tracked_ips(), AUTH_FAILURE_TRACKED_IPS_MAX);
}

#[test]
fn auth_offer_table() {
    let allow = SubmissionConfig {
        allow_plaintext_auth_loopback: true,
        ..SubmissionConfig::default()
    };
    let deny = SubmissionConfig {
        allow_plaintext_auth_loopback: false,
        ..SubmissionConfig::default()
    };

    // (service, tls, peer, config, offered)
    let cases = [
        (SmtpService::Relay, true, LOOPBACK, &allow, false),
        (SmtpService::Relay, false, LOOPBACK, &allow, false),
        (SmtpService::Submission, true, REMOTE, &deny, true),
        (SmtpService::Submission, false, REMOTE, &allow, false),
        (SmtpService::Submission, false, LOOPBACK, &allow, true),
        (SmtpService::Submission, false, LOOPBACK, &deny, false),
        (
            SmtpService::Submission,
            false,
            "::1".parse().unwrap(),
            &allow,
            true,
        ),
    ];
    for (service, tls, peer, config, offered) in cases {
        assert_eq!(
            auth_offered(service, tls, peer, config),
            offered,
            "{service:?} tls={tls} peer={peer} loopback allowed={}",
            config.allow_plaintext_auth_loopback
        );
    }
}

fn submission_context() -> AuthContext<'static> {
    AuthContext {
        service: SmtpService::Submission,
        tls: false,
        peer: LOOPBACK,
        extended: true,
        auth_user: None,
        in_transaction: false,
    }
}

#[test]
fn auth_command_order_table() {
    let config = SubmissionConfig::default();
    let relay = AuthContext {
        service: SmtpService::Relay,
        ..submission_context()
    };
    let before_ehlo = AuthContext {
        extended: false,
        ..submission_context()
    };
    let twice = AuthContext {
        auth_user: Some("alice"),
        ..submission_context()
    };
    let in_transaction = AuthContext {
        in_transaction: true,
        ..submission_context()
    };
    let remote_plaintext = AuthContext {
        peer: REMOTE,
        ..submission_context()
    };

    // (context, mechanism, expected code, expected text)
    let cases = [
        (&relay, "PLAIN", 503, "not enabled"),
        (&before_ehlo, "PLAIN", 503, "EHLO"),
        (&twice, "PLAIN", 503, "already authenticated"),
        (&in_transaction, "PLAIN", 503, "transaction"),
        (&remote_plaintext, "PLAIN", 538, "encryption required"),
        (&submission_context(), "CRAM-MD5", 504, "unrecognized"),
    ];
    for (context, mechanism, code, text) in cases {
        let reply = check_auth_command(context, &config, mechanism).expect_err(text);
        assert_eq!(reply.code, code, "{text}: {reply:?}");
        assert!(reply.text.contains(text), "{text}: {reply:?}");
    }

    assert_eq!(
        check_auth_command(&submission_context(), &config, "login"),
        Ok(Mechanism::Login)
    );
}

fn reverse_path(line: &str) -> ReversePath<'_> {
    match parse_command(line.as_bytes()) {
        Ok(Command::MailFrom { reverse_path, .. }) => reverse_path,
        other => panic!("not a MAIL command: {other:?}"),
    }
}

#[test]
fn sender_ownership_table() {
    let mut config = Config::default();
    config.delivery.domains = vec!["localhost".to_string(), "example.org".to_string()];

    // (MAIL line, owned by alice)
    let cases = [
        ("MAIL FROM:<alice@localhost>", true),
        ("MAIL FROM:<Alice@EXAMPLE.org>", true),
        ("MAIL FROM:<alice+lists@example.org>", true),
        ("MAIL FROM:<\"alice\"@localhost>", true),
        ("MAIL FROM:<bob@localhost>", false),
        ("MAIL FROM:<alice@example.net>", false),
        ("MAIL FROM:<alicex@localhost>", false),
        ("MAIL FROM:<>", false),
    ];
    for (line, owned) in cases {
        assert_eq!(
            sender_owned_by(&config, "alice", &reverse_path(line)),
            owned,
            "{line}"
        );
    }
}
