#!/usr/bin/env python3
"""BDAT and SMTPUTF8 against Ringmail with Python's smtplib.

smtplib has no BDAT method, so the script sends BDAT by hand the way a
client program would: `send` for the command line and the chunk octets in
one write, then `getreply` for the reply (smtplib's `docmd` sends a command
and reads its reply, which fits commands without payload). It sends one
message in two chunks and one with `BDAT 0 LAST` at the end, both to alice.
Then `sendmail` with `mail_options=['SMTPUTF8']` sends from a UTF-8 address,
and a second `sendmail` without the option must fail with 553.

Exit status 0 means every check passed; on a failed check it prints the
reason and exits 1. Run by tests/esmtp.rs against a server it started.
"""

import argparse
import smtplib
import sys

# Seconds before a socket operation fails. A local server replies in
# milliseconds, so this only bounds a hung server.
SOCKET_TIMEOUT_S = 30

SENDER = "sender@localhost"
ALICE = "alice@localhost"
UTF8_SENDER = "用户@例子.广告"


def check(condition, reason):
    if not condition:
        print(f"FAILED: {reason}")
        sys.exit(1)


def bdat(smtp, chunk, last):
    """Sends one BDAT command with its chunk and returns (code, text)."""
    command = f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode("ascii")
    smtp.send(command + chunk)
    return smtp.getreply()


def send_chunked(smtp, chunks):
    """Runs MAIL, RCPT and one BDAT per chunk, the last one with LAST."""
    code, text = smtp.docmd("MAIL", f"FROM:<{SENDER}>")
    check(code == 250, f"MAIL: {code} {text!r}")
    code, text = smtp.docmd("RCPT", f"TO:<{ALICE}>")
    check(code == 250, f"RCPT: {code} {text!r}")
    for index, chunk in enumerate(chunks):
        last = index == len(chunks) - 1
        code, text = bdat(smtp, chunk, last)
        check(code == 250, f"BDAT chunk {index}: {code} {text!r}")
        if not last:
            check(f"{len(chunk)} octets".encode() in text, f"BDAT reply text: {text!r}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smtp-port", type=int, required=True)
    arguments = parser.parse_args()

    with smtplib.SMTP("127.0.0.1", arguments.smtp_port, timeout=SOCKET_TIMEOUT_S) as smtp:
        smtp.ehlo("smtplib.example")
        for extension in ["chunking", "binarymime", "smtputf8", "dsn"]:
            check(smtp.has_extn(extension), f"EHLO does not advertise {extension}")

        send_chunked(smtp, [b"Subject: chunked\r\n\r\nfirst half, ", b"second half\r\n"])
        send_chunked(smtp, [b"Subject: zero last\r\n\r\nbody\r\n", b""])

        message = "Subject: smtputf8\r\n\r\nbonjour, ñandú\r\n".encode("utf-8")
        refused = smtp.sendmail(UTF8_SENDER, [ALICE], message, mail_options=["SMTPUTF8"])
        check(refused == {}, f"SMTPUTF8 recipients refused: {refused!r}")

        try:
            smtp.sendmail(UTF8_SENDER, [ALICE], message)
            check(False, "UTF-8 sender without SMTPUTF8 was accepted")
        except smtplib.SMTPSenderRefused as error:
            check(error.smtp_code == 553, f"without SMTPUTF8: {error.smtp_code} {error.smtp_error!r}")
            check(b"5.6.7" in error.smtp_error, f"without SMTPUTF8: {error.smtp_error!r}")
        except UnicodeEncodeError:
            # Without SMTPUTF8 smtplib may encode the command as ASCII and
            # raise before sending it, so the bytes are sent by hand.
            smtp.rset()
            smtp.send(f"MAIL FROM:<{UTF8_SENDER}>\r\n".encode("utf-8"))
            code, text = smtp.getreply()
            check(code == 553 and b"5.6.7" in text, f"without SMTPUTF8: {code} {text!r}")

    print("esmtp checks passed")


if __name__ == "__main__":
    main()
