//! `ringmail`: the command-line entry point of the Ringmail mail engine.
//!
//! Every subcommand takes `--data DIR` (default `./ringmail-data`), the
//! directory that contains the user database and the mailboxes. Exit status: 0
//! on success, 1 when the operation failed, 2 for invalid usage or
//! configuration.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ringmail_engine::config::{self, Config};
use ringmail_engine::users::{self, UserDb};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ringmail: an SMTP, IMAP and local delivery mail engine on io_uring.
#[derive(Parser)]
#[command(name = "ringmail", version, about)]
struct Cli {
    /// Data directory: the user database, mailboxes, spool, TLS files and
    /// the spam Bayes store (spam/bayes.db).
    #[arg(
        long,
        global = true,
        default_value = "ringmail-data",
        value_name = "DIR"
    )]
    data: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SMTP and IMAP servers until SIGTERM or SIGINT.
    Serve {
        /// TOML configuration file; without it the embedded defaults apply.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// SMTP listen address, replacing the configured ones.
        #[arg(long, value_name = "ADDR")]
        smtp: Option<std::net::SocketAddr>,
        /// IMAP listen address, replacing the configured ones.
        #[arg(long, value_name = "ADDR")]
        imap: Option<std::net::SocketAddr>,
        /// Submission (STARTTLS) listen address, replacing the configured ones.
        #[arg(long, value_name = "ADDR")]
        submission: Option<std::net::SocketAddr>,
        /// Submission over implicit TLS listen address, replacing the
        /// configured ones.
        #[arg(long, value_name = "ADDR")]
        submission_tls: Option<std::net::SocketAddr>,
    },
    /// Manage mail users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Inspect the spool: messages accepted but not yet delivered.
    Queue {
        #[command(subcommand)]
        command: QueueCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Spam classifier tools.
    Spam {
        #[command(subcommand)]
        command: SpamCommand,
    },
}

