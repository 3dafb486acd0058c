#!/usr/bin/env python3
"""Round trip of one message through Ringmail with Python's stdlib clients.

smtplib sends one message to two users over SMTP. imaplib logs in as each
(alice with LOGIN, bob with AUTHENTICATE PLAIN), SELECTs INBOX and FETCHes the
message. The fetched bytes must equal the sent ones once the Received header
that the server adds is stripped. Then it checks flags on alice's copy: STORE +FLAGS
(\\Seen), SEARCH SEEN/UNSEEN/UID, the Maildir file name suffix ":2,S", and
STORE +FLAGS (\\Deleted) with EXPUNGE.

Exit status 0 means every check passed; on a failed check it prints the
reason and exits 1. Run by tests/python_clients.rs against a server it started.
"""

import argparse
import imaplib
import os
import smtplib
import sys

# Seconds before a socket operation of either client fails. A local server
# replies in milliseconds, so this only bounds a hung server.
SOCKET_TIMEOUT_S = 30

SENDER = "sender@localhost"

# CRLF throughout and a final CRLF, so smtplib sends these exact bytes apart
# from dot-stuffing. The leading-dot lines test dot-stuffing on the wire, the
# non-ASCII text tests BODY=8BITMIME, and Subject is folded.
MESSAGE = (
    "From: Sender <sender@localhost>\r\n"
    "To: alice@localhost, bob@localhost\r\n"
    "Subject: round trip through smtplib and imaplib,\r\n"
    " folded onto a second line\r\n"
    "Message-ID: <roundtrip.1@localhost>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "First line.\r\n"
    ".a line that starts with a dot\r\n"
    "..and one with two\r\n"
    ".\r\n"
    "Gr\u00fc\u00dfe, \u3053\u3093\u306b\u3061\u306f\r\n"
    "\r\n"
    "Last line.\r\n"
).encode("utf-8")


class CheckFailed(Exception):
    """A check of the round trip failed, and the message names which and why."""


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def strip_received(stored):
    """Return `stored` without its first header field and that field's folded
    continuation lines, which must be the Received field the server adds."""
    check(stored[:9].lower() == b"received:", f"message does not start with Received: {stored[:200]!r}")
    position = 0
    while True:
        line_end = stored.find(b"\r\n", position)
        check(line_end >= 0, f"Received header does not end in CRLF: {stored[:200]!r}")
        position = line_end + 2
        if stored[position:position + 1] not in (b" ", b"\t"):
            return stored[position:]


def maildir_files(data_dir, user, sub):
    path = os.path.join(data_dir, "mail", user, "Maildir", sub)
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def send(smtp_port, recipients):
    with smtplib.SMTP("127.0.0.1", smtp_port, timeout=SOCKET_TIMEOUT_S) as smtp:
        code, _ = smtp.ehlo("roundtrip.test")
        check(code == 250, f"EHLO replied {code}")
        check(smtp.has_extn("8bitmime"), "EHLO does not advertise 8BITMIME")
        refused = smtp.sendmail(SENDER, recipients, MESSAGE, mail_options=["BODY=8BITMIME"])
        check(not refused, f"recipients refused: {refused}")
    print(f"sent {len(MESSAGE)} octets to {', '.join(recipients)}")


def fetch_one(imap, item):
    typ, data = imap.fetch("1", f"(UID {item})")
    check(typ == "OK", f"FETCH {item} returned {typ} {data}")
    literals = [part[1] for part in data if isinstance(part, tuple)]
    check(len(literals) == 1, f"FETCH {item} returned {len(literals)} literals: {data!r}")
    return literals[0]


def select_inbox(imap, data_dir, user):
    typ, data = imap.select("INBOX")
    check(typ == "OK", f"{user}: SELECT INBOX returned {typ} {data}")
    check(data == [b"1"], f"{user}: SELECT INBOX reports {data} messages, expected 1")
    check(maildir_files(data_dir, user, "new") == [], f"{user}: new/ not emptied by SELECT")
    check(len(maildir_files(data_dir, user, "cur")) == 1, f"{user}: cur/ does not hold the message")


def read_as_alice(imap_port, data_dir, user, password):
    imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=SOCKET_TIMEOUT_S)
    typ, data = imap.login(user, password)
    check(typ == "OK", f"{user}: LOGIN returned {typ} {data}")
    select_inbox(imap, data_dir, user)

    body = strip_received(fetch_one(imap, "BODY.PEEK[]"))
    check(body == MESSAGE, f"{user}: fetched message differs from the sent one:\n{body!r}\nexpected\n{MESSAGE!r}")
    print(f"{user}: LOGIN, SELECT and FETCH BODY.PEEK[] match the sent bytes")

    check_flags(imap, data_dir, user)
    imap.logout()


