#!/bin/bash
# package.sh: the Debian package, as an admin meets it. Builds it with
# "dpkg-buildpackage -us -uc -b" from a fresh clone of the tree under test,
# checks it with lintian (no error, no warning), installs it with dpkg -i,
# checks files, owners and modes, runs "mxguard -n" on the installed
# configuration (/etc/mxguard/mxguard.conf and the rules it names),
# starts the installed daemon with the unit's own ExecStart line (as the
# unit's User=, with NOTIFY_SOCKET as systemd would set it: CI has no
# systemd as PID 1) and sends a relay probe through a private postfix to
# the socket in postfix's chroot (554), reinstalls over an edited conffile,
# and purges: nothing of ours is left.
#
# It changes the machine: run by "make check-package" (CI: once, alone,
# after the plain suite), never twice at once (a lock), and it purges the
# package and puts back the test suite's mxguard user at exit, even on failure.
. "$SRCDIR/tests/lib/common.sh"
. "$SRCDIR/tests/lib/postfix.sh"
need_postfix
for c in git dpkg-buildpackage lintian setpriv python3 flock; do need_cmd "$c"; done
git -C "$SRCDIR" rev-parse --git-dir >/dev/null 2>&1 ||
    { echo "SKIP: $SRCDIR is not a git checkout (a dist tarball): the package is built from a clone"; exit 77; }

mkdir -p /run/lock
exec 9>/run/lock/mxguard-package-test.lock
flock -w 900 9 || { check "no other package test runs (lock)" false; finish; }
if dpkg-query -W -f='${Status}' mxguard 2>/dev/null | grep -qv 'not-installed'; then
    echo "# a package mxguard is on this machine already: not touching it"
    check "no mxguard package installed before the test" false
    finish
fi

SOCKDIR=/var/spool/postfix/mxguard
UNIT=/lib/systemd/system/mxguard.service
HAD_USER=0
getent passwd mxguard >/dev/null && HAD_USER=1
DAEMON_PID=""

# At exit: stop the daemon, purge, give the test suite its user back.
restore_machine() {
    if [ -n "$DAEMON_PID" ]; then
        kill -TERM "$DAEMON_PID" 2>/dev/null
        wait_for 40 pid_gone "$DAEMON_PID" || kill -KILL "$DAEMON_PID" 2>/dev/null
    fi
    if dpkg-query -W -f='${Status}' mxguard 2>/dev/null | grep -qv 'not-installed'; then
        dpkg --purge mxguard >>"$T/dpkg.log" 2>&1
    fi
    [ "$HAD_USER" = 0 ] || ensure_user
}
on_exit restore_machine

# The suite's own mxguard user (scripts/install-deps.sh) would hide what
# the package's postinst does: install as on a fresh machine.
[ "$HAD_USER" = 0 ] || userdel mxguard 2>/dev/null || true
getent group mxguard >/dev/null && groupdel mxguard 2>/dev/null

# --- build ------------------------------------------------------------------------
git clone -q "$SRCDIR" "$T/src/mxguard" 2>"$T/clone.log" ||
    git -c safe.directory='*' clone -q "$SRCDIR" "$T/src/mxguard" 2>>"$T/clone.log"
check "a fresh clone of the tree" test -f "$T/src/mxguard/debian/control"
start=$(date +%s)
(cd "$T/src/mxguard" && DEB_BUILD_OPTIONS=parallel=2 nice -n 10 dpkg-buildpackage -us -uc -b) \
    >"$T/build.log" 2>&1
rc=$?
echo "# dpkg-buildpackage: $(( $(date +%s) - start )) s"
[ $rc -eq 0 ] || tail -n 40 "$T/build.log" | sed 's/^/#   /'
DEB=$(ls "$T"/src/mxguard_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1)
check "dpkg-buildpackage -us -uc -b builds mxguard_VERSION_ARCH.deb" test $rc -eq 0 -a -n "$DEB"
[ -n "$DEB" ] || finish
version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$BUILDDIR/config.h")
check "... its version is configure.ac's ($version)" test "${DEB##*/}" = "mxguard_${version}_$(dpkg --print-architecture).deb"

lintian --fail-on error,warning "$T"/src/mxguard_*.changes >"$T/lintian.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/lintian.out"
check "lintian: no error, no warning" test $rc -eq 0
check "... and no E: or W: tag printed" not_contains "$T/lintian.out" '^[EW]: '

# --- install --------------------------------------------------------------------
dpkg -i "$DEB" >"$T/dpkg.log" 2>&1
rc=$?
sed 's/^/#   /' "$T/dpkg.log"
check "dpkg -i installs it" test $rc -eq 0

