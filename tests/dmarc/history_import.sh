#!/bin/bash
# history_import.sh: --dmarc-history is what OpenDMARC's opendmarc-import
# (Debian's opendmarc package) reads. tests/unit/test_dmarc_history
# --write writes three records through the daemon's writer
# (milter/dmarc_history.c, milter/records.c): a pass, a fail with p=reject
# and two DKIM signatures, and one with a queue id, a d= and an s= full of
# spaces and a newline. A private MariaDB server (tests/lib/mariadb.sh)
# gets OpenDMARC's schema; the file, moved away as an admin's cron job
# does, goes through opendmarc-import unchanged, and the messages,
# signatures and requests tables hold exactly what the records say (the
# hostile text in its own field, escaped); opendmarc-reports then makes
# the aggregate report (RFC 7489 appendix C) from them.
# Then the daemon: an unopenable --dmarc-history file stops mxguard with
# a clear error; an openable one is created 0640 as the run user and
# made again after a rotation and SIGUSR1.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/mariadb.sh"
need_mariadb
need_cmd opendmarc-import
need_cmd opendmarc-reports
need_cmd unzip
need_cmd smtp-sink
perl -MSwitch -MDBI -MDBD::mysql -MJSON -e 1 2>/dev/null ||
    skip "opendmarc-import needs perl's Switch, DBI, DBD::mysql and JSON (scripts/install-deps.sh)"

WRITER="${BUILDDIR:-.}/tests/unit/test_dmarc_history"
[ -x "$WRITER" ] || { check "tests/unit/test_dmarc_history is built (make check builds it)" false; finish; }
SCHEMA=$(dpkg -L opendmarc 2>/dev/null | grep -m1 '/install/mysql$')
[ -f "$SCHEMA" ] || skip "OpenDMARC's MySQL schema is not where Debian's opendmarc package puts it"

HIST="$T/history"
check "the records are written" "$WRITER" --write "$HIST"
sed 's/^/#   /' "$HIST" | head -n 22

# Every key is one the importer knows (its own switch, read from the script).
sed -n 's/^[[:space:]]*case "\([a-z_]*\)".*/\1/p' "$(command -v opendmarc-import)" | sort -u >"$T/known-keys"
cut -d' ' -f1 "$HIST" | sort -u >"$T/our-keys"
check "opendmarc-import knows 20 keys or more" [ "$(wc -l <"$T/known-keys")" -ge 20 ]
check "every key we write is one opendmarc-import knows" [ -z "$(comm -23 "$T/our-keys" "$T/known-keys")" ]

start_mariadb || { check "a private MariaDB server starts" false; finish; }
mariadb_cmd <"$SCHEMA"
mariadb_cmd -e "CREATE USER 'opendmarc'@'localhost' IDENTIFIED BY 'pw14';
                GRANT ALL ON opendmarc.* TO 'opendmarc'@'localhost';"
# DBD::mysql connects to "localhost" through the unix socket libmariadb finds in MYSQL_UNIX_PORT.
export MYSQL_UNIX_PORT="$MARIADB_SOCK" OPENDMARC_DBHOST=localhost OPENDMARC_USER=opendmarc \
    OPENDMARC_PASSWORD=pw14 OPENDMARC_DB=opendmarc

# The cron job: move the file, then import what was moved.
mv "$HIST" "$HIST.1"
opendmarc-import --verbose <"$HIST.1" >"$T/import.out" 2>"$T/import.err"
check "opendmarc-import exits 0" [ $? -eq 0 ]
check "and says nothing is wrong" not_contains "$T/import.err" "unknown key|failed|error|uninitialized"
sed 's/^/#   /' "$T/import.err"

query() { mariadb_cmd --batch --raw --skip-column-names opendmarc -e "$1"; }
rows_are() { # rows_are NAME SQL: the rows (tab-separated) are standard input
    local name=$1 sql=$2
    cat >"$T/want.$name"
    query "$sql" >"$T/got.$name"
    if ! cmp -s "$T/want.$name" "$T/got.$name"; then
        diff "$T/want.$name" "$T/got.$name" | sed 's/^/#   /'
        return 1
    fi
}
TAB=$'\t'
check "messages: one row a record, every column as written" rows_are messages "
    SELECT m.jobid, r.name, UNIX_TIMESTAMP(m.date), m.policy, m.disp, i.addr, e.name, f.name, p.name,
           m.spf, m.align_dkim, m.align_spf, m.sigcount, m.arc, m.arc_policy
    FROM messages m JOIN reporters r ON r.id = m.reporter JOIN ipaddr i ON i.id = m.ip
    JOIN domains e ON e.id = m.env_domain JOIN domains f ON f.id = m.from_domain
    JOIN domains p ON p.id = m.policy_domain ORDER BY m.id" <<EOF
