#!/usr/bin/env bash
# Install everything, then run every check and the whole test suite.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh --test
scripts/services.sh

echo "== lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/mypy tests

echo "== generated artefacts are up to date"
.venv/bin/agentsocket generate --check   # every file in GENERATED.md, web build included

echo "== breaking-change gate"
.venv/bin/agentsocket schema check

echo "== AsyncAPI documents pass the official parser"
node scripts/validate-asyncapi.mjs docs/protocol/asyncapi-*.json

echo "== tests"
status=0
.venv/bin/pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$status"