# is PATH "OWNER:GROUP MODE" (stat's %U:%G %a)
is() { local got; got=$(stat -c '%U:%G %a' "$1" 2>&1); [ "$got" = "$2" ] || { echo "#   $1: $got"; return 1; }; }
conffiles=$(dpkg-query -W -f='${Conffiles}\n' mxguard | awk 'NF { print $1 }')
echo "$conffiles" | sed 's/^/#   conffile /'
is_conffile() { echo "$conffiles" | grep -qx "$1"; }

check "/usr/sbin/mxguard, root, 0755" is /usr/sbin/mxguard "root:root 755"
check "mxguard(8), mxguard.conf(5) and mxguard.rules(5)" test -f /usr/share/man/man8/mxguard.8.gz \
    -a -f /usr/share/man/man5/mxguard.conf.5.gz -a -f /usr/share/man/man5/mxguard.rules.5.gz
check "/etc/mxguard/mxguard.conf is the shipped settings" cmp -s /etc/mxguard/mxguard.conf "$SRCDIR/milter/mxguard.conf"
check "/etc/mxguard/mxguard.rules is the gateway rules" cmp -s /etc/mxguard/mxguard.rules "$SRCDIR/rules/examples/gateway.rules"
for f in mxguard.conf mxguard.rules trusted-networks local-domains our-names our-addresses dkim-keys executable-exts executable-types; do
    check "/etc/mxguard/$f: root, 0644" is "/etc/mxguard/$f" "root:root 644"
    check "... a conffile" is_conffile "/etc/mxguard/$f"
