#!/usr/bin/env bash
# Install everything the project needs, from its own files, into .venv.
# Idempotent: a second run only checks that everything is there.
#   scripts/bootstrap.sh          what the gateway needs
#   scripts/bootstrap.sh --test   plus what the test suite needs (Debian's chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--test" ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "bootstrap: installing Debian's chromium for the browser test"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "bootstrap: /usr/bin/chromium is missing; run as root or: sudo apt-get install chromium" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet -e '.[dev]'

# Node tooling (official AsyncAPI parser, JSON Schema → TypeScript, tsc), exactly from the lock.
if ! command -v npm >/dev/null; then
  echo "bootstrap: npm not found; install Node.js >= 20 (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
fi
