#!/usr/bin/env bash
# The OpenID Connect provider the browser tests sign in through (oauth2-mock-server from npm,
# pinned by tests/oidc/package-lock.json), and Node to run it (Debian's, when missing).
set -euo pipefail
cd "$(dirname "$0")/../tests/oidc"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's nodejs and npm for the OIDC test provider…" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq nodejs npm >/dev/null
  else
    echo "node and npm are missing: install them (Debian: sudo apt-get install nodejs npm); the sign-in tests need them" >&2
    exit 1
  fi
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