4Tq3xYz0Ab${TAB}mx.example.net${TAB}1767225600${TAB}15${TAB}2${TAB}192.0.2.10${TAB}mail.example.org${TAB}example.org${TAB}example.org${TAB}0${TAB}4${TAB}4${TAB}1${TAB}11${TAB}1
4Tq3xYz0Ac${TAB}mx.example.net${TAB}1767225661${TAB}16${TAB}0${TAB}2001:db8::25${TAB}bulk.example.net${TAB}news.example.com${TAB}example.com${TAB}2${TAB}5${TAB}5${TAB}2${TAB}11${TAB}1
Q\x201${TAB}mx.example.net${TAB}1767225721${TAB}16${TAB}0${TAB}2001:db8::25${TAB}bulk.example.net${TAB}news.example.com${TAB}example.com${TAB}2${TAB}5${TAB}5${TAB}1${TAB}11${TAB}1
EOF
check "signatures: each d= and s= with its result (permerror counted as an error)" rows_are signatures "
    SELECT m.jobid, d.name, s.name, g.pass, g.error
    FROM signatures g JOIN messages m ON m.id = g.message JOIN domains d ON d.id = g.domain
    JOIN selectors s ON s.id = g.selector ORDER BY g.id" <<EOF
4Tq3xYz0Ab${TAB}example.org${TAB}sel2026${TAB}0${TAB}0
4Tq3xYz0Ac${TAB}news.example.com${TAB}s1${TAB}7${TAB}0
4Tq3xYz0Ac${TAB}esp.example${TAB}k2${TAB}0${TAB}0
Q\x201${TAB}evil.example\x0ajob\x20x${TAB}a\x20b${TAB}5${TAB}1
EOF
check "requests: each From: domain's rua=, adkim, aspf, p, sp, pct" rows_are requests "
    SELECT d.name, q.repuri, q.adkim, q.aspf, q.policy, q.spolicy, q.pct
    FROM requests q JOIN domains d ON d.id = q.domain ORDER BY q.id" <<EOF
example.org${TAB}mailto:dmarc@example.org${TAB}114${TAB}114${TAB}114${TAB}0${TAB}100
news.example.com${TAB}mailto:agg@example.com,mailto:dmarc@report.example!10m${TAB}115${TAB}114${TAB}114${TAB}113${TAB}100
EOF

# The report an admin's cron job would mail to example.org (--test: made and kept, not sent;
# it still greets an SMTP server first: smtp-sink on a port of ours).
SMTP_PORT=$(free_port) || { check "a free port" false; finish; }
if [ "$(id -u)" = 0 ]; then set -- -u nobody; else set --; fi
smtp-sink "$@" "127.0.0.1:$SMTP_PORT" 16 >"$T/smtp-sink.log" 2>&1 </dev/null &
SINK_PID=$!
track_pid "$SINK_PID"
wait_for 10 port_busy "$SMTP_PORT"
mkdir "$T/reports"
(cd "$T/reports" && opendmarc-reports --test --utc --domain=example.org --interval=$((3 * 366 * 86400)) \
    --smtp-server=127.0.0.1 --smtp-port="$SMTP_PORT" --report-email=dmarc@mx.example.net \
    --report-org=mx.example.net >"$T/reports.out" 2>&1)
check "opendmarc-reports makes example.org's report" [ -n "$(ls "$T/reports" 2>/dev/null)" ]
for z in "$T"/reports/*.zip; do [ -f "$z" ] && (cd "$T/reports" && unzip -qo "$z"); done
XML=$(ls "$T"/reports/*example.org*.xml 2>/dev/null | head -n 1)
if [ -n "$XML" ]; then tr -d '\n' <"$XML" >"$T/report.xml"; else : >"$T/report.xml"; sed 's/^/#   /' "$T/reports.out"; fi
[ -n "$XML" ] && sed -n '/<policy_published>/,/<\/record>/s/^/#   /p' "$XML"
check "the report has our message from 192.0.2.10: pass, none, both aligned, DKIM sel2026" contains "$T/report.xml" \
    "<source_ip>192.0.2.10</source_ip>.*<disposition>none</disposition>.*<dkim>pass</dkim>.*<spf>pass</spf>.*<domain>example.org</domain>.*<selector>sel2026</selector>"
stop_mariadb

# --- the daemon ---------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
    ensure_user
    printf 'on rcpt {\n    [ok] continue;\n}\n' >"$T/ok.rules"
    chmod 644 "$T/ok.rules"
    timeout 30 "$MXGUARD" -f -c "$T/ok.rules" -p "unix:$T/bad.sock" -u mxguard --dns=127.0.0.1@9 \
        --dmarc-history "$T/no-such-dir/history" >"$T/bad.out" 2>&1 </dev/null
    check "an unopenable --dmarc-history file stops mxguard (exit 1)" test $? -eq 1
    check "and says which file and why" \
        contains "$T/bad.out" "--dmarc-history $T/no-such-dir/history: cannot open: No such file or directory"
    mkdir -p "$T/hist" && chown mxguard "$T/hist"
    start_mxguard "$T/ok.rules" --dmarc-history "$T/hist/history" || check "mxguard starts" false
    check "the file is made as the run user, 0640" \
        [ "$(stat -c '%U %a' "$T/hist/history" 2>/dev/null)" = "mxguard 640" ]
    mv "$T/hist/history" "$T/hist/history.1"
    kill -USR1 "$MXG_PID"
    check "SIGUSR1 makes it again under its name" wait_for 10 test -e "$T/hist/history"
else
    echo "# not root: the daemon checks are left out"
fi
finish
