#!/bin/bash
# privs.sh: what the daemon holds once it runs, read from /proc, not from
# the man page: the supervisor and the filter process have the run user's
# uid and gid (real, effective, saved, fs), no group but the run group,
# no capability at all (effective, permitted, inheritable, ambient and the
# bounding set) and no_new_privs. Then with --chroot, on the shipped
# gateway rules and DNS from nsd, under strace: after the chroot() call no
# path outside the chroot is reached (nothing opened before it is used to
# look paths up, no directory outside stays open, every address it talks
# to is the DNS server's), a session and a reload (SIGHUP) work inside it,
# and what the filter looked for and did not find is what mxguard(8)
# (SECURITY) says needs no copy.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/dns.sh"
need_root
need_cmd miltertest
need_cmd strace
need_nsd
ensure_user

want_uid=$(id -u mxguard)
want_gid=$(id -g mxguard)

# field PID NAME: a line of /proc/PID/status, its values separated by one space.
field() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ +/, ""); print }' "/proc/$1/status"; }

# privileges_of WHO PID: every check of one process's credentials.
privileges_of() {
    local who=$1 pid=$2 c
    check "$who: Uid real, effective, saved and fs are the run user's" \
        test "$(field "$pid" Uid)" = "$want_uid $want_uid $want_uid $want_uid"
    check "$who: Gid real, effective, saved and fs are the run group's" \
        test "$(field "$pid" Gid)" = "$want_gid $want_gid $want_gid $want_gid"
    check "$who: Groups is the run group alone" test "$(field "$pid" Groups | tr -d ' ')" = "$want_gid"
    for c in CapInh CapPrm CapEff CapBnd CapAmb; do
        check "$who: $c is empty" test "$(field "$pid" $c)" = 0000000000000000
    done
    check "$who: NoNewPrivs is set" test "$(field "$pid" NoNewPrivs)" = 1
    echo "# $who: Seccomp $(field "$pid" Seccomp) (mxguard installs no filter of its own)"
}

# --- without a chroot -------------------------------------------------------
start_mxguard "$SRCDIR/rules/examples/gateway.rules" || { check "daemon starts" false; finish; }
privileges_of supervisor "$MXG_PID"
fp=$(filter_pid)
privileges_of filter "$fp"
# A filter the supervisor starts again inherits the same: nothing is regained.
kill -KILL "$fp"
new_filter() { local p; p=$(filter_pid); [ -n "$p" ] && [ "$p" != "$fp" ]; }
if wait_for 20 new_filter; then
    privileges_of "restarted filter" "$(filter_pid)"
else
    check "the supervisor starts a new filter after a SIGKILL" false
fi
stop_mxguard

# --- with --chroot ----------------------------------------------------------
# The chroot as mxguard(8) SECURITY describes it: the rule file and the
# files it names inside it, readable by the run user; nothing else.
jail="$T/jail"
mkdir -p "$jail/etc/mxguard"
cp "$SRCDIR"/rules/examples/gateway.rules "$SRCDIR"/rules/examples/{trusted-networks,local-domains,our-names,our-addresses,dkim-keys,executable-exts,executable-types} \
    "$jail/etc/mxguard/"
chmod -R a+rX "$jail"

dns_zone test. <<'EOF'
sender          TXT  "v=spf1 ip4:203.0.113.0/24 -all"
mail.sender     A    203.0.113.9
EOF
start_gateway_dns || { check "nsd starts" false; finish; }

