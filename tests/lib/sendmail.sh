# sendmail.sh: a private sendmail 8.17 instance for end-to-end tests, from
# Debian's sendmail-bin and sendmail-cf unpacked with dpkg -x (they
# conflict with the postfix package, which stays installed and untouched).
# Source it after common.sh and postfix.sh (for free_port, start_sink,
# sink_*, reply_after, test_id, show):
#
#   . "$SRCDIR/tests/lib/common.sh"
#   . "$SRCDIR/tests/lib/postfix.sh"
#   . "$SRCDIR/tests/lib/sendmail.sh"
#   sendmail_unpack >"$T/unpack.log" 2>&1   # once per machine; a no-op later
#   need_sendmail                            # skips (77) without root or the tree
#   start_mxguard "$rules"
#   start_sink
#   start_sendmail "unix:$MXG_SOCK"          # SM_PORT, SM_DIR, SM_PID, SM_QUEUE
#   sm_send "$T/out.1" --local-interface 127.0.0.2 --from a@b.example --to c@example.org
#
# Run directly, it only unpacks (for the install step):
#   bash tests/lib/sendmail.sh unpack
#
# The tree lives in $SM_CACHE (default /var/cache/mxguard-tests/sendmail):
# the .deb files (apt-get download) and root/ (dpkg -x). Libraries the
# binary needs that are not installed (libwrap0 on a machine with postfix
# only) are unpacked there too and found with LD_LIBRARY_PATH; the
# binary's set-gid bit is dropped in the private copy so the loader
# honours that.
#
# Everything of one instance is below $T/sendmail: sendmail.mc, the .cf
# built from it with m4 and the unpacked sendmail-cf, the queue, the
# pid file, its own service switch, aliases and help file, and
# traffic.log (sendmail -X: every SMTP line in and out). Its listener is
# 127.0.0.1:SM_PORT; it relays everything it accepts to the smtp-sink
# with the relay mailer ([127.0.0.1], the sink's port in the mailer's
# arguments). No DNS: its service switch says "hosts files", and it runs
# in a mount namespace of its own (unshare) where /etc/nsswitch.conf says
# "hosts: files" and /etc/hosts is the instance's copy (the client's
# reverse lookup and sendmail's own host name go through the C library,
# not through sendmail's switch; and without a qualified name for this
# machine sendmail sleeps 60 s at start). The system's /etc is never
# written. sendmail logs to syslog; with no syslog on the machine those
# lines are lost, so read traffic.log and the mxguard log.
#
# sendmail is up when its port listens (ss): connecting to find out would
# open a milter session.

SM_CACHE=${SM_CACHE:-/var/cache/mxguard-tests/sendmail}
SM_ROOT="$SM_CACHE/root"
SM_BIN="$SM_ROOT/usr/libexec/sendmail/sendmail"
SM_CF_DIR="$SM_ROOT/usr/share/sendmail/cf"
SM_MARK="$SM_ROOT/.mxguard-tests-unpacked"
SM_PKGS="sendmail-bin sendmail-cf sendmail-base"
SM_DIR=""
SM_PORT=""
SM_PID=""
SM_QUEUE=""
SM_CF=""
SM_TRAFFIC=""
SM_OUT=""
SM_STOP_HOOKED=""
# RunAsUser of the instance: the SMTP children and deliveries run as this
# user (the listener stays root); it owns the queue and the sasldb.
SM_USER=${SM_USER:-mail}

# --- the private tree ---------------------------------------------------------

# sm_libpath: LD_LIBRARY_PATH for the libraries unpacked beside the
# binary (empty when every library is installed on the system).
sm_libpath() {
    cat "$SM_ROOT/.libpath" 2>/dev/null
}

