#!/bin/bash
# session_parity.sh: the session simulator (mxguard --test-session) and
# the daemon behind a real postfix decide the same, session by session.
# For every transcript tests/cli/sessions/*.in (found by glob: a new
# session is covered without touching this file), the dialogue is played
# twice, live: through the simulator with the session's "# args:", and
# through a private postfix 3.7 (tests/lib/postfix.sh) whose milter is the
# daemon on the same rule file, by a small client of our own (Python,
# written below) that sends it command by command: XCLIENT gives the
# session's client address and name, SMTP AUTH its --auth-user, STARTTLS
# its TLS macros. The stored .out files are never read.
#
# Compared, command by command: whether the command was refused, and
# whether by mxguard (the simulator: a "# stage: ..." comment before the
# reply; postfix: a "milter-reject" line in its log for that command);
# a refusal by mxguard must be the same reply in both, code, enhanced
# code and text, every line. An acceptance is compared as such (postfix
# words its own 2xx and 3xx replies). Then, for each message accepted,
# the header edits the simulator prints ("# eom: add-header ...",
# authentication-results, received-spf, change-header, delete-header,
# "remove N Authentication-Results ...", quarantine) against the message
# postfix delivered to an smtp-sink (or put on hold, for a quarantine):
# every added header there with the same value (folding whitespace
# aside), every removed one gone, and no edit the simulator did not show.
#
# Differences that belong to the MTA, not to mxguard, are understood and
# declared below (MTA_OWN and the comparer), each with why; they are
# printed as notes and still checked (postfix's log must show that the
# milter did not decide, and postfix's reply and the simulator's must be
# the declared ones). One "check" line per session, and one per
# difference ("DIFFERS: ..."), which names the command and both replies.
#
# A session the daemon cannot be made to see the same way (an MTA macro
# postfix does not give, a TLS session other than the one negotiated,
# --later, greylisting without --store, which the simulator then skips)
# is not compared: the reason is printed and counted, never dropped.
#
# One postfix and one smtp-sink for all sessions; one daemon per rule
# file and set of engine options, each on a socket of its own behind the
# link postfix connects to. Engine options of a session (--dns,
# --authserv-id, --store, --dns-timeout, ...) go to both; a --store
# lmdb-path gets a fresh scratch store on each side. A session without
# --dns: the simulator has no resolver, the daemon asks a closed port
# (start_mxguard); DNS answers neither, so both see a temporary error.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
need_postfix
need_cmd python3
need_cmd saslpasswd2
need_cmd postcat
need_cmd openssl
ensure_user             # the owner of the daemon's scratch stores

# PARITY_SESSIONS: another directory of sessions (to try one alone).
SESSIONS_DIR=${PARITY_SESSIONS:-$SRCDIR/tests/cli/sessions}
SASL_PASS="pw-$$-$RANDOM"

# --- what postfix does itself ------------------------------------------------------
# MTA_OWN: refusals postfix gives on its own, before (or instead of)
# asking the milter, where the simulator gives the command to the rules.
# One line each, tab-separated: a regular expression on the command, one
# on postfix's reply, one on the simulator's, and why. Such a refusal is
# a declared difference (a note, not a failure) only where postfix's log
# has no milter-reject for it and all three expressions match.
#
# A declared 221 or 421 ends the comparison of the session: postfix hung
# up. Declared in the comparer below: a milter's refusal of CONNECT, HELO or
# EHLO is answered "250" by postfix (sendmail compatibility, smtpd.c
# helo_cmd: "the reply persists so it will apply to MAIL FROM"); postfix
# logs it as "milter-reject: HELO", and that logged reply is compared
# with the simulator's refusal of the HELO. Postfix adds a Received
# header to every message, and Message-Id, Date and From to one that
# lacks them (cleanup): not edits of mxguard's.
MTA_OWN=$(cat <<'EOF'
^MAIL FROM:<[^>]* [^>]*>	^501 5\.1\.7 Bad sender address syntax$	^5	postfix parses the path itself and refuses a malformed one (spaces inside <>) before the milter sees MAIL FROM; the simulator lets the rules judge it
^RCPT TO:<[^>]* [^>]*>	^501 5\.1\.3 Bad recipient address syntax$	^5	postfix parses the path itself and refuses a malformed one (spaces inside <>) before the milter sees RCPT TO; the simulator lets the rules judge it
^MAIL FROM:	^503 5\.5\.1 Error: nested MAIL command$	^250 	a MAIL FROM inside an open transaction: postfix refuses it (RFC 5321 wants RSET first) and the milter never sees it; the simulator starts a new transaction and asks the rules
^DATA$	^503 5\.5\.1 Error: need (RCPT|MAIL) command$	^554 5\.5\.1 Error: no valid recipients$	DATA before any RCPT TO: postfix says 503 (its 554 "no valid recipients" is for a transaction whose recipients were all refused); the simulator gives every DATA without recipients the 554
^[!-9;-~]+:	^221 2\.7\.0 Error: I can break rules, too\. Goodbye\.$	^502 	a header line sent as a command (the message of a DATA that was refused): postfix takes the client for one that ignores replies, answers 221 and hangs up; the simulator answers 502 and reads on
EOF
)