#[derive(Subcommand)]
enum SpamCommand {
    /// Load and compile the spam rules. Lists the rules (name, kind, score,
    /// description), or with --stats reports per rule kind how many compiled.
    Rules {
        /// Print compile statistics per rule kind, unsupported regexes,
        /// missing eval functions and uninterpreted directives.
        #[arg(long)]
        stats: bool,
        /// Directory of .cf (and .pre) files; without it SpamAssassin's stock
        /// rules load, or Ringmail's embedded set when they are missing.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Learn directories of spam and ham into the Bayes store
    /// (<data>/spam/bayes.db), or forget them with --forget.
    Learn(spam_learn_cli::LearnArgs),
    /// List the messages of the corpus train or test split as
    /// `LABEL<TAB>PATH` lines (LABEL is spam or ham), sorted by path. A
    /// message is in the train split (70 %) when the FNV-1a hash of its
    /// file name, modulo 100, is below 70, so the split is the same on
    /// every machine.
    Split(spam_split_cli::SplitArgs),
    /// Serve the spamd protocol (SPAMC/1.5) for spamc, with the rules
    /// compiled once, until SIGTERM or SIGINT.
    Serve {
        /// Address and TCP port to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7830")]
        listen: std::net::SocketAddr,
        /// Directory of .cf (and .pre) files; without it SpamAssassin's stock
        /// rules load, or Ringmail's embedded set when they are missing.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
    /// Score messages and print one line per message: path, score, verdict
    /// (spam or ham) and the rules that hit. Rules are compiled once.
    Check {
        /// Message files, directories (read recursively) or `-` for
        /// standard input.
        #[arg(required = true, value_name = "FILE|DIR|-")]
        inputs: Vec<PathBuf>,
        /// Directory of .cf (and .pre) files; without it SpamAssassin's stock
        /// rules load, or Ringmail's embedded set when they are missing.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
        /// Print one JSON object per message instead of text.
        #[arg(long)]
        json: bool,
        /// Exit with status 1 when any message is spam (2 still means an
        /// error).
        #[arg(long)]
        exit_code: bool,
        /// Print on standard error, after the run, the milliseconds spent
        /// loading and compiling the rules and those spent scoring, with
        /// the message count and the scoring rate in messages per second.
        #[arg(long)]
        timing: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user. The password is prompted for on a terminal, or read as one
    /// line from standard input with --password-stdin.
    Add {
        /// User name: lowercase a-z, 0-9, '.', '_' and '-'. It is also the
        /// local part of the user's address in every local domain.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's password.
    Passwd {
        /// Name of an existing user.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, one per line.
    List,
}

#[derive(Subcommand)]
enum QueueCommand {
    /// List queued messages: queue id, age, size in bytes, sender, and each
    /// recipient with its state. Reads the spool files, so it works with the
    /// server running or stopped; the retry schedule is kept in the server's
    /// memory and not shown.
    List,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a commented configuration holding every key at its default.
    Example,
}

/// A failure with the exit status it maps to.
struct Failure {
    message: String,
    status: u8,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: 2,
        }
    }

    fn runtime(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            status: 1,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Dropping the guard at the end of main writes out the queued log lines.
    let _log_guard = init_logging();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            use std::io::Write as _;
            // An empty message sets only the exit status, after the command
            // has reported its own errors.
            if !failure.message.is_empty() {
                let _ = writeln!(std::io::stderr(), "ringmail: {}", failure.message);
            }
            ExitCode::from(failure.status)
        }
    }
}

/// Buffer of the log writer thread. It flushes whenever its queue runs
/// empty, so the buffer only merges lines that arrive in a burst.
const LOG_BUFFER_LEN: usize = 64 * 1024;

/// Sends log events to standard error through a writer thread, so a worker
/// does not wait on a write(2) to a slow terminal, pipe or file. The queue is
/// not lossy: when it is full, the thread that logs waits rather than drop
/// an event. Returns the guard that flushes the queue when dropped.
fn init_logging() -> tracing_appender::non_blocking::WorkerGuard {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RINGMAIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("ringmail-log")
        .finish(std::io::BufWriter::with_capacity(
            LOG_BUFFER_LEN,
            LossyStderr,
        ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    guard
}

/// Standard error for log events, where a failed write (a closed pipe when
/// `tee` died with the same Ctrl-C) drops the event instead of panicking.
struct LossyStderr;

impl std::io::Write for LossyStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Prints a line on standard output; a closed pipe is ignored, because the
/// output is informational and must not turn into a panic.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod spam_cli;
mod spam_learn_cli;
mod spam_serve;
mod spam_split_cli;

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Serve {
            config,
            smtp,
            imap,
            submission,
            submission_tls,
        } => serve(
            &cli.data,
            config.as_deref(),
            ListenOverrides {
                smtp,
                imap,
                submission,
                submission_tls,
            },
        ),
        Command::User { command } => user(&cli.data, command),
        Command::Queue {
            command: QueueCommand::List,
        } => queue_list(&cli.data),
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            use std::io::Write as _;
            let _ = std::io::stdout().write_all(config::EXAMPLE.as_bytes());
            Ok(())
        }
        Command::Spam {
            command: SpamCommand::Rules { stats, rules, json },
        } => spam_cli::rules(stats, rules.as_deref(), json),
        Command::Spam {
            command: SpamCommand::Learn(args),
        } => spam_learn_cli::learn(&cli.data, &args),
        Command::Spam {
            command: SpamCommand::Split(args),
        } => spam_split_cli::split(&args),
        Command::Spam {
            command:
                SpamCommand::Check {
                    inputs,
                    rules,
                    json,
                    exit_code,
                    timing,
                },
        } => spam_cli::check(
            &cli.data,
            &inputs,
            rules.as_deref(),
            spam_cli::CheckOptions {
                json,
                exit_code,
                timing,
            },
        ),
        Command::Spam {
            command: SpamCommand::Serve { listen, rules },
        } => spam_serve::serve(&cli.data, listen, rules.as_deref()),
    }
}

/// Listen addresses given on the command line, each replacing the
/// configured list of its listener.
struct ListenOverrides {
    smtp: Option<std::net::SocketAddr>,
    imap: Option<std::net::SocketAddr>,
    submission: Option<std::net::SocketAddr>,
    submission_tls: Option<std::net::SocketAddr>,
}

fn serve(data: &Path, config_path: Option<&Path>, listen: ListenOverrides) -> Result<(), Failure> {
    let mut config = match config_path {
        Some(path) => Config::load(path).map_err(|error| Failure::usage(error.to_string()))?,
        None => Config::default(),
    };
    let overrides = [
        (listen.smtp, &mut config.smtp.listen),
        (listen.imap, &mut config.imap.listen),
        (listen.submission, &mut config.submission.listen),
        (listen.submission_tls, &mut config.submission.listen_tls),
    ];
    for (addr, list) in overrides {
        if let Some(addr) = addr {
            *list = vec![addr];
        }
    }
    // The overrides can collide with each other or with configured lists.
    config
        .validate()
        .map_err(|error| Failure::usage(error.to_string()))?;

    create_postmaster_on_first_start(data)?;
    ringmail_engine::server::serve(config, data)
        .map_err(|error| Failure::runtime(error.to_string()))
}

/// Creates the user `postmaster` with a generated password when the user
/// database is empty, and prints the password once. Only its hash is stored.
fn create_postmaster_on_first_start(data: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(data).map_err(|error| {
        Failure::runtime(format!(
            "cannot create data directory {}: {error}",
            data.display()
        ))
    })?;
    let db = UserDb::open(data).map_err(|error| Failure::runtime(error.to_string()))?;
    if !db
        .is_empty()
        .map_err(|error| Failure::runtime(error.to_string()))?
    {
        return Ok(());
    }
    let password = users::generate_password();
    db.add("postmaster", &password)
        .map_err(|error| Failure::runtime(error.to_string()))?;
    say!("ringmail: created user postmaster with password {password}");
    say!("ringmail: this password is shown only once; change it with `ringmail user passwd postmaster`");
    Ok(())
}

fn queue_list(data: &Path) -> Result<(), Failure> {
    let spool_dir = data.join("spool");
    let queued = ringmail_engine::spool::list_queue(&spool_dir).map_err(|error| {
        Failure::runtime(format!(
            "cannot read the spool in {}: {error}",
            spool_dir.display()
        ))
    })?;
    let now = u64::try_from(ringmail_engine::time::unix_now()).unwrap_or(0);
    let text = ringmail_engine::spool::format_queue(&queued, now);
    {
        use std::io::Write as _;
        let _ = std::io::stdout().write_all(text.as_bytes());
    }
    Ok(())
}

fn user(data: &Path, command: UserCommand) -> Result<(), Failure> {
    std::fs::create_dir_all(data).map_err(|error| {
        Failure::runtime(format!(
            "cannot create data directory {}: {error}",
            data.display()
        ))
    })?;
    let db = UserDb::open(data).map_err(|error| Failure::runtime(error.to_string()))?;
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            users::validate_name(&name).map_err(|error| Failure::usage(error.to_string()))?;
            if db
                .exists(&name)
                .map_err(|error| Failure::runtime(error.to_string()))?
            {
                return Err(Failure::runtime(format!("user {name} already exists")));
            }
            let password = read_password(password_stdin)?;
            db.add(&name, &password)
                .map_err(|error| Failure::runtime(error.to_string()))?;
            say!("ringmail: added user {name}");
        }
        UserCommand::Passwd {
            name,
            password_stdin,
        } => {
            if !db
                .exists(&name)
                .map_err(|error| Failure::runtime(error.to_string()))?
            {
                return Err(Failure::runtime(format!("user {name} not found")));
            }
            let password = read_password(password_stdin)?;
            db.set_password(&name, &password)
                .map_err(|error| Failure::runtime(error.to_string()))?;
            say!("ringmail: changed the password of {name}");
        }
        UserCommand::List => {
            for name in db
                .list()
                .map_err(|error| Failure::runtime(error.to_string()))?
            {
                say!("{name}");
            }
        }
    }
    Ok(())
}

/// Maximum password length in bytes. Argon2 hashes any length, but a
/// bound keeps a pasted file from becoming a password.
const PASSWORD_LEN_MAX: usize = 1024;

/// Reads a new password from the first line of stdin, or prompts twice on
/// the terminal.
fn read_password(from_stdin: bool) -> Result<String, Failure> {
    let password = if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|error| {
                Failure::runtime(format!("cannot read password from stdin: {error}"))
            })?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::usage(
                "standard input is not a terminal; pass --password-stdin to read the password from it",
            ));
        }
        let first = rpassword::prompt_password("New password: ")
            .map_err(|error| Failure::runtime(format!("cannot read password: {error}")))?;
        let second = rpassword::prompt_password("Repeat password: ")
            .map_err(|error| Failure::runtime(format!("cannot read password: {error}")))?;
        if first != second {
            return Err(Failure::usage("the two passwords differ"));
        }
        first
    };
    if password.is_empty() {
        return Err(Failure::usage("the password is empty"));
    }
    if password.len() > PASSWORD_LEN_MAX {
        return Err(Failure::usage(format!(
            "the password is {} bytes long, max {PASSWORD_LEN_MAX}",
            password.len()
        )));
    }
    Ok(password)
}
