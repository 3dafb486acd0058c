//! Tests of the tokenizer, the store file and learning.

use std::collections::HashSet;

use proptest::prelude::*;

use super::store::{decode, encode};
use super::tokenize::{is_ignored_header, tokenize, tokenize_line, Region};
use super::*;

fn line_tokens(line: &str, prefix: &str, region: Region) -> Vec<String> {
    let mut out = Vec::new();
    tokenize_line(line, prefix, region, &mut out);
    out
}

macro_rules! line_cases {
    ($($name:ident: $line:expr, $region:expr => contains [$($want:expr),*] lacks [$($unwanted:expr),*];)*) => {$(
        #[test]
        fn $name() {
            let tokens = line_tokens($line, "", $region);
            $(assert!(tokens.iter().any(|t| t == $want), "missing {:?} in {:?}", $want, tokens);)*
            $(assert!(!tokens.iter().any(|t| t == $unwanted), "unexpected {:?} in {:?}", $unwanted, tokens);)*
        }
    )*};
}

line_cases! {
    tokenize_short_words_dropped: "an ox is big", Region::Body
        => contains ["big"] lacks ["an", "ox", "is"];
    tokenize_title_case_lowercased_at_line_start: "Hello there friend", Region::Body
        => contains ["hello", "there"] lacks ["Hello"];
    tokenize_title_case_after_full_stop: "it works. Really well", Region::Body
        => contains ["really", "works"] lacks ["Really"];
    tokenize_capitals_mid_sentence_decomposed: "buy CHEAP stuff", Region::Body
        => contains ["CHEAP", "cheap"] lacks [];
    tokenize_punctuation_decomposed: "free!!! money", Region::Body
        => contains ["free!!!", "free", "money"] lacks [];
    tokenize_trims_quotes_and_dots: "\"quoted\" end.", Region::Body
        => contains ["quoted", "end"] lacks ["\"quoted\"", "end."];
    tokenize_ellipsis_split: "wait...what", Region::Body
        => contains ["wait", "what"] lacks ["wait...what", "..."];
    tokenize_double_dash_split: "foo--bar", Region::Body
        => contains ["foo", "bar"] lacks ["foo--bar"];
    tokenize_long_token_skipped: "abcdefghijklmnopqrstuvwxyz", Region::Body
        => contains ["sk:abcdefg"] lacks ["abcdefghijklmnopqrstuvwxyz"];
    tokenize_long_token_kept_in_uri: "abcdefghijklmnopqrstuvwxyz", Region::Uri
        => contains ["abcdefghijklmnopqrstuvwxyz"] lacks ["sk:abcdefg"];
    tokenize_long_utf8_as_characters: "日本語のテキストです", Region::Body
        => contains ["u8:日", "u8:本", "u8:す"] lacks [];
    tokenize_mail_address_split: "write to bob@mail.example.com", Region::Body
        => contains ["U*bob", "D*mail.example.com", "D*example.com", "D*com"] lacks [];
    tokenize_dotted_name_gives_domains: "see www.example.com now", Region::Body
        => contains ["UD:www.example.com", "UD:example.com", "UD:com", "www.example.com"] lacks [];
    tokenize_symbols_become_spaces: "win<$1,000,000>now", Region::Body
        => contains ["win", "$1,000,000", "now"] lacks [];
    tokenize_header_keeps_case: "Hello There", Region::Header
        => contains ["Hello", "There"] lacks ["hello"];
}

#[test]
fn tokenize_prefix_applied_to_header_tokens() {
    let tokens = line_tokens("Mozilla Thunderbird", "H*UA:", Region::Header);
    assert_eq!(tokens, vec!["H*UA:Mozilla", "H*UA:Thunderbird"]);
}

#[test]
fn tokenize_message_maps_header_names() {
    let raw = b"From: Alice Smith <alice@example.org>\r\n\
        To: bob@example.net\r\n\
        Subject: Lunch plans\r\n\
        Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\
        Message-ID: <abc.def@host.example.org>\r\n\
        X-Mailer: Kmail 1.2\r\n\
        Received: from one.example (one.example [203.0.113.9]) by mx\r\n\
        \r\n\
        Shall we meet for lunch tomorrow\r\n";
    let message = Prepared::new(raw);
    let tokens = tokenize(&message, &[]);
    for want in [
        "H*F:N*Alice",
        "H*F:U*alice",
        "H*F:D*example.org",
        "H*Ad:U*bob",
        "H*M:host",
        "H*MI:abc",
        "H*x:Kmail",
        "H*UA:Kmail",
        "H*r:203.0.113",
        "H*r:ip*203.0.113.9",
        "lunch",
        "tomorrow",
    ] {
        assert!(tokens.contains(want), "missing {want} in {tokens:?}");
    }
    // Date and Subject are ignored headers; the Subject still counts as body.
    assert!(!tokens.iter().any(|token| token.starts_with("HDate:")));
    assert!(!tokens.iter().any(|token| token.starts_with("HSubject:")));
    assert!(tokens.contains("plans"));
}

