#!/bin/bash
# conffile.sh: the settings file, mxguard.conf(5), as an admin meets it:
# "mxguard -n" reports its mistakes as file:line:col and exits 1, the
# command line overrides it, "-n -v" lists the settings in force as a
# settings file that reads back the same, the shipped milter/mxguard.conf
# and each of its commented examples pass; and the option table, the
# man pages mxguard(8) and mxguard.conf(5) agree: every option is in
# mxguard(8), and both pages name the same command-line-only options.
. "$SRCDIR/tests/lib/common.sh"
cd "$SRCDIR" || exit 1
RULES=rules/examples/gateway.rules

# --- the option table and the man pages ----------------------------------------------
"$MXGUARD" --list-options >"$T/options" 2>&1
check "--list-options names the options" test "$(wc -l <"$T/options")" -gt 30
check "... and --help does not show it" sh -c "! '$MXGUARD' --help | grep -q list-options"
missing=""
while read -r name kind _; do
    grep -qF -- "\\-\\-${name//-/\\-}" man/mxguard.8 || missing="$missing --$name"
done <"$T/options"
echo "# options missing from mxguard.8:${missing:- none}"
check "mxguard(8) describes every option of the table (and --config, the old name)" test -z "$missing"

# between PAGE's '.\" NAME: begin' and '.\" NAME: end': the option names it lists, sorted
listed() {
    sed -n "/^\\.\\\\\" $2: begin/,/^\\.\\\\\" $2: end/p" "$1" | grep -v '^\.\\"' |
        sed -n 's/^\.\(B\|BR\|RB\) //p' | sed 's/^( *//; s/\\-/-/g; s/^--//; s/[ ,;.)]*$//; s/ .*//' | sort
}
awk '$2 == "command" { print $1 }' "$T/options" | sort >"$T/command-only"
listed man/mxguard.8 "command-line only" >"$T/man8-command"
listed man/mxguard.conf.5 "command-line only" >"$T/man5-command"
diff "$T/command-only" "$T/man8-command" | sed 's/^/#   mxguard.8: /'
check "mxguard(8) names the command-line-only options the table has" cmp -s "$T/command-only" "$T/man8-command"
diff "$T/command-only" "$T/man5-command" | sed 's/^/#   mxguard.conf.5: /'
check "mxguard.conf(5) names the same ones" cmp -s "$T/command-only" "$T/man5-command"
# Every other option is a setting: mxguard.conf(5) says so without naming them (-n -v lists them, from
# the table), so a new daemon option needs a line in mxguard(8) only.

# --- mistakes: file:line:col, all in one run, exit 1 ---------------------------------------
C="$T/bad.conf"
cat >"$C" <<EOF
# a settings file with five mistakes
socket = unix:$T/mx.sock
sockte = unix:/x.sock
umask = 0999
socket = unix:$T/other.sock
check = yes
dns 127.0.0.1
rules = $RULES
EOF
"$MXGUARD" -n -C "$C" >"$T/out" 2>"$T/err"
check "a broken settings file exits 1, as a broken rule file does" test $? -eq 1
sed 's/^/#   /' "$T/err"
check "five file:line:col errors" test "$(grep -Ec "^$C:[0-9]+:[0-9]+: " "$T/err")" -eq 5
check "an unknown name, with the name it is closest to" \
    contains "$T/err" "^$C:3:1: unknown setting \"sockte\"; did you mean \"socket\"\\?\$"
check "a bad value, with what was expected" \
    contains "$T/err" "^$C:4:9: umask: expected an octal mode like 0117, found \"0999\"\$"
check "a duplicate, with both positions" \
    contains "$T/err" "^$C:5:1: \"socket\" is set twice: here and at $C:2:1 "
check "a command-line option refused" \
    contains "$T/err" "^$C:6:1: \"check\" cannot be set in the settings file: it is a command-line option \\(--check\\)\$"
