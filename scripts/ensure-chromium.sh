#!/usr/bin/env bash
# Make sure Debian's Chromium is installed: the end-to-end tests drive it with Playwright.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian's chromium for the browser tests…" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "chromium is missing: install it (Debian: sudo apt-get install chromium); the browser tests need it" >&2
exit 1