#[test]
fn tokenize_ignore_headers_option_drops_header() {
    let raw = b"X-Tracking: abcdef\r\nFrom: a@b.example\r\n\r\nbody text here\r\n";
    let message = Prepared::new(raw);
    assert!(tokenize(&message, &[]).contains("HX-Tracking:abcdef"));
    let ignored = tokenize(&message, &["x-tracking".to_string()]);
    assert!(!ignored
        .iter()
        .any(|token| token.starts_with("HX-Tracking:")));
}

#[test]
fn invisible_html_text_gets_its_own_tokens() {
    let raw = b"From: a@example.com\nSubject: hi\nContent-Type: text/html\n\n\
        <p>shown words</p><span style=\"display: none\">hiddenword </span>\
        <font color=\"#ffffff\">whiteword </font><font size=1>tinyword</font>\n";
    let tokens = tokenize(&Prepared::new(raw), &[]);
    assert!(tokens.contains("shown"), "{tokens:?}");
    for word in ["hiddenword", "whiteword", "tinyword"] {
        assert!(tokens.contains(&format!("I*:{word}")), "{word}: {tokens:?}");
        assert!(!tokens.contains(word), "{word}: {tokens:?}");
    }
}

#[test]
fn tokenize_only_last_two_received_fields() {
    let raw = b"Received: from first.example\r\n\
        Received: from second.example\r\n\
        Received: from third.example\r\n\r\nbody\r\n";
    let tokens = tokenize(&Prepared::new(raw), &[]);
    // The bottom two fields are the hops nearest the sender.
    assert!(tokens.contains("H*r:third.example"), "{tokens:?}");
    assert!(tokens.contains("H*r:second.example"));
    assert!(!tokens.contains("H*r:first.example"));
}

#[test]
fn tokenize_presence_only_header_value_hidden() {
    let raw = b"DKIM-Signature: v=1; a=rsa-sha256; b=verylongsignaturevalue\r\n\r\nbody\r\n";
    let tokens = tokenize(&Prepared::new(raw), &[]);
    let dkim: HashSet<&String> = tokens
        .iter()
        .filter(|t| t.starts_with("HDKIM-Signature:"))
        .collect();
    assert!(
        dkim.is_empty(),
        "value '1' is too short to be a token: {dkim:?}"
    );
}

#[test]
fn ignored_header_set_matches_spamassassin_examples() {
    for name in [
        "Date",
        "subject",
        "X-Spam-Status",
        "List-Id",
        "X-Bugzilla-Product",
        "Xref",
    ] {
        assert!(is_ignored_header(name), "{name}");
    }
    for name in ["From", "X-Mailer", "Content-Type", "X-Spam-Other"] {
        assert!(!is_ignored_header(name), "{name}");
    }
}

#[test]
fn bayes_rule_bands_match_23_bayes_cf() {
    let cases = [
        (0.0, "BAYES_00"),
        (0.01, "BAYES_00"),
        (0.0101, "BAYES_05"),
        (0.05, "BAYES_05"),
        (0.1, "BAYES_20"),
        (0.3, "BAYES_40"),
        (0.5, "BAYES_50"),
        (0.6, "BAYES_50"),
        (0.7, "BAYES_60"),
        (0.9, "BAYES_80"),
        (0.98, "BAYES_95"),
        (0.995, "BAYES_99"),
        (0.999, "BAYES_99"),
        (0.9995, "BAYES_999"),
        (1.0, "BAYES_999"),
        (-1.0, "BAYES_00"),
        (2.0, "BAYES_999"),
    ];
    for (probability, want) in cases {
        assert_eq!(bayes_rule(probability), want, "{probability}");
    }
    assert_eq!(bayes_rules(0.9999), &["BAYES_99", "BAYES_999"]);
    assert_eq!(bayes_rules(0.995), &["BAYES_99"]);
    assert_eq!(bayes_rules(0.3), &["BAYES_40"]);
}

fn sample_data() -> StoreData {
    let mut data = StoreData {
        nspam: 3,
        nham: 5,
        ..StoreData::default()
    };
    for i in 0..100u64 {
        data.tokens.insert(
            token_hash(&format!("token{i}")),
            TokenCounts {
                spam: i as u32,
                ham: 1,
                atime_s: 1_700_000_000 + i as u32,
            },
        );
    }
    data.learned.insert(7, Label::Spam);
    data.learned.insert(9, Label::Ham);
    data
}