# sm_works: the private tree is complete and the binary finds its
# libraries. (Running it outside start_sendmail's namespace would take a
# minute: sendmail sleeps 60 s when it cannot resolve its own host name.)
sm_works() {
    [ -x "$SM_BIN" ] && [ -f "$SM_MARK" ] && [ -f "$SM_CF_DIR/m4/cf.m4" ] || return 1
    ! LD_LIBRARY_PATH=$(sm_libpath) ldd "$SM_BIN" 2>/dev/null | grep -q 'not found'
}

# sm_download PKG...: apt-get download into the cache (as root; apt's
# sandbox user cannot write there, so the sandbox is off for this call).
sm_download() {
    (cd "$SM_CACHE/debs" && apt-get -q -o APT::Sandbox::User=root download "$@")
}

# sm_unpack_locked: the work of sendmail_unpack, under its lock.
sm_unpack_locked() {
    local p missing deps dep deb new="$SM_CACHE/root.new" libdirs
    sm_works && return 0
    mkdir -p "$SM_CACHE/debs"
    missing=""
    for p in $SM_PKGS; do
        ls "$SM_CACHE/debs/${p}"_*.deb >/dev/null 2>&1 || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        # shellcheck disable=SC2086
        if ! sm_download $missing; then
            apt-get update -qq || return 1
            # shellcheck disable=SC2086
            sm_download $missing || return 1
        fi
    fi
    rm -rf "$new"
    mkdir -p "$new"
    for p in $SM_PKGS; do
        deb=$(ls "$SM_CACHE/debs/${p}"_*.deb | sort -V | tail -n 1)
        dpkg -x "$deb" "$new" || return 1
    done
    # The binary's libraries: sendmail-bin's dependencies that are not
    # installed (postfix brings most; libwrap0 it does not) go into the
    # private tree. Only the first alternative of each is considered.
    deb=$(ls "$SM_CACHE/debs/sendmail-bin"_*.deb | sort -V | tail -n 1)
    deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g')
    missing=""
    for dep in $deps; do
        case $dep in sendmail-*|libc6|procps) continue ;; esac
        dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "ok installed" || missing="$missing $dep"
    done
    if [ -n "$missing" ]; then
        echo "sendmail.sh: unpacking libraries that are not installed:$missing"
        for dep in $missing; do
            ls "$SM_CACHE/debs/${dep}"_*.deb >/dev/null 2>&1 && continue
            if ! sm_download "$dep"; then
                apt-get update -qq || return 1
                sm_download "$dep" || return 1
            fi
        done
        for dep in $missing; do
            dpkg -x "$(ls "$SM_CACHE/debs/${dep}"_*.deb | sort -V | tail -n 1)" "$new" || return 1
        done
    fi
    # Keep the binary's mode but not its set-gid bit: run as root with
    # -C, it needs none, and a set-gid binary would make the loader
    # ignore LD_LIBRARY_PATH.
    chmod g-s "$new/usr/libexec/sendmail/sendmail"
    libdirs=$(find "$new" -name '*.so*' \( -type f -o -type l \) -printf '%h\n' 2>/dev/null |
        grep -v '/sasl2$' | sort -u | sed "s|^$new|$SM_ROOT|" | paste -sd: -)
    rm -rf "$SM_ROOT"
    mv "$new" "$SM_ROOT"
    printf '%s' "$libdirs" >"$SM_ROOT/.libpath"
    if LD_LIBRARY_PATH=$libdirs ldd "$SM_BIN" | grep -q 'not found'; then
        echo "sendmail.sh: the private sendmail still misses libraries:"
        LD_LIBRARY_PATH=$libdirs ldd "$SM_BIN" | grep 'not found'
        return 1
    fi
    ls "$SM_CACHE/debs" >"$SM_MARK"
    echo "sendmail.sh: sendmail-bin $(dpkg-deb -f "$deb" Version) unpacked in $SM_ROOT"
}

