#!/bin/sh
# install-deps.sh: install the Debian packages mxguard needs to build and
# to run its whole test suite, without starting any of their services and
# without touching the system's mail set-up. Safe to run again.
set -eu

[ "$(id -u)" = 0 ] || { echo "install-deps.sh: run as root" >&2; exit 1; }

BUILD="build-essential autoconf automake pkg-config bison
  libmilter-dev libspf2-dev libopendkim-dev libunbound-dev libevent-dev
  libpcre2-dev liblmdb-dev libhiredis-dev libcmocka-dev libidn2-dev libjson-c-dev libmicrohttpd-dev libssl-dev libopendmarc-dev publicsuffix
  libmagic-dev libarchive-dev libgmime-3.0-dev
  libsystemd-dev debhelper"
TEST="postfix miltertest swaks libio-socket-inet6-perl sasl2-bin libsasl2-modules
  redis-server nsd python3-dnslib python3-yaml python3-spf jq clang libclang-rt-14-dev valgrind procps iproute2 m4 util-linux openssl
  prometheus curl opendmarc python3-dkim opendkim-tools
  mariadb-server libdbd-mysql-perl libdbi-perl libswitch-perl libjson-perl unzip
  zip python3-py7zr clamav-daemon
  lintian git systemd strace"

# WITH_TEST_DEPS=0 installs only what building needs.
pkgs=$BUILD
[ "${WITH_TEST_DEPS:-1}" = 0 ] || pkgs="$pkgs $TEST"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done

if [ -n "$missing" ]; then
    # Packages with services (postfix, nsd, redis, mariadb, clamav-daemon and its
    # freshclam) must not start them:
    # tests run their own private instances on loopback.
    made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
    [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
fi

# sendmail conflicts with postfix: the tests run a private copy, unpacked
# (dpkg -x) into /var/cache/mxguard-tests/sendmail, never installed.
if [ "${WITH_TEST_DEPS:-1}" != 0 ]; then
    bash "$(dirname "$0")/../tests/lib/sendmail.sh" unpack >/dev/null ||
        { echo "install-deps.sh: could not unpack a private sendmail" >&2; exit 1; }
fi

# The RFC 7208 SPF test suite comes with python3-spf, in /usr/share/doc:
# where dpkg's path-exclude leaves that out (minimal images), take the
# file from the package itself into /var/cache/mxguard-tests/python3-spf/,
# where tests/spf/conformance.sh looks next.
SPF_SUITE_DOC=/usr/share/doc/python3-spf/rfc7208-tests.yml.gz
SPF_SUITE_CACHE=/var/cache/mxguard-tests/python3-spf/rfc7208-tests.yml.gz
if [ "${WITH_TEST_DEPS:-1}" != 0 ] && [ ! -f "$SPF_SUITE_DOC" ] && [ ! -s "$SPF_SUITE_CACHE" ]; then
    tmp=$(mktemp -d)
    chown _apt "$tmp" 2>/dev/null || true    # apt-get download fetches as _apt
    mkdir -p "${SPF_SUITE_CACHE%/*}"
    if (cd "$tmp" && apt-get download -q python3-spf >/dev/null) &&
        dpkg-deb --fsys-tarfile "$tmp"/python3-spf_*.deb |
            tar -xO ".$SPF_SUITE_DOC" >"$SPF_SUITE_CACHE.tmp" && [ -s "$SPF_SUITE_CACHE.tmp" ]; then
        mv "$SPF_SUITE_CACHE.tmp" "$SPF_SUITE_CACHE"
    else
        rm -rf "$tmp" "$SPF_SUITE_CACHE.tmp"
        echo "install-deps.sh: could not get the RFC 7208 suite out of python3-spf" >&2
        exit 1
    fi
    rm -rf "$tmp"
fi

# The unprivileged user the daemon runs as.
id mxguard >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mxguard
