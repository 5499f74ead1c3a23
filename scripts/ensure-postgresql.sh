#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries are installed: the store tests start a throwaway
# cluster of their own with them (initdb in a temporary folder, a loopback port), never the
# package's own cluster.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's postgresql for the store tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d 101: the package's own cluster is not started (nothing here uses it)
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -qq postgresql >/dev/null
  exit 0
fi
echo "PostgreSQL is missing: install it (Debian: sudo apt-get install postgresql); the store tests need it" >&2
exit 1