# sendmail_unpack: make sure the private sendmail tree exists: download
# sendmail-bin, sendmail-cf and sendmail-base with apt-get download (once
# per machine: the .deb files stay in $SM_CACHE/debs) and unpack them with
# dpkg -x into $SM_ROOT. Idempotent and safe to run from parallel tests
# (one lock). Needs root, apt-get and dpkg.
sendmail_unpack() {
    [ "$(id -u)" = 0 ] || { echo "sendmail_unpack: needs root"; return 1; }
    mkdir -p "$SM_CACHE" || return 1
    (
        flock -w 300 9 || { echo "sendmail_unpack: $SM_CACHE/.lock is held"; exit 1; }
        sm_unpack_locked
    ) 9>"$SM_CACHE/.lock"
}

need_sendmail() {
    need_root
    need_cmd m4
    need_cmd smtp-sink
    need_cmd swaks
    need_cmd ss
    need_cmd unshare
    sm_namespace_works || skip "needs unshare --mount (a private mount namespace for sendmail)"
    id "$SM_USER" >/dev/null 2>&1 || skip "needs the user $SM_USER"
    sm_works || skip "needs the private sendmail tree in $SM_ROOT (bash tests/lib/sendmail.sh unpack)"
}

# need_both_mtas: a test that drives the private postfix and the private
# sendmail: unpack sendmail once per machine (a no-op later), then skip
# (77) unless both can run.
need_both_mtas() {
    need_postfix
    sendmail_unpack >"$T/unpack.log" 2>&1 || { echo "# sendmail_unpack failed:"; sed 's/^/#   /' "$T/unpack.log"; }
    need_sendmail
}

# What setup_failed (postfix.sh) shows of a sendmail that was started.
sm_setup_context() {
    [ -n "$SM_DIR" ] && show "$SM_OUT" "sendmail output" && sm_traffic_tail 20
}

# --- one instance -------------------------------------------------------------

# SM_MACROS_*: what the private .cf asks sendmail to send at each stage
# when the milter does not ask itself (sendmail's defaults plus the
# client's address and name, the daemon's and i wherever it may exist).
# mxguard sends its own lists at negotiation (smfi_setsymlist); for a
# stage where it does, sendmail uses mxguard's list instead of these.
SM_MACROS_CONNECT=${SM_MACROS_CONNECT:-'j, _, {daemon_name}, {daemon_addr}, {daemon_port}, {if_name}, {if_addr}, {client_addr}, {client_name}, {client_port}, {client_resolve}'}
SM_MACROS_HELO=${SM_MACROS_HELO:-'{tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}'}
SM_MACROS_ENVFROM=${SM_MACROS_ENVFROM:-'i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}'}
SM_MACROS_ENVRCPT=${SM_MACROS_ENVRCPT:-'i, {rcpt_mailer}, {rcpt_host}, {rcpt_addr}'}
SM_MACROS_DATA=${SM_MACROS_DATA:-'i'}
SM_MACROS_EOH=${SM_MACROS_EOH:-'i'}
SM_MACROS_EOM=${SM_MACROS_EOM:-'i, {msg_id}'}

# What follows S= in INPUT_MAIL_FILTER: F=T (tempfail while the filter is
# unavailable) and the timeouts mxguard(8) recommends.
SM_FILTER_OPTS=${SM_FILTER_OPTS-', F=T, T=S:30s;R:60s;E:5m'}

