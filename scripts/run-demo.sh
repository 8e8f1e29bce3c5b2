#!/bin/bash
# run-demo.sh: on a fresh Debian 12 machine, as root: install what is
# missing, build, and run mxguard in the foreground on the shipped
# gateway rules with a loopback socket. Ctrl-C stops it.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)
SOCKET=${MXGUARD_SOCKET:-inet:8895@127.0.0.1}

WITH_TEST_DEPS=0 scripts/install-deps.sh
./autogen.sh >/dev/null
mkdir -p _build-demo
cd _build-demo
[ -f Makefile ] || "$top/configure" -q
make -j"$(nproc)" mxguard >/dev/null
"$top/_build-demo/mxguard" -n -c "$top/rules/examples/gateway.rules"

port=${SOCKET#inet:}; port=${port%@*}
cat <<EOT

mxguard is built: $top/_build-demo/mxguard
Rules: $top/rules/examples/gateway.rules
  (edit rules/examples/trusted-networks and rules/examples/local-domains)

Hook postfix to it (/etc/postfix/main.cf, then "postfix reload"):
    smtpd_milters = inet:127.0.0.1:$port
    non_smtpd_milters = \$smtpd_milters
    milter_default_action = tempfail
    milter_protocol = 6
    milter_connect_timeout = 10s
    milter_command_timeout = 30s
    milter_content_timeout = 300s

Hook sendmail to it (sendmail.mc, then rebuild sendmail.cf):
    INPUT_MAIL_FILTER(\`mxguard', \`S=inet:$port@127.0.0.1, F=T, T=S:30s;R:60s;E:5m')dnl

Try a verdict without any MTA:
    printf 'EHLO x\\nMAIL FROM:<a@outside.example>\\nRCPT TO:<b@elsewhere.example>\\nQUIT\\n' |
        $top/_build-demo/mxguard --test-session 203.0.113.5 -c $top/rules/examples/gateway.rules

Starting mxguard in the foreground on $SOCKET as user mxguard (Ctrl-C stops it):
EOT
exec "$top/_build-demo/mxguard" -f -v -c "$top/rules/examples/gateway.rules" -p "$SOCKET" -u mxguard
