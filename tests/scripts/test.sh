#!/usr/bin/env bash
# `make test`: runs the whole suite on SQLite and PostgreSQL.
# PostgreSQL comes from OPENTRUSTY_TEST_POSTGRES_URL if set, else a local server that answers,
# else a throwaway cluster started here (needs the server binaries and root). Which backends
# ran is printed at the end; a skipped backend is said out loud, never silent.
set -uo pipefail
set -e
cd "$(dirname "$0")/../.."

pg_note=""
cluster_dir=""
cleanup() {
  if [ -n "$cluster_dir" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$cluster_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$cluster_dir"
  fi
}
trap cleanup EXIT

answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
  return 1
}

if [ -n "${OPENTRUSTY_TEST_POSTGRES_URL:-}" ]; then
  answers "$OPENTRUSTY_TEST_POSTGRES_URL" || { echo "OPENTRUSTY_TEST_POSTGRES_URL does not answer" >&2; exit 1; }
  pg_note="PostgreSQL: ran (OPENTRUSTY_TEST_POSTGRES_URL)"
elif command -v psql >/dev/null && answers "postgres://postgres@127.0.0.1:5432/postgres"; then
  export OPENTRUSTY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:5432/postgres"
  pg_note="PostgreSQL: ran (local server on 127.0.0.1:5432)"
else
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] && [ "$(id -u)" = 0 ] && command -v psql >/dev/null; then
    cluster_dir=$(mktemp -d /tmp/opentrusty-pg-XXXXXX)
    chown postgres: "$cluster_dir"
    port=$(free_port)
    runuser -u postgres -- "$pg_bin/initdb" -D "$cluster_dir/data" -A trust -U postgres --no-sync >/dev/null
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$cluster_dir/data" -l "$cluster_dir/log" -w -t 60 \
      -o "-p $port -k $cluster_dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
    export OPENTRUSTY_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
    pg_note="PostgreSQL: ran (throwaway cluster on port $port)"
  else
    pg_note="PostgreSQL: SKIPPED (no OPENTRUSTY_TEST_POSTGRES_URL, no local server, no server binaries or not root)"
  fi
fi
if [ -n "${OPENTRUSTY_TEST_POSTGRES_URL:-}" ]; then
  export OPENTRUSTY_TEST_REQUIRE_POSTGRES=1
fi

status=0
log=$(mktemp)
cargo test "$@" 2>&1 | tee "$log" || status=$?
passed=$(grep -oE '^test result: .* ([0-9]+) passed' "$log" | grep -oE '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -oE '; ([0-9]+) failed' "$log" | grep -oE '[0-9]+' | awk '{s+=$1} END {print s+0}')
rm -f "$log"
echo
echo "Backends: SQLite: ran; $pg_note"
echo "$passed passed, $failed failed"
exit $status
