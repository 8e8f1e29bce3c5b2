# postfix.sh: a private postfix instance, an smtp-sink and swaks for
# end-to-end tests. Source it after common.sh:
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/postfix.sh"
#   need_postfix                       # skips (77) unless root and the tools exist
#   start_mxguard "$rules"
#   start_sink                         # SINK_PORT, SINK_DIR, SINK_PID
#   start_postfix "unix:$MXG_SOCK"     # PF_PORT, PF_DIR (config), PF_QUEUE, PF_LOG
#   smtp_send "$T/out.1" --from a@example.org --to b@example.org \
#       --xclient-addr 203.0.113.7 --header "X-Test-Id: $(test_id)"
#   sink_wait_for "$id"
#
# Everything lives below $T: its own config, queue and data directories,
# its own log (postlogd), its own ports. The system's /etc/postfix
# instance is never touched (only read: postfix-files, dynamicmaps.cf).
# Nothing here resolves names: no DNS lookups by postfix, bracketed next
# hop, no peer name lookups. Traffic goes to loopback only.
#
# Postfix is up when its port listens (checked with ss): connecting to find
# out would open a milter session.

PF_ROOT=""
PF_DIR=""
PF_QUEUE=""
PF_PORT=""
PF_LOG=""
PF_MASTER_PID=""
SINK_PORT=""
SINK_DIR=""
SINK_PID=""
PF_TEST_SEQ=0
PF_STOP_HOOKED=""
# PF_MAIN_EXTRA: main.cf settings ("name = value", one a line) a test
# sets on top of those below (set it before start_postfix).
PF_MAIN_EXTRA=${PF_MAIN_EXTRA:-}

# Signals turn into an exit with cleanup: see common.sh (on_signal).

need_postfix() {
    need_root
    need_cmd postfix
    need_cmd postconf
    need_cmd smtp-sink
    need_cmd swaks
    need_cmd ss
    id postfix >/dev/null 2>&1 || skip "needs the postfix user (install postfix)"
}

# show FILE [TITLE]: print a file as "# " diagnostic lines.
show() {
    echo "# --- ${2:-$1}"
    if [ -f "$1" ]; then sed 's/^/#   /' "$1"; else echo "#   (no such file)"; fi
}

# port_listening PORT: a TCP listener on 127.0.0.1:PORT (or any address).
port_listening() {
    ss -ltnH 2>/dev/null | awk -v p="$1" '
        { n = split($4, a, ":"); if (a[n] == p) found = 1 }
        END { exit !found }'
}


# pid_listens PID PORT: process PID has a listener on PORT.
pid_listens() {
    ss -ltnpH 2>/dev/null | awk -v p="$2" -v pid="pid=$1," '
        { n = split($4, a, ":"); if (a[n] == p && index($0, pid)) found = 1 }
        END { exit !found }'
}

# port_only_ours PID PORT: the only listening socket on PORT is PID's
# (with SO_REUSEPORT a second process could share it silently).
port_only_ours() {
    ss -ltnpH 2>/dev/null | awk -v p="$2" -v pid="pid=$1," '
        { n = split($4, a, ":"); if (a[n] == p) { total++; if (index($0, pid)) ours++ } }
        END { exit !(total == 1 && ours == 1) }'
}

# pf_listening_on PID PORT: wait until PID listens on PORT, alone.
pf_listening_on() {
    wait_for 10 pid_listens "$1" "$2" || return 1
    port_only_ours "$1" "$2" && return 0
    echo "# port $2 is shared with another process:"
    ss -ltnpH 2>/dev/null | awk -v p="$2" '{ n = split($4, a, ":"); if (a[n] == p) print "#   " $0 }'
    return 1
}

# test_id: a unique value for an X-Test-Id header.
test_id() {
    PF_TEST_SEQ=$((PF_TEST_SEQ + 1))
    echo "$TEST_NAME-$$-$(date +%s)-$RANDOM-$PF_TEST_SEQ"
}

# --- smtp-sink ---------------------------------------------------------------