# sm_mc_write MILTER: write $SM_DIR/sendmail.mc for the current ports.
sm_mc_write() {
    local milter=$1 d=$SM_DIR
    cat >"$d/sendmail.mc" <<EOF
divert(-1)
# Written by tests/lib/sendmail.sh for one test run: a private instance.
divert(0)dnl
VERSIONID(\`mxguard e2e $TEST_NAME')dnl
OSTYPE(\`linux')dnl
dnl --- who we are, and no DNS: names are what they say, the switch has files only
define(\`confDOMAIN_NAME', \`mx.mxguard.test')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confSERVICE_SWITCH_FILE', \`$d/service.switch')dnl
define(\`confHOSTS_FILE', \`$d/hosts')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`accept_unresolvable_domains')dnl
dnl --- files of this instance
define(\`QUEUE_DIR', \`$d/queue')dnl
define(\`ALIAS_FILE', \`$d/aliases')dnl
define(\`STATUS_FILE', \`$d/statistics')dnl
define(\`confPID_FILE', \`$d/sendmail.pid')dnl
define(\`confHELP_FILE', \`$d/helpfile')dnl
define(\`confDEAD_LETTER_DROP', \`$d/dead.letter')dnl
define(\`confRUN_AS_USER', \`$SM_USER')dnl
define(\`confDEF_USER_ID', \`$SM_USER')dnl
define(\`confDONT_BLAME_SENDMAIL', \`TrustStickyBit')dnl
dnl --- the listener and the smtp-sink behind it
FEATURE(\`no_default_msa')dnl
DAEMON_OPTIONS(\`Family=inet, Name=mxguard-e2e, Addr=127.0.0.1, Port=$SM_PORT')dnl
define(\`confSMTP_LOGIN_MSG', \`\$j mxguard-e2e sendmail \$v')dnl
define(\`SMART_HOST', \`relay:[127.0.0.1]')dnl
define(\`RELAY_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
define(\`ESMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
define(\`SMTP_MAILER_ARGS', \`TCP \$h $SINK_PORT')dnl
dnl --- SMTP AUTH (cyrus SASL, Sendmail.conf and a sasldb below the instance)
define(\`confAUTH_MECHANISMS', \`PLAIN LOGIN')dnl
TRUST_AUTH_MECH(\`PLAIN LOGIN')dnl
define(\`confAUTH_REALM', \`mx.mxguard.test')dnl
dnl --- every recipient reaches the milter: mxguard's anti-relay is what is tested
FEATURE(\`promiscuous_relay')dnl
dnl --- quick, and no waiting on the machine's load
define(\`confTO_IDENT', \`0s')dnl
define(\`confTO_CONNECT', \`5s')dnl
define(\`confTO_ICONNECT', \`5s')dnl
define(\`confTO_INITIAL', \`10s')dnl
define(\`confTO_HELO', \`10s')dnl
define(\`confTO_MAIL', \`10s')dnl
define(\`confTO_RCPT', \`10s')dnl
define(\`confTO_DATAINIT', \`10s')dnl
define(\`confTO_DATABLOCK', \`10s')dnl
define(\`confTO_DATAFINAL', \`10s')dnl
define(\`confTO_QUIT', \`5s')dnl
define(\`confQUEUE_LA', \`999')dnl
define(\`confREFUSE_LA', \`999')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confMIN_QUEUE_AGE', \`0')dnl
define(\`confMAX_DAEMON_CHILDREN', \`0')dnl
define(\`confCONNECTION_RATE_THROTTLE', \`0')dnl
dnl --- the milter: tempfail when it is down, generous timeouts (see mxguard(8))
define(\`confMILTER_LOG_LEVEL', \`9')dnl
define(\`confMILTER_MACROS_CONNECT', \`$SM_MACROS_CONNECT')dnl
define(\`confMILTER_MACROS_HELO', \`$SM_MACROS_HELO')dnl
define(\`confMILTER_MACROS_ENVFROM', \`$SM_MACROS_ENVFROM')dnl
define(\`confMILTER_MACROS_ENVRCPT', \`$SM_MACROS_ENVRCPT')dnl
define(\`confMILTER_MACROS_DATA', \`$SM_MACROS_DATA')dnl
define(\`confMILTER_MACROS_EOH', \`$SM_MACROS_EOH')dnl
define(\`confMILTER_MACROS_EOM', \`$SM_MACROS_EOM')dnl
INPUT_MAIL_FILTER(\`mxguard', \`S=$milter$SM_FILTER_OPTS')dnl
MAILER(\`local')dnl
MAILER(\`smtp')dnl
LOCAL_CONFIG
# sendmail clears its environment; an E line sets a variable in it, and
# cyrus SASL (application "Sendmail") reads Sendmail.conf from there.
ESASL_CONF_PATH=$d/sasl
EOF
}

# sm_files_write: the instance's own small files and directories.
sm_files_write() {
    local d=$SM_DIR h hq
    mkdir -p "$d/queue"
    chown "$SM_USER" "$d/queue"
    chmod 0700 "$d/queue"
    printf 'hosts\tfiles\naliases\tfiles\n' >"$d/service.switch"
    printf '127.0.0.1\tlocalhost mx.mxguard.test\n::1\tlocalhost\n' >"$d/hosts"
    printf 'hosts: files\n' >"$d/nsswitch.conf"
    # /etc/hosts inside the namespace: localhost first (the name of the
    # client 127.0.0.1), then this machine's name, qualified.
    h=$(hostname)
    case $h in *.*) hq=$h ;; *) hq="$h.mxguard.test" ;; esac
    printf '127.0.0.1\tlocalhost\n127.0.0.1\t%s %s\n::1\tlocalhost ip6-localhost\n' \
        "$hq" "$h" >"$d/etc-hosts"
    printf 'postmaster: root\n' >"$d/aliases"
    cp "$SM_ROOT/etc/mail/helpfile" "$d/helpfile" 2>/dev/null || : >"$d/helpfile"
    : >"$d/statistics"
    # SASL: sendmail is cyrus application "Sendmail"; SASL_CONF_PATH (an
    # E line of the .cf) points cyrus at this Sendmail.conf.
    mkdir -p "$d/sasl"
    cat >"$d/sasl/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $d/sasl/sasldb2
EOF
    chmod 0644 "$d/sasl/Sendmail.conf"
    : >"$d/traffic.log"
    chown "$SM_USER" "$d/statistics" "$d/traffic.log"
    chmod 0644 "$d/service.switch" "$d/hosts" "$d/nsswitch.conf" "$d/etc-hosts" \
        "$d/aliases" "$d/helpfile" "$d/statistics" "$d/traffic.log"
}

# sm_namespace_works: unshare can give a process a private mount
# namespace (and so private /etc/hosts and /etc/nsswitch.conf).
sm_namespace_works() {
    unshare --mount --propagation private true 2>/dev/null
}

# sm_add_sasl_user USER PASSWORD: add a user to the instance's sasldb,
# in realm mx.mxguard.test (the .cf's AuthRealm). The SMTP children run
# as SM_USER and read it; sendmail wants it readable by its owner only.
sm_add_sasl_user() {
    local db="$SM_DIR/sasl/sasldb2"
    command -v saslpasswd2 >/dev/null 2>&1 || {
        echo "# saslpasswd2 missing (package sasl2-bin)"
        return 1
    }
    printf '%s' "$2" | saslpasswd2 -f "$db" -p -c -u mx.mxguard.test "$1" || return 1
    chown "$SM_USER" "$db"
    chmod 0600 "$db"
}

# sm_is_ours PID: PID runs the private sendmail binary.
sm_is_ours() {
    [ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$SM_BIN" ]
}

# sm_descendants PID: PID's children, grandchildren... (one a line).
sm_descendants() {
    local k
    for k in $(pgrep -P "$1" 2>/dev/null); do
        echo "$k"
        sm_descendants "$k"
    done
}

# start_sendmail MILTER_SOCKET: write the .mc, build the .cf, and start the
# instance as a foreground daemon (-bD) on 127.0.0.1:SM_PORT with the
# filter S=MILTER_SOCKET (libmilter syntax: unix:/path or inet:port@host).
# Needs start_sink first. Sets SM_DIR, SM_PORT, SM_PID, SM_QUEUE, SM_CF,
# SM_TRAFFIC. Stopped at exit.
start_sendmail() {
    local milter=$1 attempt
    [ -n "$SINK_PORT" ] || { echo "# start_sendmail: call start_sink first"; return 1; }
    SM_DIR="$T/sendmail"
    SM_QUEUE="$SM_DIR/queue"
    SM_CF="$SM_DIR/sendmail.cf"
    SM_TRAFFIC="$SM_DIR/traffic.log"
    SM_OUT="$SM_DIR/daemon.out"
    mkdir -p "$SM_DIR"
    chmod 0755 "$SM_DIR"
    sm_files_write
    if [ -z "$SM_STOP_HOOKED" ]; then
        SM_STOP_HOOKED=1
        on_exit stop_sendmail
    fi
    for attempt in 1 2 3; do
        SM_PORT=$(free_port) || return 1
        sm_mc_write "$milter"
        if ! m4 -D_CF_DIR_="$SM_CF_DIR/" "$SM_CF_DIR/m4/cf.m4" "$SM_DIR/sendmail.mc" \
            >"$SM_CF" 2>"$SM_DIR/m4.err"; then
            show "$SM_DIR/m4.err" "m4 errors"
            return 1
        fi
        chmod 0644 "$SM_CF"
        sm_start_daemon
        if [ -n "$SM_PID" ] && pf_listening_on "$SM_PID" "$SM_PORT"; then
            return 0
        fi
        echo "# sendmail did not listen on 127.0.0.1:$SM_PORT (attempt $attempt)"
        show "$SM_OUT" "sendmail output"
        stop_sendmail
    done
    return 1
}

# sm_start_daemon: start the daemon for the current .cf; sets SM_PID.
# In a mount namespace of its own (unshare and sh exec, so $! is
# sendmail's PID) where /etc/nsswitch.conf says "hosts: files" and
# /etc/hosts is the instance's: no DNS, and sendmail finds a qualified
# name for this machine (without one it sleeps 60 s at start).
sm_start_daemon() {
    : >"$SM_OUT"
    unshare --mount --propagation private -- /bin/sh -c '
        mount --bind "$1" /etc/nsswitch.conf || exit 1
        mount --bind "$2" /etc/hosts || exit 1
        shift 2
        exec "$@"' sh "$SM_DIR/nsswitch.conf" "$SM_DIR/etc-hosts" \
        env LD_LIBRARY_PATH="$(sm_libpath)" "$SM_BIN" -bD -C "$SM_CF" -X "$SM_TRAFFIC" \
        -L "sm-$TEST_NAME" >>"$SM_OUT" 2>&1 </dev/null &
    SM_PID=$!
    track_pid "$SM_PID"
}

# stop_sendmail: SIGTERM to the daemon, wait for it and every process it
# started (SMTP children, deliveries), checked by PID to be our binary.
# Idempotent.
stop_sendmail() {
    local pid=$SM_PID kids k
    [ -n "$pid" ] || return 0
    kids=$(sm_descendants "$pid" | tr '\n' ' ')
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null
        if ! wait_for 10 pid_gone "$pid"; then
            echo "# sendmail $pid did not stop: killing it"
            sm_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
            wait_for 5 pid_gone "$pid"
        fi
    fi
    pid_gone "$pid" && untrack_pid "$pid"
    for k in $kids; do
        wait_for 5 pid_gone "$k" && continue
        if sm_is_ours "$k"; then
            echo "# sendmail process $k left behind: killing it"
            kill -KILL "$k" 2>/dev/null
        fi
    done
    SM_PID=""
    return 0
}

# sm_leftovers: the PIDs of processes of the private binary still running
# this instance's .cf (none after stop_sendmail).
sm_leftovers() {
    local p
    for p in $(pgrep -x sendmail 2>/dev/null); do
        sm_is_ours "$p" || continue
        tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$SM_CF" && echo "$p"
    done
}

# --- the queue and diagnostics --------------------------------------------------

# sm_queue_files: the files in the private queue (qf*, df*, ...), one a line.
sm_queue_files() {
    find "$SM_QUEUE" -type f 2>/dev/null
}

sm_queue_empty() { [ -z "$(sm_queue_files)" ]; }

# sm_traffic_tail [N]: the last N lines of sendmail's traffic log.
sm_traffic_tail() {
    echo "# --- sendmail traffic log (last ${1:-25} lines)"
    tail -n "${1:-25}" "$SM_TRAFFIC" 2>/dev/null | sed 's/^/#   /'
}

# sm_queue_show: the private queue as diagnostics.
sm_queue_show() {
    echo "# --- sendmail queue $SM_QUEUE"
    ls -l "$SM_QUEUE" 2>/dev/null | sed 's/^/#   /'
    local f
    for f in "$SM_QUEUE"/qf*; do
        [ -f "$f" ] && show "$f"
    done
    return 0
}

# sm_never_got ID: never_got_after (postfix.sh) for the private sendmail.
sm_never_got() { never_got_after sm_queue_empty sm_queue_show "$1"; }

# --- swaks --------------------------------------------------------------------

# sm_send OUTFILE [swaks options...]: one SMTP transaction against the
# private sendmail (see smtp_send in postfix.sh for the transcript).
# --local-interface 127.0.0.2 makes a client outside 127.0.0.1/32.
sm_send() {
    local out=$1; shift
    swaks --server 127.0.0.1 --port "$SM_PORT" --helo client.mxguard.test \
        --timeout 30 "$@" >"$out" 2>&1 </dev/null
}

# --- a milter tap: what the MTA sends, decoded --------------------------------

# start_milter_tap LISTEN_PATH UPSTREAM_PATH LOG [body]: a proxy between
# the MTA and a milter on unix sockets that logs every milter packet both
# ways, macros with their names and values (python3). With "body" it
# also asks the MTA for the message body (clears SMFIP_NOBODY in the
# milter's answer to the negotiation) and answers the body chunks itself,
# to see how the MTA sends a body. Sets TAP_PID. For
# measuring what an MTA sends (see tests/e2e/SENDMAIL.md); a test keeps
# its scenarios on the direct socket.
start_milter_tap() {
    local script="$T/milter_tap.py"
    need_cmd python3
    cat >"$script" <<'PYEOF'
import asyncio, os, struct, sys, time

LISTEN, UPSTREAM, LOG = sys.argv[1], sys.argv[2], sys.argv[3]
BODY = len(sys.argv) > 4 and sys.argv[4] == 'body'
MTA = {'A': 'ABORT', 'B': 'BODY', 'C': 'CONNECT', 'D': 'MACRO', 'E': 'EOM', 'H': 'HELO',
       'K': 'QUIT_NC', 'L': 'HEADER', 'M': 'MAIL', 'N': 'EOH', 'O': 'OPTNEG', 'Q': 'QUIT',
       'R': 'RCPT', 'T': 'DATA', 'U': 'UNKNOWN'}
REPLY = {'+': 'ADDRCPT', '-': 'DELRCPT', '2': 'ADDRCPT_PAR', '4': 'SHUTDOWN', 'a': 'ACCEPT',
         'b': 'REPLBODY', 'c': 'CONTINUE', 'd': 'DISCARD', 'e': 'CHGFROM', 'f': 'CONN_FAIL',
         'h': 'ADDHEADER', 'i': 'INSHEADER', 'l': 'SETSYMLIST', 'm': 'CHGHEADER',
         'p': 'PROGRESS', 'q': 'QUARANTINE', 'r': 'REJECT', 's': 'SKIP', 't': 'TEMPFAIL',
         'y': 'REPLYCODE', 'O': 'OPTNEG'}
STAGE = {0: 'connect', 1: 'helo', 2: 'envfrom', 3: 'envrcpt', 4: 'data', 5: 'eom', 6: 'eoh'}
out = open(LOG, 'a', buffering=1)
seq = 0

def s(b):
    return repr(b.decode('latin-1'))

def strs(b):
    parts = b.split(b'\0')
    if parts and parts[-1] == b'':
        parts.pop()
    return parts

def describe(side, c, d):
    if side == 'mta':
        if c == 'D':
            p = strs(d[1:])
            pairs = ' '.join('%s=%s' % (p[i].decode('latin-1'), s(p[i + 1]) if i + 1 < len(p) else 'None')
                             for i in range(0, len(p), 2))
            return 'MACRO for=%s %s' % (MTA.get(chr(d[0]), '?') if d else '?', pairs)
        if c == 'O':
            v, a, p = struct.unpack('>III', d[:12])
            return 'OPTNEG version=%d actions=0x%x protocol=0x%x' % (v, a, p)
        if c == 'C':
            host, _, rest = d.partition(b'\0')
            port = struct.unpack('>H', rest[1:3])[0] if len(rest) >= 3 else 0
            return 'CONNECT host=%s family=%s port=%d addr=%s' % (
                s(host), chr(rest[0]) if rest else '?', port, s(rest[3:].rstrip(b'\0')))
        if c == 'B':
            return 'BODY %d bytes %s' % (len(d), s(d[:160]))
        return ' '.join([MTA.get(c, c)] + [s(x) for x in strs(d)])
    if c == 'O':
        v, a, p = struct.unpack('>III', d[:12])
        rest, syms = d[12:], []
        while len(rest) >= 4:
            st = struct.unpack('>I', rest[:4])[0]
            m, _, rest = rest[4:].partition(b'\0')
            syms.append('%s=%s' % (STAGE.get(st, st), s(m)))
        return 'OPTNEG version=%d actions=0x%x protocol=0x%x %s' % (v, a, p, ' '.join(syms))
    if c in 'mi':
        return '%s index=%d %s' % (REPLY[c], struct.unpack('>I', d[:4])[0], ' '.join(s(x) for x in strs(d[4:])))
    return ' '.join([REPLY.get(c, c)] + [s(x) for x in strs(d)])

async def pump(conn, side, reader, writer, back=None):
    try:
        while True:
            hdr = await reader.readexactly(4)
            body = await reader.readexactly(struct.unpack('>I', hdr)[0])
            c = chr(body[0])
            if BODY and side == 'milter' and c == 'O':
                # Ask the MTA for the body although the milter did not.
                v, a, p = struct.unpack('>III', body[1:13])
                body = body[:1] + struct.pack('>III', v, a, p & ~0x10) + body[13:]
                hdr = struct.pack('>I', len(body))
            out.write('%.3f conn=%d %s> %s\n' % (time.time(), conn, side, describe(side, c, body[1:])))
            if BODY and side == 'mta' and c == 'B':
                # The milter did not ask for it: answer here.
                back.write(struct.pack('>I', 1) + b'c')
                await back.drain()
                continue
            writer.write(hdr + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, OSError):
        pass
    finally:
        out.write('%.3f conn=%d %s> (closed)\n' % (time.time(), conn, side))
        writer.close()

async def handle(r1, w1):
    global seq
    seq += 1
    conn = seq
    try:
        r2, w2 = await asyncio.open_unix_connection(UPSTREAM)
    except OSError as e:
        out.write('%.3f conn=%d upstream: %s\n' % (time.time(), conn, e))
        w1.close()
        return
    await asyncio.gather(pump(conn, 'mta', r1, w2, w1), pump(conn, 'milter', r2, w1))

async def main():
    if os.path.exists(LISTEN):
        os.unlink(LISTEN)
    srv = await asyncio.start_unix_server(handle, LISTEN)
    os.chmod(LISTEN, 0o666)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
PYEOF
    python3 "$script" "$1" "$2" "$3" ${4:+"$4"} >"$T/milter_tap.out" 2>&1 </dev/null &
    TAP_PID=$!
    track_pid "$TAP_PID"
    wait_for 10 unix_listening "$1" || { show "$T/milter_tap.out" "milter tap"; return 1; }
}

# Run directly: "bash tests/lib/sendmail.sh unpack" (the install step).
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case ${1:-} in
    unpack) sendmail_unpack; exit $? ;;
    *) echo "usage: bash $0 unpack" >&2; exit 2 ;;
    esac
fi
