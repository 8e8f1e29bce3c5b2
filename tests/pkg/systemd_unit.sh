#!/bin/bash
# systemd_unit.sh: debian/mxguard.service passes "systemd-analyze verify"
# and "systemd-analyze security --offline=true" rates its exposure 2.0 or
# lower; it runs mxguard in the foreground (Type=notify, no -f: syslog),
# reloads with a signal and restarts on failure. Needs no systemd as PID 1.
. "$SRCDIR/tests/lib/common.sh"
need_cmd systemd-analyze

UNIT="$SRCDIR/debian/mxguard.service"
# verify checks that ExecStart's program exists: point it at the built one.
mkdir -p "$T/unit"
sed "s#^ExecStart=/usr/sbin/mxguard #ExecStart=$MXGUARD #" "$UNIT" >"$T/unit/mxguard.service"
check "ExecStart was pointed at the built mxguard" grep -qF "ExecStart=$MXGUARD " "$T/unit/mxguard.service"

(cd "$T" && systemd-analyze verify --man=no "$T/unit/mxguard.service") >"$T/verify.out" 2>&1
rc=$?
sed 's/^/#   /' "$T/verify.out"
check "systemd-analyze verify passes" test "$rc" -eq 0
check "... without a complaint" test ! -s "$T/verify.out"

systemd-analyze security --offline=true "$T/unit/mxguard.service" >"$T/security.out" 2>&1
grep -E '✗|Overall' "$T/security.out" | sed 's/^/#   /'
level=$(sed -n 's/.*Overall exposure level for mxguard.service: \([0-9.]*\).*/\1/p' "$T/security.out")
echo "# exposure level: ${level:-none}"
check "systemd-analyze security prints an exposure level" test -n "$level"
check "... of 2.0 or lower" awk -v l="${level:-99}" 'BEGIN { exit !(l + 0 <= 2.0) }'

# setting NAME: the value the unit gives NAME (the last one).
setting() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
check "Type=notify" test "$(setting Type)" = notify
check "ExecStart runs mxguard without -f (it logs to syslog)" \
    sh -c "sed -n 's/^ExecStart=//p' '$UNIT' | grep -qv -e ' -f' -e '--foreground'"
check "ExecReload sends SIGHUP to the main process" test "$(setting ExecReload)" = '/bin/kill -HUP $MAINPID'
check "Restart=on-failure" test "$(setting Restart)" = on-failure
check "no capability at all" test -z "$(setting CapabilityBoundingSet)"
check "ReadWritePaths: the socket and state directories only" \
    test "$(setting ReadWritePaths)" = "/var/spool/postfix/mxguard /var/lib/mxguard"
check "ExecStart reads the settings file" \
    grep -qx 'ExecStart=/usr/sbin/mxguard -C /etc/mxguard/mxguard.conf $MXGUARD_OPTS' "$UNIT"
check "... which puts the socket inside postfix's chroot" \
    grep -qx 'socket = unix:/var/spool/postfix/mxguard/mxguard.sock' "$SRCDIR/milter/mxguard.conf"
check "... and names no user or chroot (the unit starts mxguard as user mxguard, not root)" \
    sh -c "! grep -qE '^(user|chroot) *=' '$SRCDIR/milter/mxguard.conf'"
for s in ProtectSystem=strict ProtectHome=yes PrivateTmp=yes PrivateDevices=yes NoNewPrivileges=yes \
    'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' SystemCallFilter=@system-service MemoryDenyWriteExecute=yes; do
    check "$s" grep -qx "$s" "$UNIT"
done
finish
