#!/usr/bin/env bash
# Installs everything the tests need, then runs every test: ruff, pytest (Python, browser) and node (Apps Script).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'

# Browser tests drive Debian's chromium through Playwright (no browser download).
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# Apps Script tests: TypeScript and the Apps Script type definitions, pinned by the lock file.
if [ -f apps_script/package-lock.json ]; then
  (cd apps_script && npm ci --no-audit --no-fund --loglevel=error)
fi

.venv/bin/ruff check .
.venv/bin/python -m pytest
if [ -d apps_script/tests ]; then
  (cd apps_script && npm test)
fi