#[test]
fn store_encode_decode_round_trip() {
    let data = sample_data();
    let bytes = encode(&data);
    assert_eq!(decode(&bytes).unwrap(), data);
    assert_eq!(
        encode(&decode(&bytes).unwrap()),
        bytes,
        "one store has one encoding"
    );
}

#[test]
fn store_flipped_byte_detected_by_checksum() {
    let bytes = encode(&sample_data());
    for at in [8, 30, bytes.len() / 2, bytes.len() - 1] {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0x40;
        let error = decode(&corrupt).unwrap_err();
        assert!(
            matches!(error, BayesError::Corrupt { .. }),
            "byte {at}: {error}"
        );
    }
}

#[test]
fn store_truncated_file_rejected() {
    let bytes = encode(&sample_data());
    for len in [0, 7, 27, bytes.len() - 1] {
        assert!(decode(&bytes[..len]).is_err(), "length {len}");
    }
}

#[test]
fn store_wrong_magic_rejected() {
    let mut bytes = encode(&sample_data());
    bytes[7] = 2;
    let error = decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("magic"), "{error}");
}

#[test]
fn store_count_mismatch_rejected_with_valid_checksum() {
    let mut bytes = encode(&sample_data());
    bytes.truncate(bytes.len() - 4);
    bytes[16..20].copy_from_slice(&99u32.to_le_bytes());
    let checksum = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    let error = decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("does not match the counts"), "{error}");
}

#[test]
fn store_huge_count_rejected_before_allocation() {
    let mut bytes = encode(&StoreData::default());
    bytes.truncate(bytes.len() - 4);
    bytes[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let checksum = crc32c::crc32c(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    let error = decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("exceed the maximum"), "{error}");
}

#[test]
fn store_save_and_open_round_trip() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    assert_eq!(store.nspam(), 0);
    store.learn(&spam_message(1), Label::Spam).unwrap();
    store.learn(&ham_message(1), Label::Ham).unwrap();
    store.save().unwrap();

    let reopened = BayesStore::open(dir).unwrap();
    assert_eq!((reopened.nspam(), reopened.nham()), (1, 1));
    assert_eq!(reopened.token_count(), store.token_count());
    assert_eq!(reopened.token("viagra").map(|c| c.spam), Some(1));
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("spam")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
}

#[test]
fn store_corrupt_file_reported_on_open() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    store.learn(&spam_message(1), Label::Spam).unwrap();
    store.save().unwrap();
    let path = BayesStore::path_in(dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&path, bytes).unwrap();
    let error = BayesStore::open(dir).unwrap_err();
    assert!(matches!(error, BayesError::Corrupt { .. }), "{error}");
}

#[test]
fn store_save_replaces_atomically() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    store.learn(&spam_message(1), Label::Spam).unwrap();
    store.save().unwrap();
    let path = BayesStore::path_in(dir);
    let before = std::fs::metadata(&path).unwrap();
    store.learn(&spam_message(2), Label::Spam).unwrap();
    store.save().unwrap();
    // A rename gives the store a new inode; an in-place rewrite would keep it.
    use std::os::unix::fs::MetadataExt;
    let after = std::fs::metadata(&path).unwrap();
    assert_ne!(before.ino(), after.ino());
    assert_eq!(BayesStore::open(dir).unwrap().nspam(), 2);
}

#[test]
fn learn_same_message_twice_counts_once() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    let message = spam_message(1);
    assert_eq!(
        store.learn(&message, Label::Spam).unwrap(),
        LearnOutcome::Learned
    );
    assert_eq!(
        store.learn(&message, Label::Spam).unwrap(),
        LearnOutcome::AlreadyLearned
    );
    assert_eq!(store.nspam(), 1);
    assert_eq!(store.token("viagra").unwrap().spam, 1);

    let crlf: Vec<u8> = String::from_utf8(message.clone())
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    assert_eq!(
        store.learn(&crlf, Label::Spam).unwrap(),
        LearnOutcome::AlreadyLearned
    );
}

#[test]
fn learn_other_label_moves_message() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    let message = spam_message(1);
    store.learn(&message, Label::Spam).unwrap();
    assert_eq!(
        store.learn(&message, Label::Ham).unwrap(),
        LearnOutcome::Relearned
    );
    assert_eq!((store.nspam(), store.nham()), (0, 1));
    let counts = store.token("viagra").unwrap();
    assert_eq!((counts.spam, counts.ham), (0, 1));
}

