#!/bin/bash
# privdrop.sh: the daemon runs unprivileged, refuses to run as root
# unasked, and warns about sockets others could reach.
. "$SRCDIR/tests/lib/common.sh"
need_root
ensure_user

uids_of() { awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$1/status"; }
groups_of() { awk '/^Groups:/ { $1 = ""; print }' "/proc/$1/status"; }
want_uid=$(id -u mxguard)

start_mxguard "$SRCDIR/rules/examples/gateway.rules" || { check "daemon starts" false; finish; }
fp=$(filter_pid)
check "ps shows the filter under a non-root user" test "$(ps -o user= -p "$fp")" = mxguard
check "supervisor runs as mxguard too" test "$(ps -o user= -p "$MXG_PID")" = mxguard
check "real, effective, saved and fs uids are all mxguard" \
    test "$(uids_of "$fp")" = "$want_uid $want_uid $want_uid $want_uid"
check "no supplementary groups kept from root" test "$(groups_of "$fp" | tr -d ' ')" = "$(id -g mxguard)"
check "socket belongs to the run user" test "$(stat -c %U "$MXG_SOCK")" = mxguard
check "socket mode follows --umask 0111" test "$(stat -c %a "$MXG_SOCK")" = 666
stop_mxguard

# As root, without --user: refused.
"$MXGUARD" -f -c "$SRCDIR/rules/examples/gateway.rules" -p "unix:$T/root.sock" >"$T/root.log" 2>&1
check "running as root without --user exits 1" test $? -eq 1
check "and says why" contains "$T/root.log" "refusing to run as root"
check "and opened no socket" test ! -e "$T/root.sock"

# Default umask 0117: the socket is 0660, for the run user's group.
"$MXGUARD" -f -c "$SRCDIR/rules/examples/gateway.rules" -p "unix:$T/def.sock" -u mxguard >"$T/def.log" 2>&1 &
track_pid $!
wait_for 10 test -S "$T/def.sock"
check "default socket mode is 0660" test "$(stat -c %a "$T/def.sock")" = 660

# An inet socket without a host listens everywhere: warned.
port=$(( (RANDOM % 20000) + 30000 ))
"$MXGUARD" -f -c "$SRCDIR/rules/examples/gateway.rules" -p "inet:$port" -u mxguard >"$T/inet.log" 2>&1 &
inet_pid=$!
track_pid $inet_pid
wait_for 10 contains "$T/inet.log" "listens on every interface"
check "inet socket without a host is warned about" contains "$T/inet.log" "listens on every interface"

# An unknown user is an error before anything is opened.
"$MXGUARD" -f -c "$SRCDIR/rules/examples/gateway.rules" -p "unix:$T/x.sock" -u no-such-user-mxg >"$T/nouser.log" 2>&1
check "unknown user exits 1" test $? -eq 1
check "unknown user is named" contains "$T/nouser.log" "no such user"
finish