# start_sink: an SMTP server on 127.0.0.1:SINK_PORT that accepts
# everything and keeps one file per message in SINK_DIR (files msg.*).
# Sets SINK_PORT, SINK_DIR, SINK_PID.
start_sink() {
    local attempt
    SINK_DIR="$T/sink"
    mkdir -p "$SINK_DIR"
    chown nobody "$SINK_DIR"
    for attempt in 1 2 3 4 5; do
        SINK_PORT=$(free_port) || return 1
        smtp-sink -c -u nobody -d "$SINK_DIR/msg." "127.0.0.1:$SINK_PORT" 256 \
            >"$T/sink.log" 2>&1 </dev/null &
        SINK_PID=$!
        track_pid "$SINK_PID"
        if pf_listening_on "$SINK_PID" "$SINK_PORT"; then
            return 0
        fi
        kill "$SINK_PID" 2>/dev/null
        wait "$SINK_PID" 2>/dev/null
        echo "# smtp-sink did not listen on port $SINK_PORT (attempt $attempt)"
        show "$T/sink.log" "smtp-sink output"
    done
    return 1
}

# sink_files_with ID: the dump files holding ID (one a line).
sink_files_with() {
    grep -lF -- "$1" "$SINK_DIR"/msg.* 2>/dev/null
}

sink_has() { [ -n "$(sink_files_with "$1")" ]; }

# sink_wait_for ID [SECONDS]: wait until a message with ID arrived.
sink_wait_for() {
    wait_for "${2:-15}" sink_has "$1"
}

# pf_queue_empty: no message anywhere in the private queue.
pf_queue_empty() {
    local q="$PF_QUEUE" d
    for d in maildrop incoming active deferred hold; do
        [ -d "$q/$d" ] || continue
        [ -z "$(find "$q/$d" -type f -print -quit)" ] || return 1
    done
    return 0
}

# never_got_after EMPTY SHOW ID: the message with ID did not arrive and
# will not: the MTA's queue is empty (the command EMPTY succeeds; SHOW
# prints it when it does not drain), so nothing is on its way, and no dump
# file of the sink holds ID. One body for every MTA the tests drive.
never_got_after() {
    if ! wait_for 15 "$1"; then
        echo "# the MTA's queue did not drain:"
        "$2"
        return 1
    fi
    shift 2
    if sink_has "$1"; then
        echo "# message $1 arrived at the sink after all:"
        local f
        for f in $(sink_files_with "$1"); do show "$f"; done
        return 1
    fi
    return 0
}

pf_queue_show() { postqueue -c "$PF_DIR" -p 2>&1 | sed 's/^/#   /'; }

# sink_never_got ID: never_got_after for the private postfix.
sink_never_got() { never_got_after pf_queue_empty pf_queue_show "$1"; }

# --- postfix ------------------------------------------------------------------

