#!/usr/bin/env python3
"""TLS checks of Ringmail's SMTP listeners with Python's smtplib and ssl.

Scenarios, picked by the first argument:

  starttls     --port P   EHLO offers STARTTLS and not REQUIRETLS. MAIL with
                          REQUIRETLS gets 530 in plaintext. After starttls(),
                          EHLO offers REQUIRETLS and not STARTTLS, a second
                          STARTTLS gets 503, and a REQUIRETLS message is sent.
  implicit     --port P   SMTP_SSL (implicit TLS) on the submission-TLS port:
                          EHLO offers REQUIRETLS and not STARTTLS; login()
                          as alice, then a message is sent.
  submission   --port P [--no-plaintext-auth]
                          STARTTLS on the submission port, then AUTH LOGIN
                          as alice and a message sent as alice. With
                          --no-plaintext-auth, EHLO before TLS must not offer
                          AUTH and AUTH there gets 538.
  auth-reset   --port P   AUTH over plaintext loopback, then STARTTLS: the
                          server discards the AUTH (RFC 3207 section 4.2), so
                          MAIL gets 530 until the client authenticates again.
  peer-cert    --port P --pem FILE
                          The certificate served on the implicit-TLS port is
                          the first certificate in FILE.

The certificate is not verified, because the test servers use self-signed
certificates. Exit status 0 means every check passed; on a failed check the
script prints the reason and exits 1. Run by tests/smtp_tls.rs.
"""

import argparse
import smtplib
import ssl
import sys

# Seconds before a socket operation fails. A local server replies in
# milliseconds, so this only bounds a hung server.
SOCKET_TIMEOUT_S = 30

HOST = "127.0.0.1"
SENDER = "sender@localhost"
RECIPIENT = "alice@localhost"
USER = "alice"
PASSWORD = "alice-password"


def unverified_context():
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def check(condition, reason):
    if not condition:
        print(f"FAILED: {reason}")
        sys.exit(1)


def message(subject, sender=SENDER):
    return f"Subject: {subject}\r\nFrom: {sender}\r\n\r\nbody of {subject}\r\n"


def starttls(port):
    client = smtplib.SMTP(HOST, port, timeout=SOCKET_TIMEOUT_S)
    client.ehlo("plain.example")
    check(client.has_extn("starttls"), "EHLO before TLS does not offer STARTTLS")
    check(not client.has_extn("requiretls"), "EHLO before TLS offers REQUIRETLS")

    code, reply = client.docmd("MAIL FROM:<sender@localhost> REQUIRETLS")
    check(code == 530, f"MAIL REQUIRETLS without TLS got {code} {reply!r}, expected 530")
    print(f"plaintext MAIL REQUIRETLS: {code} {reply.decode()}")

    client.starttls(context=unverified_context())
    client.ehlo("tls.example")
    check(not client.has_extn("starttls"), "EHLO over TLS still offers STARTTLS")
    check(client.has_extn("requiretls"), "EHLO over TLS does not offer REQUIRETLS")

    code, reply = client.docmd("STARTTLS")
    check(code == 503, f"second STARTTLS got {code} {reply!r}, expected 503")
    print(f"second STARTTLS: {code} {reply.decode()}")

    refused = client.sendmail(
        SENDER, [RECIPIENT], message("starttls requiretls"), mail_options=["REQUIRETLS"]
    )
    check(not refused, f"recipients refused: {refused}")
    client.quit()
    print("starttls passed")


def implicit(port):
    client = smtplib.SMTP_SSL(HOST, port, timeout=SOCKET_TIMEOUT_S, context=unverified_context())
    client.ehlo("implicit.example")
    check(not client.has_extn("starttls"), "EHLO over implicit TLS offers STARTTLS")
    check(client.has_extn("requiretls"), "EHLO over implicit TLS does not offer REQUIRETLS")
    code, reply = client.login(USER, PASSWORD)
    print(f"login over implicit TLS: {code} {reply.decode()}")
    sender = f"{USER}@localhost"
    refused = client.sendmail(sender, [RECIPIENT], message("implicit tls", sender))
    check(not refused, f"recipients refused: {refused}")
    client.quit()
    print("implicit passed")


def submission(port, no_plaintext_auth):
    client = smtplib.SMTP(HOST, port, timeout=SOCKET_TIMEOUT_S)
    client.ehlo("submit.example")
    check(client.has_extn("starttls"), "submission EHLO before TLS does not offer STARTTLS")
    if no_plaintext_auth:
        check(not client.has_extn("auth"), "EHLO before TLS offers AUTH")
        code, reply = client.docmd("AUTH", "PLAIN")
        check(code == 538, f"AUTH before TLS got {code} {reply!r}, expected 538")
        print(f"AUTH before TLS: {code} {reply.decode()}")

    client.starttls(context=unverified_context())
    client.ehlo("submit.example")
    check(client.has_extn("auth"), "submission EHLO over TLS does not offer AUTH")
    client.user, client.password = USER, PASSWORD
    code, reply = client.auth("LOGIN", client.auth_login)
    check(code == 235, f"AUTH LOGIN got {code} {reply!r}, expected 235")
    print(f"AUTH LOGIN over STARTTLS: {code} {reply.decode()}")

    sender = f"{USER}@localhost"
    refused = client.sendmail(sender, [RECIPIENT], message("submission starttls login", sender))
    check(not refused, f"recipients refused: {refused}")
    client.quit()
    print("submission passed")


def auth_reset(port):
    client = smtplib.SMTP(HOST, port, timeout=SOCKET_TIMEOUT_S)
    client.ehlo("reset.example")
    code, reply = client.login(USER, PASSWORD)
    check(code == 235, f"plaintext login got {code} {reply!r}")
    client.starttls(context=unverified_context())
    client.ehlo("reset.example")
    code, reply = client.docmd(f"MAIL FROM:<{USER}@localhost>")
    check(code == 530, f"MAIL after STARTTLS got {code} {reply!r}, expected 530")
    print(f"MAIL after STARTTLS: {code} {reply.decode()}")
    client.login(USER, PASSWORD)
    code, reply = client.docmd(f"MAIL FROM:<{USER}@localhost>")
    check(code == 250, f"MAIL after a new login got {code} {reply!r}")
    client.quit()
    print("auth-reset passed")


def peer_cert(port, pem_path):
    with open(pem_path, encoding="ascii") as file:
        pem = file.read()
    end = "-----END CERTIFICATE-----"
    check(end in pem, f"{pem_path} holds no certificate")
    expected = ssl.PEM_cert_to_DER_cert(pem[: pem.index(end) + len(end)] + "\n")

    client = smtplib.SMTP_SSL(HOST, port, timeout=SOCKET_TIMEOUT_S, context=unverified_context())
    served = client.sock.getpeercert(binary_form=True)
    client.quit()
    check(served == expected, f"served certificate differs from the first one in {pem_path}")
    print("peer-cert passed")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["starttls", "implicit", "submission", "auth-reset", "peer-cert"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--pem")
    parser.add_argument("--no-plaintext-auth", action="store_true")
    args = parser.parse_args()
    if args.scenario == "starttls":
        starttls(args.port)
    elif args.scenario == "implicit":
        implicit(args.port)
    elif args.scenario == "submission":
        submission(args.port, args.no_plaintext_auth)
    elif args.scenario == "auth-reset":
        auth_reset(args.port)
    else:
        check(args.pem is not None, "peer-cert needs --pem")
        peer_cert(args.port, args.pem)


if __name__ == "__main__":
    main()