done
check "/etc/default/mxguard (the unit's options) is a conffile" is_conffile /etc/default/mxguard
for f in "$SRCDIR"/rules/examples/*; do
    check "example ${f##*/} in /usr/share/doc/mxguard/examples" \
        cmp -s "/usr/share/doc/mxguard/examples/${f##*/}" "$f"
done
check "the unit is installed" test -f "$UNIT"
check "a system user mxguard (uid < 1000) with no login shell" \
    awk -F: '$1 == "mxguard" && $3 < 1000 && $7 ~ /nologin|false/ { ok = 1 } END { exit !ok }' /etc/passwd
check "... and its group mxguard" sh -c "getent group mxguard >/dev/null"
check "/var/lib/mxguard: mxguard:mxguard 0750" is /var/lib/mxguard "mxguard:mxguard 750"
check "$SOCKDIR: mxguard:mxguard 0750" is "$SOCKDIR" "mxguard:mxguard 750"
check "postfix is in group mxguard" sh -c "id -nG postfix | grep -qw mxguard"

/usr/sbin/mxguard -n -c /etc/mxguard/mxguard.rules >"$T/check.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/check.out" | head -n 5
check "mxguard -n -c /etc/mxguard/mxguard.rules passes" test $rc -eq 0
setpriv --reuid=mxguard --regid=mxguard --init-groups /usr/sbin/mxguard -n -v >"$T/check2.out" 2>&1
check "... and a bare mxguard -n -v as user mxguard, on the installed configuration" test $? -eq 0
sed -n '1,/^$/p' "$T/check2.out" | grep -v '^#' | sed 's/^/#   /'
check "... reads /etc/mxguard/mxguard.conf" grep -q '^# settings in force: /etc/mxguard/mxguard.conf, then' "$T/check2.out"
check "... which names the socket in postfix's chroot" \
    grep -qE '^socket = unix:/var/spool/postfix/mxguard/mxguard.sock +# /etc/mxguard/mxguard.conf:[0-9]+$' "$T/check2.out"
check "... and the installed rules" grep -q '^/etc/mxguard/mxguard.rules: OK, ' "$T/check2.out"

# --- the unit's ExecStart, as systemd would run it ---------------------------------
# An admin's edit to a conffile: tests never ask the system's resolver.
sed -i 's/^MXGUARD_OPTS=.*/MXGUARD_OPTS="--dns=127.0.0.1@9"/' /etc/default/mxguard
unit_get() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
exec_start=$(unit_get ExecStart)
echo "# ExecStart=$exec_start"
run_user=$(unit_get User)
run_group=$(unit_get Group)
# systemd splits an unquoted $VAR at whitespace, as the shell does here.
exec_line=$(set -a; . /etc/default/mxguard; eval "echo $exec_start")
echo "# started as $run_user:$run_group: $exec_line"

cat >"$T/listen.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
open(sys.argv[3], "w").close()
with open(sys.argv[2], "a") as out:
    while True:
        out.write(s.recv(4096).decode("utf-8", "replace").replace("\n", " | ") + "\n")
        out.flush()
PY
python3 "$T/listen.py" "$T/notify.sock" "$T/notify.log" "$T/listening" </dev/null >/dev/null 2>&1 &
track_pid $!
wait_for 10 test -e "$T/listening"
# shellcheck disable=SC2086 # split like systemd does
(umask "$(unit_get UMask)"; cd / && exec env NOTIFY_SOCKET="$T/notify.sock" \
    setpriv --reuid="$run_user" --regid="$run_group" --init-groups $exec_line) \
    >"$T/daemon.out" 2>&1 </dev/null &
DAEMON_PID=$!
track_pid "$DAEMON_PID"
check "the daemon tells systemd READY=1" wait_for 20 grep -q '^READY=1' "$T/notify.log"
sed 's/^/#   /' "$T/notify.log"
check "... and listens on $SOCKDIR/mxguard.sock" unix_listening "$SOCKDIR/mxguard.sock"
check "the socket: mxguard:mxguard 0660" is "$SOCKDIR/mxguard.sock" "mxguard:mxguard 660"
check "nothing on stderr: it logs to syslog" test ! -s "$T/daemon.out"
sed 's/^/#   /' "$T/daemon.out"

# --- a private postfix through the socket in postfix's chroot ------------------------
# Postfix resolves "unix:mxguard/mxguard.sock" against its queue directory
# (Debian's smtpd runs chrooted there, in /var/spool/postfix). The private
# instance has a queue of its own: the link makes the same relative name
# reach the installed socket, with smtpd's own user and groups.
start_sink || setup_failed "smtp-sink"
start_postfix "unix:mxguard/mxguard.sock" || setup_failed "postfix"
ln -s "$SOCKDIR" "$PF_QUEUE/mxguard"
id=$(test_id)
smtp_send "$T/relay.out" --from someone@outside.example --to victim@elsewhere.example \
    --xclient-addr 203.0.113.7 --header "X-Test-Id: $id"
check "a relay probe is refused with 554 by the installed daemon" \
    reply_is "$T/relay.out" "554 5.7.1 <victim@elsewhere.example>: Relay access denied"
check "... and never reaches the sink" sink_never_got "$id"
id=$(test_id)
smtp_send "$T/local.out" --from app@example.org --to partner@elsewhere.example --header "X-Test-Id: $id"
check "mail from the trusted networks (127.0.0.1) relays" sink_wait_for "$id"
stop_postfix

kill -TERM "$DAEMON_PID"
check "the daemon stops on SIGTERM" wait_for 40 pid_gone "$DAEMON_PID"
untrack_pid "$DAEMON_PID"
DAEMON_PID=""

# --- reinstall over edited conffiles -------------------------------------------------
echo "192.0.2.0/24" >>/etc/mxguard/trusted-networks
echo "authserv-id = mx.example.org" >>/etc/mxguard/mxguard.conf
dpkg -i "$DEB" >>"$T/dpkg.log" 2>&1
check "dpkg -i again" test $? -eq 0
check "an edited conffile survives (trusted-networks)" grep -qx "192.0.2.0/24" /etc/mxguard/trusted-networks
check "... and mxguard.conf" grep -qx "authserv-id = mx.example.org" /etc/mxguard/mxguard.conf
/usr/sbin/mxguard -n -v >"$T/check3.out" 2>&1
check "... whose setting is in force" grep -qE '^authserv-id = mx.example.org +# /etc/mxguard/mxguard.conf:[0-9]+$' "$T/check3.out"
check "... and /etc/default/mxguard" grep -qx 'MXGUARD_OPTS="--dns=127.0.0.1@9"' /etc/default/mxguard
dpkg --remove mxguard >>"$T/dpkg.log" 2>&1
check "dpkg --remove keeps the conffiles and state" test -f /etc/mxguard/trusted-networks -a -d /var/lib/mxguard

# --- purge ---------------------------------------------------------------------------
dpkg --purge mxguard >>"$T/dpkg.log" 2>&1
check "dpkg --purge" test $? -eq 0
for p in /etc/mxguard /etc/default/mxguard /var/lib/mxguard "$SOCKDIR" /usr/sbin/mxguard "$UNIT" \
    /usr/share/doc/mxguard /etc/systemd/system/multi-user.target.wants/mxguard.service; do
    check "purge leaves no $p" test ! -e "$p" -a ! -L "$p"
done
check "... no user mxguard" sh -c '! getent passwd mxguard'
check "... no group mxguard" sh -c '! getent group mxguard'
left=$(find /etc /var/lib /lib/systemd /usr -name '*mxguard*' ! -path '/var/lib/dpkg/*' 2>/dev/null | grep -v "^$T")
[ -z "$left" ] || echo "$left" | sed 's/^/#   left: /'
check "... no file named after mxguard anywhere in /etc, /var/lib, /lib/systemd, /usr" test -z "$left"
finish