# pf_conf_write MILTER: write main.cf, master.cf and the SASL files.
pf_conf_write() {
    local milter=$1
    local etc="$PF_DIR"
    cat >"$etc/main.cf" <<EOF
# Written by tests/lib/postfix.sh for one test run: a private instance.
compatibility_level = 3.6
queue_directory = $PF_QUEUE
data_directory = $PF_ROOT/data
maillog_file = $PF_LOG
maillog_file_prefixes = $T
syslog_name = postfix-$TEST_NAME
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.mxguard.test
mydomain = mxguard.test
myorigin = \$myhostname
mydestination =
mynetworks = 127.0.0.1/32
relay_domains = example.org example.net
local_transport = error:local delivery is disabled in this test instance
local_recipient_maps =
alias_maps =
alias_database =
default_transport = smtp:[127.0.0.1]:$SINK_PORT
relay_transport = smtp:[127.0.0.1]:$SINK_PORT
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP mxguard-e2e
biff = no
append_dot_mydomain = no
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_relay_restrictions = check_client_access static:OK, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_client_connection_rate_limit = 0
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
smtpd_milters = $milter
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 5s
milter_command_timeout = 10s
milter_content_timeout = 30s
smtp_connect_timeout = 5s
smtp_helo_timeout = 10s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
queue_run_delay = 5s
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
smtpd_sasl_local_domain = mxguard.test
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = no
cyrus_sasl_config_path = $etc/sasl
smtpd_tls_security_level = none
smtp_tls_security_level = none
EOF
    if [ -n "$PF_MAIN_EXTRA" ]; then
        local line
        while IFS= read -r line; do
            [ -n "$line" ] && postconf -c "$etc" -e "$line"
        done <<<"$PF_MAIN_EXTRA"
    fi
    cat >"$etc/master.cf" <<EOF
# service      type  private unpriv chroot wakeup maxproc command
127.0.0.1:$PF_PORT inet n     -      n      -      -       smtpd
pickup         unix  n       -      n      60     1       pickup
cleanup        unix  n       -      n      -      0       cleanup
qmgr           unix  n       -      n      300    1       qmgr
rewrite        unix  -       -      n      -      -       trivial-rewrite
bounce         unix  -       -      n      -      0       bounce
defer          unix  -       -      n      -      0       bounce
trace          unix  -       -      n      -      0       bounce
verify         unix  -       -      n      -      1       verify
flush          unix  n       -      n      1000?  0       flush
proxymap       unix  -       -      n      -      -       proxymap
showq          unix  n       -      n      -      -       showq
error          unix  -       -      n      -      -       error
retry          unix  -       -      n      -      -       error
discard        unix  -       -      n      -      -       discard
smtp           unix  -       -      n      -      -       smtp
relay          unix  -       -      n      -      -       smtp
anvil          unix  -       -      n      -      1       anvil
tlsmgr         unix  -       -      n      1000?  1       tlsmgr
scache         unix  -       -      n      -      1       scache
postlog        unix-dgram n  -      n      -      1       postlogd
EOF
    # SASL: cyrus reads smtpd.conf from cyrus_sasl_config_path; the user
    # database is a sasldb of our own. smtpd (user postfix) reads both.
    mkdir -p "$etc/sasl"
    cat >"$etc/sasl/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $etc/sasl/sasldb2
EOF
    chown root:postfix "$etc/sasl/smtpd.conf"
    chmod 0640 "$etc/sasl/smtpd.conf"
}

# pf_add_sasl_user USER PASSWORD [REALM]: add a user to the instance's
# sasldb, in REALM (default mxguard.test, the instance's
# smtpd_sasl_local_domain). Call after start_postfix (smtpd opens the
# database per session).
pf_add_sasl_user() {
    local db="$PF_DIR/sasl/sasldb2"
    command -v saslpasswd2 >/dev/null 2>&1 || {
        echo "# saslpasswd2 missing (package sasl2-bin)"
        return 1
    }
    printf '%s' "$2" | saslpasswd2 -f "$db" -p -c -u "${3:-mxguard.test}" "$1" || return 1
    chown root:postfix "$db"
    chmod 0640 "$db"
}

# pf_master_pid: the master's PID from its pid file, if that process is
# a postfix master of this instance (its environment names our config).
pf_master_pid() {
    local pid
    [ -n "$PF_DIR" ] || return 1
    pid=$(awk 'NR == 1 { print $1 }' "$PF_QUEUE/pid/master.pid" 2>/dev/null)
    [ -n "$pid" ] || return 1
    pf_is_our_master "$pid" || return 1
    echo "$pid"
}

pf_is_our_master() {
    [ -r "/proc/$1/environ" ] || return 1
    [ "$(cat "/proc/$1/comm" 2>/dev/null)" = master ] || return 1
    tr '\0' '\n' <"/proc/$1/environ" 2>/dev/null | grep -qxF "MAIL_CONFIG=$PF_DIR"
}