# --- the client and the comparison -------------------------------------------------
printf '%s\n' "$MTA_OWN" >"$T/mta-own.tsv"

# --- a session's options --------------------------------------------------------------
# parse_args NAME ARGS...: split the "# args:" of a session into
#   S_RULES (absolute), S_ADDR, S_NAME, S_USER, S_TLS (a TLS version,
#   "any" or empty) and S_TLS_WANT (the TLS macros), S_SIM (the simulator's
#   arguments, a --store made a scratch one), S_DAEMON (engine options
#   for the daemon, one a line), S_SKIP (why it cannot be compared).
parse_args() {
    local name=$1 opt val store_n=0 macros=() m
    shift
    S_RULES="" S_ADDR="" S_NAME="" S_USER="" S_SKIP="" S_SIM=() S_DAEMON="" S_TLS="" S_TLS_WANT=""
    while [ $# -gt 0 ]; do
        opt=$1
        shift
        case $opt in
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        -c|--config|--test-session|--client-name|--auth-user|--macro|--later|--store|--dns|--authserv-id|--dns-timeout|--dns-budget|--dnssec-trust-anchor|--trust-anchor)
            val=${1-}; shift ;;
        *) val="" ;;
        esac
        case $opt in
        -c|--config)
            case $val in /*) S_RULES=$val ;; *) S_RULES="$SRCDIR/$val" ;; esac
            S_SIM+=(-c "$S_RULES") ;;
        --test-session) S_ADDR=$val; S_SIM+=(--test-session "$val") ;;
        --client-name) S_NAME=$val; S_SIM+=(--client-name "$val") ;;
        --auth-user) S_USER=$val; S_SIM+=(--auth-user "$val") ;;
        --macro) macros+=("$val"); S_SIM+=(--macro "$val") ;;
        --later) S_SKIP="--later $val moves the simulator's clock; the daemon runs on the real one"; S_SIM+=(--later "$val") ;;
        --store)
            # Each side gets a fresh scratch store of its own, the same
            # empty state to start from.
            case $val in
            lmdb-path=*)
                store_n=$((store_n + 1))
                mkdir -p "$T/store/$name.sim" "$T/store/$name.daemon"
                chown mxguard "$T/store/$name.daemon" 2>/dev/null
                S_SIM+=(--store "lmdb-path=$T/store/$name.sim/$store_n.lmdb")
                S_DAEMON+="--store"$'\n'"lmdb-path=$T/store/$name.daemon/$store_n.lmdb"$'\n' ;;
            *) S_SIM+=(--store "$val"); S_DAEMON+="--store"$'\n'"$val"$'\n' ;;
            esac ;;
        --*)
            # An engine option: both sides.
            if [ -n "$val" ]; then
                S_SIM+=("$opt" "$val"); S_DAEMON+="$opt"$'\n'"$val"$'\n'
            else
                S_SIM+=("$opt"); S_DAEMON+="$opt"$'\n'
            fi ;;
        *) S_SKIP="an argument this test does not know: $opt" ;;
        esac
    done
    # Postfix gives the daemon {auth_authen} after SMTP AUTH, which the
    # client does for --auth-user (the simulator takes the fact
    # "authenticated" from --auth-user, not from the macro), and
    # {tls_version}, {cipher} and {cipher_bits} after STARTTLS, which the
    # client does (of that TLS version) when the session gives one of
    # them: the session is compared if the TLS session has those values.
    # No other macro can be made to reach the daemon with a chosen value.
    for m in ${macros[@]+"${macros[@]}"}; do
        case $m in
        "{auth_authen}=$S_USER") [ -n "$S_USER" ] && continue ;;
        "{tls_version}=TLSv1.2"|"{tls_version}=TLSv1.3") S_TLS=${m#*=}; S_TLS_WANT+="${S_TLS_WANT:+|}$m"; continue ;;
        "{cipher}="*|"{cipher_bits}="*) S_TLS=${S_TLS:-any}; S_TLS_WANT+="${S_TLS_WANT:+|}$m"; continue ;;
        esac
        S_SKIP=${S_SKIP:-"--macro $m: postfix would not give the daemon that macro with that value here"}
    done
    [ -n "$S_RULES" ] || S_SKIP=${S_SKIP:-"no -c RULES in its args"}
    [ -n "$S_ADDR" ] || S_SKIP=${S_SKIP:-"no --test-session ADDR in its args"}
}

# daemon_for RULES OPTIONS: a daemon running on RULES with OPTIONS (one
# a line) behind postfix's milter socket, $T/milter.sock: a symbolic link
# to the socket of the daemon of the current group. A new group's daemon
# starts on a socket of its own, the link turns to it, and the previous
# daemon is stopped in the background (a daemon takes seconds to stop).
# -v: its decisions in its log.
CUR_DAEMON=""
OLD_DAEMONS=""
DAEMONS=0
daemon_for() {
    local key="$1"$'\n'"$2" opts=() old=${MXG_PID:-}
    [ "$key" = "$CUR_DAEMON" ] && filter_pid_exists && return 0
    [ -n "$2" ] && mapfile -t opts <<<"${2%$'\n'}"
    DAEMONS=$((DAEMONS + 1))
    MXG_SOCK_NAME="mxguard-$DAEMONS.sock" start_mxguard "$1" -v "${opts[@]}" || return 1
    ln -sfn "mxguard-$DAEMONS.sock" "$T/milter.sock.new" && mv -Tf "$T/milter.sock.new" "$T/milter.sock" || return 1
    CUR_DAEMON=$key
    if [ -n "$old" ]; then
        kill -TERM "$old" 2>/dev/null
        OLD_DAEMONS="$OLD_DAEMONS $old"
    fi
}

# old_daemons_gone: the daemons of earlier groups have exited (before
# finish reads their logs for sanitizer reports).
old_daemons_gone() {
    local pid
    for pid in $OLD_DAEMONS; do
        wait_for 20 pid_gone "$pid" || return 1
        untrack_pid "$pid"
    done
}

elapsed_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# --- start ------------------------------------------------------------------------------
start_sink || setup_failed "smtp-sink did not start"
# XCLIENT ADDR=IPV6:... needs IPv6 among postfix's protocols (it still
# listens on 127.0.0.1 only). Without a local domain for SASL, a user
# "alice" of realm mx.mxguard.test (myhostname) authenticates as
# "alice", which postfix gives the daemon as {auth_authen}: the
# simulator's --auth-user alice.
# STARTTLS with a certificate of our own, for sessions that give TLS macros.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mx.mxguard.test \
    -keyout "$T/tls.key" -out "$T/tls.crt" >"$T/openssl.log" 2>&1 || setup_failed "openssl req failed"
chmod 644 "$T/tls.key"
PF_MAIN_EXTRA="inet_protocols = all
smtpd_sasl_local_domain =
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/tls.crt
smtpd_tls_key_file = $T/tls.key"
start_postfix "unix:$T/milter.sock" || setup_failed "postfix did not start"
echo "# postfix on 127.0.0.1:$PF_PORT, smtp-sink on 127.0.0.1:$SINK_PORT"

# Sessions in an order that groups those sharing a daemon.
SESSIONS=()
declare -A KEY_OF=()
for in in "$SESSIONS_DIR"/*.in; do
    [ -f "$in" ] || continue
    name=$(basename "$in" .in)
    read -r -a argv <<<"$(sed -n '1s/^# args: //p' "$in")"
    parse_args "$name" "${argv[@]}"
    KEY_OF[$name]="$S_RULES"$'\n'"$S_DAEMON"
    SESSIONS+=("$name")
done
[ "${#SESSIONS[@]}" -gt 0 ] || setup_failed "no session in $SESSIONS_DIR"
mapfile -t ORDER < <(for n in "${SESSIONS[@]}"; do printf '%s\t%s\n' "$(printf '%s' "${KEY_OF[$n]}" | md5sum | cut -c1-8)" "$n"; done | sort | cut -f2)

declare -A SASL_USERS=()
COMPARED=0
SKIPPED=0
SKIP_LIST=""
for name in "${ORDER[@]}"; do
    in="$SESSIONS_DIR/$name.in"
    read -r -a argv <<<"$(sed -n '1s/^# args: //p' "$in")"
    parse_args "$name" "${argv[@]}"
    # The simulator, from the source tree as test_session.sh runs it.
    (cd "$SRCDIR" && "$MXGUARD" "${S_SIM[@]}" <"$in" >"$T/$name.sim" 2>&1)
    rc=$?
    [ "$rc" -eq 0 ] || check "session $name: the simulator exits 0 (it exited $rc)" false
    if [ -z "$S_SKIP" ] && grep -q '^# the rules greylist or test rate limits, but no --store was given' "$T/$name.sim"; then
        S_SKIP="its rules greylist or rate-limit and it gives no --store: the simulator skips those checks, the daemon never does"
    fi
    if [ -n "$S_SKIP" ]; then
        echo "# session $name: not comparable: $S_SKIP"
        SKIPPED=$((SKIPPED + 1))
        SKIP_LIST="$SKIP_LIST $name"
        continue
    fi
    if ! daemon_for "$S_RULES" "$S_DAEMON"; then
        check "session $name: the daemon starts on its rules and options" false
        continue
    fi
    if [ -n "$S_USER" ] && [ -z "${SASL_USERS[$S_USER]:-}" ]; then
        pf_add_sasl_user "$S_USER" "$SASL_PASS" mx.mxguard.test || setup_failed "saslpasswd2 failed"
        SASL_USERS[$S_USER]=1
    fi
    offset=$(wc -l <"$PF_LOG" 2>/dev/null || echo 0)
    t0=$EPOCHREALTIME
    python3 "$SRCDIR/tests/e2e/session_parity.py" run "$PF_PORT" "$in" "$S_ADDR" "$S_NAME" "$S_USER" "$SASL_PASS" "$S_TLS" "$S_TLS_WANT" "$T/$name.json" \
        "$T/$name.sim" "$PF_LOG" "$offset" "$PF_QUEUE" "$SINK_DIR" "$PF_DIR" "$T/mta-own.tsv" >"$T/$name.cmp" 2>&1
    rc=$?
    if grep -q '^not comparable: ' "$T/$name.cmp"; then
        echo "# session $name: $(sed -n 's/^not comparable: /not comparable: /p' "$T/$name.cmp")"
        SKIPPED=$((SKIPPED + 1))
        SKIP_LIST="$SKIP_LIST $name"
        continue
    fi
    COMPARED=$((COMPARED + 1))
    grep '^#' "$T/$name.cmp" | sed "s/^# /# $name: /; \$s/\$/ ($(elapsed_since "$t0") s)/"
    ndiff=0
    while IFS= read -r d; do
        ndiff=$((ndiff + 1))
        check "session $name: DIFFERS: ${d#diff: }" false
    done < <(grep '^diff: ' "$T/$name.cmp")
    if [ "$rc" -ne 0 ] || grep -qv '^\(#\|diff: \)' "$T/$name.cmp"; then
        show "$T/$name.cmp" "comparer output"
        ndiff=$((ndiff + 1))
    fi
    if [ "$ndiff" -ne 0 ]; then
        show "$T/$name.sim" "simulator output"
        show "$T/$name.json" "postfix replies"
        tail -n +"$((offset + 1))" "$PF_LOG" | sed 's/^/#   /'
    fi
    check "session $name: the daemon behind postfix and the simulator agree" test "$ndiff" -eq 0
done

echo "# $COMPARED of ${#SESSIONS[@]} sessions compared; $SKIPPED not comparable${SKIP_LIST:+ (reasons above):$SKIP_LIST}"
check "every session was compared or said why not" test $((COMPARED + SKIPPED)) -eq "${#SESSIONS[@]}"
check "the daemons of earlier groups stopped" old_daemons_gone
finish
