#!/usr/bin/env python3
# smtp_load.py: an SMTP load generator for the kill -9 tests
# (tests/e2e/kill_load_*.sh): MESSAGES sessions, one message each, at
# CONCURRENCY, to an MTA on loopback; unlike smtp-source it goes on after
# a refusal and says, for every session, what the client saw (appended
# to OUT).
#
#   smtp_load.py HOST PORT MESSAGES CONCURRENCY OUT [TAG]
#
# Each message carries a Message-ID of its own (<TAG.N@load.mxguard.test>)
# and a 1 KB body. OUT gets one line a session, in the order they ended:
#   N MESSAGE-ID CODE STAGE
# CODE is the reply that ended the transaction: 250 for a message the
# MTA took (after the end of data), else the first refusal (4xx, 5xx) or
# ERR for anything else (a dropped connection, a timeout); STAGE is where
# (connect, ehlo, mail, rcpt, data, done). It must never wait forever
# (every session has a timeout) and talks to loopback only.
import smtplib
import sys
import threading

SENDER = "sender@outside.example"
RCPT = "user@example.org"
BODY = "".join("load line %04d %s\r\n" % (i, "x" * 48) for i in range(16))


def message(tag, n):
    mid = "<%s.%d@load.mxguard.test>" % (tag, n)
    text = ("From: <%s>\r\nTo: <%s>\r\nSubject: load %d\r\nMessage-ID: %s\r\n\r\n%s"
            % (SENDER, RCPT, n, mid, BODY))
    return mid, text


def one(host, port, tag, n):
    mid, text = message(tag, n)
    stage = "connect"
    try:
        s = smtplib.SMTP(timeout=60)
        try:
            code, _ = s.connect(host, port)
            if code != 220:
                return mid, str(code), stage
            stage = "ehlo"
            code, _ = s.ehlo("client.outside.example")
            if code != 250:
                return mid, str(code), stage
            stage = "mail"
            code, _ = s.mail(SENDER)
            if code != 250:
                return mid, str(code), stage
            stage = "rcpt"
            code, _ = s.rcpt(RCPT)
            if code not in (250, 251):
                return mid, str(code), stage
            stage = "data"
            code, _ = s.data(text)
            if code != 250:
                return mid, str(code), stage
            stage = "done"
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass
            return mid, "250", stage
        finally:
            s.close()
    except smtplib.SMTPResponseException as e:
        return mid, str(e.smtp_code), stage
    except (smtplib.SMTPException, OSError) as e:
        return mid, "ERR", "%s:%s" % (stage, type(e).__name__)


def main():
    if len(sys.argv) not in (6, 7):
        sys.exit("usage: smtp_load.py HOST PORT MESSAGES CONCURRENCY OUT [TAG]")
    host, port = sys.argv[1], int(sys.argv[2])
    total, conc = int(sys.argv[3]), int(sys.argv[4])
    tag = sys.argv[6] if len(sys.argv) == 7 else "load"
    lock = threading.Lock()
    state = {"next": 0}
    out = open(sys.argv[5], "a", buffering=1)

    def worker():
        while True:
            with lock:
                n = state["next"]
                if n >= total:
                    return
                state["next"] = n + 1
            mid, code, stage = one(host, port, tag, n)
            with lock:
                out.write("%d %s %s %s\n" % (n, mid, code, stage))

    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.close()


if __name__ == "__main__":
    main()