# start_postfix MILTER_SOCKET: write the configuration and start the
# instance on 127.0.0.1:PF_PORT with smtpd_milters = MILTER_SOCKET (postfix
# syntax: unix:/path or inet:host:port). Needs start_sink first. Sets
# PF_DIR (config_directory), PF_QUEUE, PF_PORT, PF_LOG, PF_MASTER_PID.
# Stopped at exit. Below $T/postfix: etc (config, sasl/), queue, data
# (owned by postfix), maillog; the config directory must not hold the
# queue (postfix check wants everything below it owned by root).
start_postfix() {
    local milter=$1 attempt
    [ -n "$SINK_PORT" ] || { echo "# start_postfix: call start_sink first"; return 1; }
    PF_ROOT="$T/postfix"
    PF_DIR="$PF_ROOT/etc"
    PF_QUEUE="$PF_ROOT/queue"
    PF_LOG="$PF_ROOT/maillog"
    mkdir -p "$PF_DIR" "$PF_QUEUE" "$PF_ROOT/data"
    chown root:root "$PF_ROOT" "$PF_DIR" "$PF_QUEUE"
    chmod 0755 "$PF_ROOT" "$PF_DIR" "$PF_QUEUE"
    chown postfix "$PF_ROOT/data"
    if [ -z "$PF_STOP_HOOKED" ]; then
        PF_STOP_HOOKED=1
        on_exit stop_postfix
    fi
    for attempt in 1 2 3; do
        PF_PORT=$(free_port) || return 1
        pf_conf_write "$milter"
        if ! postfix -c "$PF_DIR" start >"$T/postfix-start.log" 2>&1; then
            echo "# postfix -c $PF_DIR start failed (attempt $attempt):"
            show "$T/postfix-start.log" "postfix start"
            [ -f "$PF_LOG" ] && tail -n 20 "$PF_LOG" | sed 's/^/#   /'
            stop_postfix
            return 1
        fi
        PF_MASTER_PID=$(pf_master_pid) || PF_MASTER_PID=""
        if [ -n "$PF_MASTER_PID" ] && pf_listening_on "$PF_MASTER_PID" "$PF_PORT"; then
            return 0
        fi
        # Someone else took the port between free_port and the bind, or
        # the master died: stop what we have and try another port.
        echo "# postfix did not listen on 127.0.0.1:$PF_PORT (attempt $attempt); log tail:"
        [ -f "$PF_LOG" ] && tail -n 20 "$PF_LOG" | sed 's/^/#   /'
        stop_postfix
    done
    return 1
}

# setup_failed WHAT: a set-up step failed: count it, show the logs of
# what was started (mxguard, postfix, and sendmail when sendmail.sh is
# sourced) and stop the test.
setup_failed() {
    echo "# set-up failed: $*"
    CHECKS=$((CHECKS + 1))
    FAILURES=$((FAILURES + 1))
    [ -n "${MXG_LOG:-}" ] && show "$MXG_LOG" "mxguard log"
    [ -n "$PF_LOG" ] && [ -f "$PF_LOG" ] && pf_log_tail 20
    declare -F sm_setup_context >/dev/null && sm_setup_context
    finish
}

# copy_gateway_rules DIR: the shipped gateway rules and their list files,
# readable by the run user, for a test to edit as an admin would.
copy_gateway_rules() {
    mkdir -p "$1" && cp -R "$SRCDIR/rules/examples/." "$1/" && chmod -R go+rX "$1"
}

# pf_add_listener MILTER: a second smtpd on its own port (PF_PORT2) that
# uses another milter (postfix syntax), so one instance serves two
# mxguard daemons. send through it with: PF_PORT=$PF_PORT2 smtp_send ...
pf_add_listener() {
    PF_PORT2=$(free_port) || return 1
    printf '127.0.0.1:%s inet n - n - - smtpd -o smtpd_milters=%s\n' "$PF_PORT2" "$1" >>"$PF_DIR/master.cf"
    pf_reload || return 1
    pf_listening_on "$PF_MASTER_PID" "$PF_PORT2"
}

# pf_reload: make the master re-read main.cf/master.cf (after pf_set).
pf_reload() {
    postfix -c "$PF_DIR" reload >>"$T/postfix-start.log" 2>&1
}

# pf_set NAME=VALUE...: change main.cf settings of the instance (then pf_reload).
pf_set() {
    postconf -c "$PF_DIR" -e "$@"
}