check "a line without '='" contains "$T/err" "^$C:7:5: expected '=' after \"dns\", found '1'\$"
check "... and no OK line: the rules were not checked on a broken settings file" test ! -s "$T/out"
"$MXGUARD" -n -C "$T/none.conf" --rules "$RULES" >"$T/out" 2>"$T/err"
check "a missing file named with -C exits 1" test $? -eq 1
check "... and says so" contains "$T/err" "^$T/none.conf: cannot read the settings file: No such file or directory\$"

# --- the command line over the file; -n -v lists it; the listing reads back ------------------
cat >"$C" <<EOF
rules = $RULES
socket = unix:$T/file.sock
dns = 192.0.2.1
dns = 192.0.2.2
store = backend=lmdb
authserv-id = mx.example.org
milter-timeout = 60
EOF
"$MXGUARD" -n -v -C "$C" --socket "unix:$T/cmd.sock" --dns 192.0.2.3 >"$T/out" 2>"$T/err"
check "-n -v with a settings file passes" test $? -eq 0
sed -n '1,/^$/p' "$T/out" >"$T/listed.conf"
sed 's/^/#   /' "$T/listed.conf"
check "the command line overrides the file" contains "$T/listed.conf" "^socket = unix:$T/cmd.sock +# command line\$"
check "a repeatable option on the command line replaces the file's values" \
    test "$(grep -c '^dns = ' "$T/listed.conf")" -eq 1
check "... with its own" contains "$T/listed.conf" "^dns = 192.0.2.3 +# command line\$"
check "a setting from the file, with its line" contains "$T/listed.conf" "^authserv-id = mx.example.org +# $C:6\$"
check "a default, commented out" contains "$T/listed.conf" "^#umask = 0117 +# default\$"
check "the settings come before the rules' OK line" \
    test "$(grep -n ': OK, ' "$T/out" | cut -d: -f1)" -gt "$(wc -l <"$T/listed.conf")"
"$MXGUARD" -n -v -C "$T/listed.conf" >"$T/again" 2>"$T/err"
check "the listing is itself a valid settings file" test $? -eq 0
sed 's/^/#   /' "$T/err"
values() { sed -n '1,/^$/p' "$1" | grep -v '^#' | sed 's/ *#.*//'; }
values "$T/out" >"$T/values1"
values "$T/again" >"$T/values2"
diff "$T/values1" "$T/values2" | sed 's/^/#   /'
check "... and gives the same settings" cmp -s "$T/values1" "$T/values2"

# --- the shipped settings file -------------------------------------------------------------
"$MXGUARD" -n -C milter/mxguard.conf --rules "$RULES" >"$T/out" 2>"$T/err"
check "the shipped milter/mxguard.conf passes -n" test $? -eq 0
sed 's/^/#   /' "$T/err"
"$MXGUARD" -n -v -C milter/mxguard.conf --rules "$RULES" >"$T/out" 2>&1
check "... its socket is in postfix's chroot" \
    contains "$T/out" "^socket = unix:/var/spool/postfix/mxguard/mxguard.sock +# milter/mxguard.conf:[0-9]+\$"
check "... its rule file the installed one" contains "$T/out" "^rules = $RULES +# command line\$"
check "... its store in /var/lib/mxguard" contains "$T/out" "^store = lmdb-path=/var/lib/mxguard/state.lmdb +# "
# Each commented example "#name = value" (and "#   store = ...") taken in.
{
    sed -n 's/^#\([a-z-]* = .*\)/\1/p' milter/mxguard.conf
    sed -n 's/^#   \(store = [a-z-]*=[^ ]*\).*/\1/p' milter/mxguard.conf
} >"$T/examples.conf"
sed 's/^/#   /' "$T/examples.conf"
check "the shipped file has commented examples" test "$(wc -l <"$T/examples.conf")" -gt 10
"$MXGUARD" -n -C "$T/examples.conf" --rules "$RULES" >"$T/out" 2>"$T/err"
check "... and each is a valid setting" test $? -eq 0
sed 's/^/#   /' "$T/err"
finish
