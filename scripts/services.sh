#!/usr/bin/env bash
# Make sure the local Redis (6379) and PostgreSQL (5432) the tests use are up.
# Starts them with the machine's own commands when they are down.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 6379 && command -v redis-server >/dev/null; then
  echo "services: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
if ! port_open 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "services: starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
fi
for _ in $(seq 1 30); do
  if port_open 6379 && port_open 5432; then
    echo "services: Redis and PostgreSQL are up"
    exit 0
  fi
  sleep 1
done
echo "services: Redis or PostgreSQL did not come up (tests that need them will fail in CI)" >&2
exit 0