#[test]
fn forget_restores_empty_store() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    let message = spam_message(1);
    store.learn(&message, Label::Spam).unwrap();
    assert_eq!(store.forget(&message), LearnOutcome::Forgotten);
    assert_eq!(store.forget(&message), LearnOutcome::NotLearned);
    assert_eq!(store.nspam(), 0);
    assert_eq!(store.token_count(), 0);
    assert_eq!(
        store.learn(&message, Label::Spam).unwrap(),
        LearnOutcome::Learned
    );
}

#[test]
fn expire_drops_oldest_tokens() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    store.data = sample_data();
    store.expire(10);
    assert_eq!(store.token_count(), 10);
    assert!(store.token("token99").is_some());
    assert!(store.token("token0").is_none());
}

#[test]
fn probability_untrained_is_none() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    for i in 0..(LEARNED_SPAM_MIN - 1) {
        store.learn(&spam_message(i), Label::Spam).unwrap();
        store.learn(&ham_message(i), Label::Ham).unwrap();
    }
    assert_eq!(store.probability(&Prepared::new(&spam_message(9999))), None);
}

#[test]
fn probability_separates_trained_classes() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let mut store = BayesStore::open(dir).unwrap();
    for i in 0..LEARNED_SPAM_MIN {
        store.learn(&spam_message(i), Label::Spam).unwrap();
        store.learn(&ham_message(i), Label::Ham).unwrap();
    }
    let spam = store
        .probability(&Prepared::new(&spam_message(9999)))
        .unwrap();
    let ham = store
        .probability(&Prepared::new(&ham_message(9999)))
        .unwrap();
    assert!(spam > 0.99, "spam {spam}");
    assert!(ham < 0.01, "ham {ham}");
}

fn spam_message(i: u32) -> Vec<u8> {
    format!(
        "From: deals{i}@offers.example\nSubject: cheap viagra offer {i}\n\n\
         Buy cheap viagra now, limited offer number {i}. Click casino winner prize.\n"
    )
    .into_bytes()
}

fn ham_message(i: u32) -> Vec<u8> {
    format!(
        "From: colleague{i}@work.example\nSubject: meeting notes {i}\n\n\
         Attached are the meeting notes for project review {i}. Agenda budget schedule.\n"
    )
    .into_bytes()
}

proptest! {
    #[test]
    fn store_decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn store_decode_mutated_file_never_panics(at in 0usize..4096, value in any::<u8>(), cut in 0usize..4096) {
        let mut bytes = encode(&sample_data());
        let at = at % bytes.len();
        bytes[at] = value;
        bytes.truncate(cut.max(1).min(bytes.len()));
        let _ = decode(&bytes);
    }

    #[test]
    fn tokenize_arbitrary_message_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..1024)) {
        let mut message = b"From: a@b.example\nReceived: from x (y [192.168.1.2])\nContent-Type: text/plain; boundary=\"--=_ab12\"\n\n".to_vec();
        message.extend_from_slice(&raw);
        for raw in [&raw[..], &message[..]] {
            let tokens = tokenize(&Prepared::new(raw), &[]);
            prop_assert!(!tokens.contains(""));
        }
    }

    #[test]
    fn tokenize_line_arbitrary_text_never_panics(line in "\\PC{0,200}") {
        for region in [Region::Header, Region::Body, Region::Uri] {
            let tokens = line_tokens(&line, "H*x:", region);
            for token in tokens {
                prop_assert!(!token.is_empty());
            }
        }
    }
}

#[test]
fn tokenize_header_chewing_drops_one_off_parts() {
    let raw = b"Received: from relay.example by mx.example with ESMTP id 4A1B2C3D4E \
        for <u@example.org>; Mon, 1 Jan 2024 10:00:00 +0000\r\n\
        Content-Type: text/plain; charset=us-ascii\r\n\
        Message-ID: <20240101100000.ABCDEF1234@mailer.example>\r\n\
        MIME-Version: 1.0\r\n\r\nbody\r\n";
    let tokens = tokenize(&Prepared::new(raw), &[]);
    for unwanted in [
        "H*r:with",
        "H*r:ESMTP",
        "H*r:2024",
        "H*r:10:00:00",
        "H*ct:text",
        "H*ct:charset",
        "H*M:ABCDEF1234",
    ] {
        assert!(
            !tokens.contains(unwanted),
            "unexpected {unwanted} in {tokens:?}"
        );
    }
    for wanted in [
        "H*r:relay.example",
        "H*ct:us-ascii",
        "H*M:mailer",
        "H*MI:mailer",
    ] {
        assert!(tokens.contains(wanted), "missing {wanted} in {tokens:?}");
    }
    assert!(!tokens
        .iter()
        .any(|token| token.starts_with("HMIME-Version:")));
}