# The session the Lua script plays: a message from outside to RCPT, which
# is either refused at RCPT (relay) or goes through to the end of the message.
cat >"$T/session.lua" <<'EOF'
dofile(srcdir .. "/tests/protocol/common.lua")
local function main()
    local conn = mt.connect(sock, 40, 0.25)
    check(conn ~= nil, "connected")
    mt.conninfo(conn, "mail.sender.test", "203.0.113.9")
    mt.helo(conn, "mail.sender.test")
    mt.mailfrom(conn, "<someone@sender.test>")
    check(mt.getreply(conn) == SMFIR_CONTINUE, "MAIL continues")
    mt.rcptto(conn, "<" .. rcpt .. ">")
    if want == "relay-denied" then
        check(mt.getreply(conn) == SMFIR_REPLYCODE, "RCPT <" .. rcpt .. "> is refused")
        mt.disconnect(conn)
        return
    end
    check(mt.getreply(conn) == SMFIR_CONTINUE, "RCPT <" .. rcpt .. "> continues")
    mt.header(conn, "From", "<someone@sender.test>")
    mt.header(conn, "Subject", "inside the chroot")
    if not mt.test_option(conn, SMFIP_NOEOH) then mt.eoh(conn) end
    mt.bodystring(conn, "hello\r\n")
    mt.eom(conn)
    check(mt.getreply(conn) == SMFIR_CONTINUE, "end of message continues")
    check(mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"), "Authentication-Results inserted")
    mt.disconnect(conn)
end
run(main)
EOF
session() { # RCPT WANT
    miltertest -D sock="unix:$MXG_SOCK" -D srcdir="$SRCDIR" -D rcpt="$1" -D want="$2" \
        -s "$T/session.lua" >"$T/lua.out" 2>&1
    local rc=$?
    sed 's/^/#   /' "$T/lua.out"
    [ $rc -eq 0 ] && ! grep -q FAILED "$T/lua.out"
}

# strace follows the daemon from its start: the supervisor (its child),
# and every filter process and thread after the chroot. LeakSanitizer
# cannot run under ptrace, nor in a chroot without /proc: a sanitizer
# build checks leaks in the runs above (ASan and UBSan still run here).
no_lsan="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MXG_STARTS=$((MXG_STARTS + 1))
MXG_LOG="$T/mxguard-$MXG_STARTS.log"
MXG_SOCK="$T/jailed.sock"
ASAN_OPTIONS=$no_lsan \
    strace -f -qq -s 256 -o "$T/strace.out" -e trace=%file,%network,chroot,fchdir -e signal=none \
    "$MXGUARD" -f -r "$jail" -c "$jail/etc/mxguard/gateway.rules" -p "unix:$MXG_SOCK" -u mxguard \
    --umask 0111 "$GATEWAY_DNS" >"$MXG_LOG" 2>&1 </dev/null &
strace_pid=$!
track_pid "$strace_pid"
supervisor() { MXG_PID=$(pgrep -P "$strace_pid" -x mxguard | head -n 1); [ -n "$MXG_PID" ]; }
if ! wait_for 20 supervisor || ! wait_for 20 unix_listening "$MXG_SOCK" || ! wait_for 20 filter_pid_exists; then
    check "mxguard starts with --chroot under strace" false
    sed 's/^/#   /' "$MXG_LOG"
    finish
fi
track_pid "$MXG_PID"
fp=$(filter_pid)
wait_for 20 grep -q "filter start: loaded /etc/mxguard/gateway.rules" "$MXG_LOG"
check "the filter loads the rules by their path inside the chroot" \
    contains "$MXG_LOG" "filter start: loaded /etc/mxguard/gateway.rules"
check "supervisor's root is the chroot" test "$(readlink "/proc/$MXG_PID/root")" = "$jail"
check "filter's root is the chroot" test "$(readlink "/proc/$fp/root")" = "$jail"
check "filter's working directory is the chroot's /" test "$(readlink "/proc/$fp/cwd")" = "$jail"
privileges_of "chrooted filter" "$fp"
# A directory opened before the chroot and kept would be a way out (openat, fchdir).
outside_dirs() {
    local f
    for f in /proc/"$1"/fd/*; do [ -d "$f" ] && echo "$(readlink "$f")"; done
}
check "filter holds no open directory" test -z "$(outside_dirs "$fp")"
check "supervisor holds no open directory" test -z "$(outside_dirs "$MXG_PID")"

check "a session inside the chroot: relaying is refused" session user@jailed.test relay-denied
check "a message inside the chroot goes through (SPF asked through DNS)" session user@example.org continue
check "... and SPF passed: the resolver reached nsd from inside" \
    wait_for 10 grep -Eq 'spf=pass' "$MXG_LOG"

# A reload inside the chroot reads the rule file and its list files there.
echo jailed.test >>"$jail/etc/mxguard/local-domains"
kill -HUP "$MXG_PID"
check "SIGHUP reloads the rule file inside the chroot" \
    wait_for 20 grep -q "reload: loaded /etc/mxguard/gateway.rules" "$MXG_LOG"
check "after the reload the new list entry counts" session user@jailed.test continue
check "the same filter process served throughout" test "$(filter_pid)" = "$fp"

stop_mxguard
wait_for 20 pid_gone "$strace_pid" && untrack_pid "$strace_pid"

# --- the trace: everything after the chroot() call -------------------------
awk -v jail="$jail" 'go { print } $0 ~ "chroot\\(\"" jail "\"\\) += 0" { go = 1 }' \
    "$T/strace.out" >"$T/after-chroot"
check "the trace has the chroot() call and what came after it" test -s "$T/after-chroot"
# Only the one chroot, no change of directory but to its /.
check "no other chroot, fchdir or pivot_root after it" \
    not_contains "$T/after-chroot" '^[0-9]+ +(chroot|fchdir|pivot_root)\('
check "chdir only to /" not_contains "$T/after-chroot" '^[0-9]+ +chdir\("([^/]|/[^"])'
# Paths are looked up from the (chrooted) root or working directory, never
# from a descriptor: a *at() call with a directory descriptor, unless it
# is an fstat of the descriptor itself (AT_EMPTY_PATH).
grep -E '^[0-9]+ +[a-z0-9_]+at2?\([0-9]+,' "$T/after-chroot" | grep -v 'AT_EMPTY_PATH' >"$T/dirfd-lookups"
check "no path is looked up relative to a descriptor" test ! -s "$T/dirfd-lookups"
sed 's/^/#   /' "$T/dirfd-lookups"

# Every path the filter reached for: found inside the jail, or missing there.
sed -nE 's/^[0-9]+ +[a-z0-9_]+\((AT_FDCWD, )?"([^"]*)".* = (-?[0-9]+)( ([A-Z]+))?.*/\2 \3 \5/p' \
    "$T/after-chroot" | sort -u >"$T/paths"
: >"$T/found"
: >"$T/missing"
while read -r path rc err; do
    case $path in /*) ;; *) path="/$path" ;; esac
    if [ "$rc" -ge 0 ]; then
        echo "$path" >>"$T/found"
    elif [ "$err" = ENOENT ]; then
        echo "$path" >>"$T/missing"
    fi
done <"$T/paths"
sort -u -o "$T/found" "$T/found"
sort -u -o "$T/missing" "$T/missing"
echo "# paths found inside the chroot:"; sed 's/^/#   /' "$T/found"
echo "# paths looked for and missing inside the chroot:"; sed 's/^/#   /' "$T/missing"
not_in_jail=""
while read -r path; do
    [ -e "$jail$path" ] || not_in_jail="$not_in_jail $path"
done <"$T/found"
check "every path found after the chroot lies inside it (outside:${not_in_jail:- none})" test -z "$not_in_jail"
check "the rule file and each list file were read inside it" \
    test "$(grep -c '^/etc/mxguard/' "$T/found")" -ge 6
# What the filter may look for and go without (mxguard(8), SECURITY):
# the time zone (logs then stamp UTC); with --dns, resolv.conf (glibc's
# own resolver state, which asks nothing for mxguard); and at exit the
# socket's path, which libmilter would remove (the socket file stays).
unexpected=$(grep -vxF -e /etc/localtime -e /etc/resolv.conf -e "$MXG_SOCK" "$T/missing" | tr '\n' ' ')
check "nothing else was looked for and missing (${unexpected:-none})" test -z "$unexpected"

# Addresses: after the chroot it talks only to the DNS server.
grep -E '^[0-9]+ +(connect|sendto|sendmsg)\(' "$T/after-chroot" |
    grep -oE 'sun_path="[^"]*"|sin6?_port=htons\([0-9]+\)' | sort -u >"$T/peers"
echo "# peers after the chroot:"; sed 's/^/#   /' "$T/peers"
check "no unix socket is connected to after the chroot" not_contains "$T/peers" sun_path
check "every address it sends to is the DNS server's port" \
    test -z "$(grep -v "^sin6\?_port=htons($NSD_PORT)\$" "$T/peers")"
check "it did send to the DNS server" contains "$T/peers" "htons\($NSD_PORT\)"

# --- --dns-mode system in a chroot: resolv.conf is read inside it --------
# The check before the socket is opened reads the chroot's etc/resolv.conf
# too, so a chroot without one is refused at once, not by a filter
# process that fails after the start was reported good.
"$MXGUARD" -f -r "$jail" -c "$jail/etc/mxguard/gateway.rules" -p "unix:$T/system.sock" -u mxguard \
    --dns-mode system >"$T/system-none.log" 2>&1 </dev/null
check "--dns-mode system, no etc/resolv.conf in the chroot: exits 1" test $? -eq 1
check "... names the resolver" contains "$T/system-none.log" "DNS resolver:"
check "... before anything started" not_contains "$T/system-none.log" "serving|filter process"
check "... and opened no socket" test ! -e "$T/system.sock"
echo "nameserver 127.0.0.1" >"$jail/etc/resolv.conf"
chmod 644 "$jail/etc/resolv.conf"
ASAN_OPTIONS=$no_lsan MXG_SOCK_NAME=system.sock start_mxguard "$jail/etc/mxguard/gateway.rules" -r "$jail" --dns-mode system ||
    check "--dns-mode system starts with etc/resolv.conf in the chroot" false
check "--dns-mode system with etc/resolv.conf in the chroot: the filter loads its rules" \
    wait_for 20 contains "$MXG_LOG" "filter start: loaded /etc/mxguard/gateway.rules"
check "... and created its resolver" not_contains "$MXG_LOG" "DNS resolver:"
stop_mxguard
finish
