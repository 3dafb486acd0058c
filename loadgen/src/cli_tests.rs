use clap::Parser;

use super::*;

fn plan(args: &[&str]) -> Result<SmtpPlan, UsageError> {
    let mut argv = vec!["ringmail-loadgen", "smtp", "--target", "127.0.0.1:2525"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).expect("arguments parse");
    match cli.command {
        Command::Smtp(args) => args.validate(),
        other => panic!("expected the smtp subcommand, got {other:?}"),
    }
}

#[test]
fn defaults_match_help() {
    let plan = plan(&[]).unwrap();
    assert_eq!(plan.target, "127.0.0.1:2525".parse().unwrap());
    assert_eq!(plan.connections, 10);
    assert_eq!(plan.amount, Amount::Messages(1000));
    assert!(matches!(
        plan.modes.content,
        crate::content::Content::Fixed { body_len: 4096 }
    ));
    assert_eq!(plan.rcpts, 1);
    assert_eq!(plan.per_connection, 100);
    assert!(!plan.pipelining);
    assert_eq!(plan.from.as_str(), "loadgen@localhost");
    assert_eq!(plan.to.len(), 1);
    assert_eq!(plan.to[0].as_str(), "postmaster@localhost");
    assert!(plan.workers >= 1);
}

#[test]
fn rcpts_default_to_number_of_to() {
    let plan = plan(&["--to", "a@localhost", "--to", "b@localhost"]).unwrap();
    assert_eq!(plan.rcpts, 2);
}

#[test]
fn workers_capped_by_connections() {
    let plan = plan(&["--connections", "2", "--workers", "8"]).unwrap();
    assert_eq!(plan.workers, 2);
}

#[test]
fn duration_replaces_messages() {
    let plan = plan(&["--duration", "5"]).unwrap();
    assert_eq!(plan.amount, Amount::Duration(Duration::from_secs(5)));
}

#[test]
fn invalid_argument_table() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--connections", "0"],
            "invalid --connections 0: must be from 1 to 20000",
        ),
        (&["--connections", "20001"], "invalid --connections 20001"),
        (&["--messages", "0"], "invalid --messages 0"),
        (&["--duration", "0"], "invalid --duration 0"),
        (&["--duration", "86401"], "invalid --duration 86401"),
        (&["--size", "1"], "invalid --size 1"),
        (&["--size", "67108865"], "invalid --size 67108865"),
        (&["--rcpts", "0"], "invalid --rcpts 0"),
        (&["--rcpts", "1001"], "invalid --rcpts 1001"),
        (
            &["--rcpts", "1", "--to", "a@x", "--to", "b@x"],
            "fewer than the 2 --to addresses",
        ),
        (&["--per-connection", "0"], "invalid --per-connection 0"),
        (&["--workers", "0"], "invalid --workers 0"),
        (
            &["--from", "a b@x"],
            "invalid --from \"a b@x\": address contains the invalid byte 0x20",
        ),
        (&["--to", ""], "invalid --to \"\": address is empty"),
    ];

    for (args, expected) in cases {
        let error = plan(args).expect_err("arguments are rejected");
        assert!(error.0.contains(expected), "args {args:?}: {error}");
    }
}

#[test]
fn target_without_port_rejected() {
    let cli = Cli::try_parse_from(["ringmail-loadgen", "smtp", "--target", "127.0.0.1"]).unwrap();
    let Command::Smtp(args) = cli.command else {
        panic!("expected the smtp subcommand");
    };
    let error = args.validate().expect_err("target needs a port");
    assert!(
        error.0.starts_with("invalid --target \"127.0.0.1\""),
        "{error}"
    );
}

#[test]
fn messages_and_duration_conflict() {
    let result = Cli::try_parse_from([
        "ringmail-loadgen",
        "smtp",
        "--target",
        "127.0.0.1:25",
        "--messages",
        "5",
        "--duration",
        "5",
    ]);
    assert!(result.is_err());
}

#[test]
fn mode_defaults_are_closed_loop_data() {
    let plan = plan(&[]).unwrap();
    assert_eq!(plan.modes.rate, None);
    assert_eq!(plan.modes.bdat_chunk_len, None);
    assert!(!plan.modes.starttls);
    assert!(!plan.modes.implicit_tls);
}

#[test]
fn implicit_tls_flag_excludes_starttls() {
    let plan = plan(&["--tls"]).unwrap();
    assert!(plan.modes.implicit_tls);
    assert!(!plan.modes.starttls);

    let argv = [
        "ringmail-loadgen",
        "smtp",
        "--target",
        "127.0.0.1:465",
        "--tls",
        "--starttls",
    ];
    assert!(
        Cli::try_parse_from(argv).is_err(),
        "--tls with --starttls parsed"
    );
}

#[test]
fn bdat_chunk_size_defaults_to_64_kib() {
    let plan = plan(&["--bdat"]).unwrap();
    assert_eq!(plan.modes.bdat_chunk_len, Some(65536));
    let plan = self::plan(&["--bdat", "--chunk-size", "100"]).unwrap();
    assert_eq!(plan.modes.bdat_chunk_len, Some(100));
}

#[test]
fn size_dist_keeps_given_seed() {
    let plan = plan(&[
        "--size-dist",
        "uniform:0-100",
        "--seed",
        "9",
        "--rate",
        "2.5",
    ])
    .unwrap();
    assert!(matches!(
        plan.modes.content,
        crate::content::Content::Uniform {
            min: 0,
            max: 100,
            seed: 9
        }
    ));
    assert_eq!(plan.modes.rate, Some(2.5));
}

#[test]
fn invalid_mode_table() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--size", "5", "--size-dist", "uniform:2-4"],
            "invalid options --size and --size-dist",
        ),
        (&["--size-dist", "uniform:2"], "expected uniform:MIN-MAX"),
        (&["--size-dist", "uniform:x-4"], "MIN is not a number"),
        (
            &["--size-dist", "uniform:2-67108865"],
            "MAX must be at most 67108864",
        ),
        (&["--rate=-1"], "invalid --rate -1"),
        (&["--rate", "NaN"], "invalid --rate NaN"),
        (
            &["--bdat", "--chunk-size", "67108865"],
            "invalid --chunk-size 67108865",
        ),
        (
            &["--corpus", "/nonexistent/loadgen-corpus"],
            "invalid --corpus /nonexistent/loadgen-corpus: cannot read",
        ),
    ];
    for (args, expected) in cases {
        let error = plan(args).expect_err("invalid arguments");
        assert!(error.0.contains(expected), "args {args:?}: {}", error.0);
    }
}
