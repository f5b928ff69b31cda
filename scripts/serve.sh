#!/usr/bin/env bash
# Install everything, then run the gateway on the embedded default:
# in-memory broker, SQLite file (./agentsocket.db), the built-in demo agent, dev tokens.
# Extra arguments go to `agentsocket serve` (e.g. --port 9000).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh
exec .venv/bin/agentsocket serve --dev "$@"
