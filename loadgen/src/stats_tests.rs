use super::*;

fn info() -> RunInfo {
    RunInfo {
        run_id: "abcd".into(),
        target: "127.0.0.1:2525".into(),
        connections: 2,
        workers: 1,
        pipelining: false,
        body_bytes: 100,
        content: "fixed 100".into(),
        bdat_chunk_bytes: None,
        starttls: false,
        implicit_tls: false,
        rcpts: 1,
        rate: None,
    }
}

#[test]
fn merge_adds_counts_and_histograms() {
    let mut first = Stats::new();
    first.sent = 3;
    first.record_message(250, 1000, Duration::from_millis(2));
    first.record_message(550, 1000, Duration::from_millis(1));
    first.record_connect(Duration::from_micros(300));

    let mut second = Stats::new();
    second.sent = 2;
    second.record_message(250, 500, Duration::from_millis(4));
    second.record_message(550, 500, Duration::from_millis(1));
    second.record_message(451, 500, Duration::from_millis(1));
    second.record_rcpt_rejected(550);
    second.record_connection_error("closed", || "connection closed".to_string());

    first.merge(&second);
    assert_eq!(first.sent, 5);
    assert_eq!(first.accepted, 2);
    assert_eq!(first.accepted_bytes, 1500);
    assert_eq!(first.rejected.get(&550), Some(&2));
    assert_eq!(first.rejected.get(&451), Some(&1));
    assert_eq!(first.rcpts_rejected.get(&550), Some(&1));
    assert_eq!(first.connection_error_count(), 1);
    assert_eq!(
        first.connection_error_examples["closed"],
        "connection closed"
    );
    assert_eq!(first.message_us.len(), 5);
    assert_eq!(first.connect_us.len(), 1);
}

#[test]
fn latency_past_max_is_clamped() {
    let mut stats = Stats::new();
    stats.record_message(250, 1, Duration::from_secs(10 * 3600));
    assert_eq!(stats.message_us.len(), 1);
    assert!(stats.message_us.max() >= LATENCY_US_MAX);
}

#[test]
fn report_text_lists_rejections_by_code() {
    let mut stats = Stats::new();
    stats.sent = 4;
    stats.record_message(250, 1_000_000, Duration::from_millis(3));
    stats.record_message(550, 10, Duration::from_millis(1));
    stats.record_message(550, 10, Duration::from_millis(1));
    stats.record_message(451, 10, Duration::from_millis(1));
    stats.record_rcpt_rejected(550);

    let report = Report::new(info(), &stats, Duration::from_secs(2));
    let text = report.to_text();
    assert!(text.contains("messages sent: 4\n"), "{text}");
    assert!(text.contains("accepted: 1\n"), "{text}");
    assert!(text.contains("rejected: 3\n  451: 1\n  550: 2\n"), "{text}");
    assert!(
        text.contains("recipients rejected: 1\n  550: 1\n"),
        "{text}"
    );
    assert!(
        text.contains("throughput: 0.5 msg/s, 0.500 MB/s\n"),
        "{text}"
    );
}

#[test]
fn report_json_has_same_figures() {
    let mut stats = Stats::new();
    stats.sent = 1;
    stats.record_message(550, 10, Duration::from_millis(1));
    let report = Report::new(info(), &stats, Duration::from_secs(1));

    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["messages_sent"], 1);
    assert_eq!(json["accepted"], 0);
    assert_eq!(json["rejected"]["550"], 1);
    assert_eq!(json["message_ms"]["count"], 1);
    assert!(json["message_ms"]["p99.9"].as_f64().unwrap() > 0.9);
}

#[test]
fn report_of_empty_run_has_zero_rates() {
    let report = Report::new(info(), &Stats::new(), Duration::ZERO);
    assert_eq!(report.msgs_per_sec, 0.0);
    assert_eq!(report.message_ms.count, 0);
}

#[test]
fn open_loop_report_has_lag_and_session() {
    let mut stats = Stats::new();
    stats.sent = 10;
    stats.record_message(250, 100, Duration::from_millis(2));
    stats.record_lag(Duration::from_millis(7));
    stats.record_lag(Duration::from_micros(10));
    stats.record_session(Duration::from_millis(30));
    let mut info = info();
    info.rate = Some(5.0);

    let report = Report::new(info, &stats, Duration::from_secs(2));
    let text = report.to_text();
    assert!(
        text.contains("rate: target 5.0 msg/s, achieved 5.0 msg/s, max lag 7.00"),
        "{text}"
    );
    assert!(text.contains("\nsession "), "{text}");
    assert!(text.contains("\nlag "), "{text}");

    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert_eq!(json["schedule"]["target_rate"], 5.0);
    assert_eq!(json["schedule"]["lag_ms"]["count"], 2);
    assert_eq!(json["session_ms"]["count"], 1);
}

#[test]
fn closed_loop_report_has_no_schedule() {
    let report = Report::new(info(), &Stats::new(), Duration::from_secs(1));
    assert!(report.schedule.is_none());
    assert!(!report.to_text().contains("rate: target"));
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    assert!(json["schedule"].is_null());
}
