//! Prints Ringmail's prepared view of each message file given as an
//! argument, one JSON object per line with the same fields as
//! tests/spam/sa_dump.pl prints: `file`, `body` and `uris`.
//!
//! Run: `cargo run -p ringmail-spam --example prepare_dump -- FILE...`

use ringmail_spam::prepare::Prepared;

fn main() {
    for path in std::env::args().skip(1) {
        let message = match std::fs::read(&path) {
            Ok(message) => message,
            Err(error) => {
                eprintln!("cannot read {path}: {error}");
                std::process::exit(2);
            }
        };
        let prepared = Prepared::new(&message);
        let record = serde_json::json!({
            "file": path,
            "body": prepared.body(),
            "uris": prepared.uris(),
        });
        println!("{record}");
    }
}