def check_flags(imap, data_dir, user):
    def search(*criteria):
        typ, data = imap.search(None, *criteria)
        check(typ == "OK", f"{user}: SEARCH {' '.join(criteria)} returned {typ} {data}")
        return data[0].split()

    expect_search(search, ["UNSEEN"], [b"1"], "before STORE")
    expect_search(search, ["SEEN"], [], "before STORE")

    typ, data = imap.store("1", "+FLAGS", "(\\Seen)")
    check(typ == "OK", f"{user}: STORE +FLAGS (\\Seen) returned {typ} {data}")
    expect_search(search, ["SEEN"], [b"1"], "after STORE")
    expect_search(search, ["UNSEEN"], [], "after STORE")
    expect_search(search, ["ALL"], [b"1"], "after STORE")

    typ, data = imap.uid("FETCH", "1:*", "(UID)")
    check(typ == "OK" and data and data[0], f"{user}: UID FETCH 1:* (UID) returned {typ} {data}")
    uid = data[0].split(b"UID ")[1].rstrip(b")").decode()
    expect_search(search, ["UID", uid], [b"1"], "after STORE")

    files = maildir_files(data_dir, user, "cur")
    check(len(files) == 1 and files[0].endswith(":2,S"),
          f"{user}: Maildir cur/ after \\Seen is {files}, expected one name ending in ':2,S'")
    print(f"{user}: STORE \\Seen, SEARCH SEEN/UNSEEN/ALL/UID and Maildir name {files[0]} are right")

    typ, data = imap.store("1", "+FLAGS", "(\\Deleted)")
    check(typ == "OK", f"{user}: STORE +FLAGS (\\Deleted) returned {typ} {data}")
    typ, data = imap.expunge()
    check(typ == "OK" and data == [b"1"], f"{user}: EXPUNGE returned {typ} {data}, expected message 1 expunged")
    expect_search(search, ["ALL"], [], "after EXPUNGE")
    files = maildir_files(data_dir, user, "cur") + maildir_files(data_dir, user, "new")
    check(files == [], f"{user}: Maildir still holds {files} after EXPUNGE")
    print(f"{user}: STORE \\Deleted and EXPUNGE removed the message and its file")


def expect_search(search, criteria, expected, when):
    found = search(*criteria)
    check(found == expected, f"SEARCH {' '.join(criteria)} {when} returned {found}, expected {expected}")


def read_as_bob(imap_port, data_dir, user, password):
    imap = imaplib.IMAP4("127.0.0.1", imap_port, timeout=SOCKET_TIMEOUT_S)
    credentials = f"\0{user}\0{password}".encode("utf-8")
    typ, data = imap.authenticate("PLAIN", lambda _challenge: credentials)
    check(typ == "OK", f"{user}: AUTHENTICATE PLAIN returned {typ} {data}")
    select_inbox(imap, data_dir, user)

    body = strip_received(fetch_one(imap, "BODY[]"))
    check(body == MESSAGE, f"{user}: fetched message differs from the sent one:\n{body!r}\nexpected\n{MESSAGE!r}")
    print(f"{user}: AUTHENTICATE PLAIN, SELECT and FETCH BODY[] match the sent bytes")
    imap.logout()


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smtp-port", type=int, required=True, help="SMTP port on 127.0.0.1")
    parser.add_argument("--imap-port", type=int, required=True, help="IMAP port on 127.0.0.1")
    parser.add_argument("--data", required=True, help="the server's --data directory")
    parser.add_argument("--alice", required=True, metavar="NAME:PASSWORD", help="user read with LOGIN")
    parser.add_argument("--bob", required=True, metavar="NAME:PASSWORD", help="user read with AUTHENTICATE PLAIN")
    return parser.parse_args()


def main():
    args = parse_args()
    alice, alice_password = args.alice.split(":", 1)
    bob, bob_password = args.bob.split(":", 1)
    try:
        send(args.smtp_port, [f"{alice}@localhost", f"{bob}@localhost"])
        read_as_alice(args.imap_port, args.data, alice, alice_password)
        read_as_bob(args.imap_port, args.data, bob, bob_password)
    except (CheckFailed, smtplib.SMTPException, imaplib.IMAP4.error, OSError) as error:
        print(f"round trip failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print("round trip passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