# stop_postfix: postfix stop, then make sure the master and every process
# it started are gone (by PID, checked to be ours). Idempotent.
stop_postfix() {
    local pid kids k
    [ -n "$PF_DIR" ] && [ -f "$PF_DIR/main.cf" ] || return 0
    pid=$(pf_master_pid) || pid=$PF_MASTER_PID
    [ -n "$pid" ] && pf_is_our_master "$pid" || pid=""
    kids=""
    [ -n "$pid" ] && kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ')
    if [ -n "$pid" ]; then
        postfix -c "$PF_DIR" stop >>"$T/postfix-stop.log" 2>&1 || true
        if ! wait_for 10 pid_gone "$pid"; then
            echo "# postfix master $pid did not stop: killing it"
            pf_is_our_master "$pid" && kill -KILL "$pid" 2>/dev/null
        fi
    fi
    # The master's children exit when it does; make sure. Only kill a PID
    # that still runs a postfix program from this instance.
    for k in $kids; do
        wait_for 5 pid_gone "$k" && continue
        if tr '\0' '\n' <"/proc/$k/environ" 2>/dev/null | grep -qxF "MAIL_CONFIG=$PF_DIR"; then
            echo "# postfix process $k ($(cat /proc/$k/comm 2>/dev/null)) left behind: killing it"
            kill -KILL "$k" 2>/dev/null
        fi
    done
    PF_MASTER_PID=""
    return 0
}

# pf_log_wait REGEX [SECONDS]: wait until the instance's maillog matches
# (postlogd writes asynchronously); print the log's tail if it never does.
pf_log_wait() {
    wait_for "${2:-10}" contains "$PF_LOG" "$1" && return 0
    echo "# the postfix maillog has no line matching /$1/"
    pf_log_tail 20
    return 1
}

# pf_log_wait_str STRING [SECONDS]: the same with a fixed string.
pf_log_wait_str() {
    wait_for "${2:-10}" grep -qF -- "$1" "$PF_LOG" && return 0
    echo "# the postfix maillog has no line containing: $1"
    pf_log_tail 20
    return 1
}

# pf_log_tail [N]: the last N lines of the maillog as diagnostics.
pf_log_tail() {
    echo "# --- postfix maillog (last ${1:-25} lines)"
    tail -n "${1:-25}" "$PF_LOG" 2>/dev/null | sed 's/^/#   /'
}

# --- swaks --------------------------------------------------------------------

# smtp_send OUTFILE [swaks options...]: one SMTP transaction against the
# private postfix; the transcript (client " -> ", server "<- ", server
# error "<** ") goes to OUTFILE, swaks' exit code is returned (23: MAIL
# failed, 24: no RCPT accepted; read the reply lines rather than the code).
smtp_send() {
    local out=$1; shift
    swaks --server 127.0.0.1 --port "$PF_PORT" --helo client.mxguard.test \
        --timeout 30 "$@" >"$out" 2>&1 </dev/null
}

# server_replies OUTFILE: the server's reply lines without swaks' markers.
server_replies() {
    sed -En 's/^<(-|\*\*) +//p' "$1"
}

# reply_is OUTFILE TEXT: some server reply line is exactly TEXT (code,
# enhanced code and text), e.g. "554 5.7.1 <a@b>: Relay access denied".
reply_is() {
    if server_replies "$1" | grep -qxF -- "$2"; then
        return 0
    fi
    echo "# no server reply is exactly: $2"
    show "$1" "swaks transcript"
    pf_log_tail 15
    return 1
}

# reply_after OUTFILE COMMAND REGEX: the first server reply line after
# the first client line starting with COMMAND (a fixed string such as
# "MAIL FROM:" or "RCPT TO:<a@b>") matches REGEX (ERE, anchored by the
# caller if it wants). swaks does not pipeline, so replies follow their
# command.
reply_after() {
    local got
    got=$(awk -v cmd="$2" '
        found && /^<(-|\*\*) / { sub(/^<(-|\*\*) +/, ""); print; exit }
        !found && index($0, " -> " cmd) == 1 { found = 1 }' "$1")
    if printf '%s\n' "$got" | grep -Eq -- "$3"; then
        return 0
    fi
    echo "# reply to '$2' was '${got:-(none)}', wanted /$3/"
    show "$1" "swaks transcript"
    pf_log_tail 15
    return 1
}

# reply_matches OUTFILE REGEX: a server reply line ("<- " or "<** ") of
# the transcript matches REGEX (anchored after the marker). Prints the
# transcript and the log tail when it does not.
reply_matches() {
    if grep -Eq -- "^<(-|\*\*) +$2" "$1"; then
        return 0
    fi
    echo "# no server reply matching /$2/ in $1"
    show "$1" "swaks transcript"
    pf_log_tail 15
    return 1
}
