#!/bin/bash
# install.sh: "make install" gives a working "mxguard -n": the default rule
# file (the gateway rules), its list files and the settings file
# (milter/mxguard.conf, its paths made SYSCONFDIR's) in SYSCONFDIR/mxguard/, the
# example rule files in the documentation, an admin's own files kept, and
# "make uninstall" removing what it put. Runs "make install" from the build
# directory into DESTDIR=$T/root.
. "$SRCDIR/tests/lib/common.sh"
: "${MXG_SBINDIR:?}" "${MXG_SYSCONFDIR:?}" "${MXG_EXAMPLESDIR:?}" "${BUILDDIR:?}"
MAKE=${MAKE:-make}
ROOT="$T/root"
RULES="$MXG_SYSCONFDIR/mxguard/mxguard.rules"
ETC="$ROOT$MXG_SYSCONFDIR/mxguard"

# A make of its own: not the jobs, targets or variables of the "make check"
# that runs this test.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u TESTS $MAKE -C "$BUILDDIR" "$@" DESTDIR="$ROOT" >>"$T/make.log" 2>&1; }
log_tail() { tail -n 20 "$T/make.log" | sed 's/^/#   /'; }

mk install || log_tail
check "make install DESTDIR=... succeeds" test -x "$ROOT$MXG_SBINDIR/mxguard"
check "the default rule file is installed: the gateway rules" cmp -s "$ETC/mxguard.rules" "$SRCDIR/rules/examples/gateway.rules"
for f in trusted-networks local-domains our-names our-addresses; do
    check "its list file $f beside it" cmp -s "$ETC/$f" "$SRCDIR/rules/examples/$f"
done
for f in "$SRCDIR"/rules/examples/*; do
    check "example ${f##*/} in the documentation" cmp -s "$ROOT$MXG_EXAMPLESDIR/${f##*/}" "$f"
done
check "the settings file is installed" test -f "$ETC/mxguard.conf"
check "... naming the installed rule file" grep -qx "rules = $RULES" "$ETC/mxguard.conf"
check "... and otherwise the shipped one, its /etc/mxguard/ paths made $MXG_SYSCONFDIR/mxguard/" \
    sh -c "sed 's|/etc/mxguard/|$MXG_SYSCONFDIR/mxguard/|g' '$SRCDIR/milter/mxguard.conf' | cmp -s - '$ETC/mxguard.conf'"
"$ROOT$MXG_SBINDIR/mxguard" -n -C "$ETC/mxguard.conf" --rules "$ETC/mxguard.rules" >"$T/out" 2>&1
check "the installed mxguard -n passes on the installed settings" test $? -eq 0
sed 's/^/#   /' "$T/out" | head -n 5

"$ROOT$MXG_SBINDIR/mxguard" -n -c "$ETC/mxguard.rules" >"$T/out" 2>&1
rc=$?
sed 's/^/#   /' "$T/out" | head -n 20
check "the installed mxguard -n passes on the installed rules" test "$rc" -eq 0
"$ROOT$MXG_SBINDIR/mxguard" -n -c "$ROOT$MXG_EXAMPLESDIR/dnsbl.rules" >"$T/out" 2>&1
check "... and on an installed example that includes the gateway rules" test $? -eq 0

# The compiled-in default of -c is the installed path (without DESTDIR).
"$ROOT$MXG_SBINDIR/mxguard" -h >"$T/help" 2>&1
grep -e '--config' "$T/help" | sed 's/^/#   /'
check "mxguard -h names the default rule file $RULES" \
    grep -qF "rule file (default $RULES)" "$T/help"
check "... and the default settings file" grep -qF "(default $MXG_SYSCONFDIR/mxguard/mxguard.conf;" "$T/help"
(cd / && "$ROOT$MXG_SBINDIR/mxguard" -n) >"$T/out" 2>&1
rc=$?
sed 's/^/#   /' "$T/out" | head -n 5
if [ -e "$RULES" ]; then
    check "a bare mxguard -n reads $RULES (installed on this machine)" not_contains "$T/out" "cannot open"
else
    check "a bare mxguard -n looks for $RULES" grep -qF "$RULES: cannot open" "$T/out"
fi

# An admin's files are kept by a second install, and by uninstall.
echo "# the admin's own line" >>"$ETC/mxguard.rules"
echo "192.0.2.0/24" >"$ETC/trusted-networks"
echo "# the admin's own setting" >>"$ETC/mxguard.conf"
mk install || log_tail
check "a second install keeps an edited rule file" grep -qx "# the admin's own line" "$ETC/mxguard.rules"
check "... and an edited settings file" grep -qx "# the admin's own setting" "$ETC/mxguard.conf"
check "... and an edited list file" grep -qx "192.0.2.0/24" "$ETC/trusted-networks"
check "... and says so" grep -q "keeping .*/mxguard.rules" "$T/make.log"
mk uninstall || log_tail
check "make uninstall removes the binary" test ! -e "$ROOT$MXG_SBINDIR/mxguard"
check "... and the examples" test ! -e "$ROOT$MXG_EXAMPLESDIR/gateway.rules"
check "... and the list files still as shipped" test ! -e "$ETC/local-domains" -a ! -e "$ETC/our-names" -a ! -e "$ETC/our-addresses"
check "... but keeps the edited rule file and list" test -f "$ETC/mxguard.rules" -a -f "$ETC/trusted-networks"
check "... and the edited settings file" test -f "$ETC/mxguard.conf"
rm -f "$ETC/mxguard.rules" "$ETC/trusted-networks" "$ETC/mxguard.conf"
mk install && mk uninstall || log_tail
find "$ROOT" -type f | sed 's/^/#   left: /'
check "install then uninstall leaves no file" test -z "$(find "$ROOT" -type f)"
check "... nor the rules directory" test ! -e "$ETC"
finish
