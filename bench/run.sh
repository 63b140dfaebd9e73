#!/usr/bin/env bash
# `make bench`: runs bench/oidc.rs (example `oidc-bench`) against the release daemon, once on a
# fresh SQLite database (durable WAL writes) and once on PostgreSQL (a throwaway cluster on this
# machine, started like the tests start one), each with a tenant, a user with a login session
# and two clients; then prints the two backends side by side. Uses the static binary of
# `make build`. Numbers are printed; nothing is asserted.
#   BENCH_BACKENDS="sqlite postgres" (default), BENCH_CONNS, BENCH_SECS, BENCH_ONLY, BENCH_PERF
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${BENCH_CONNS:-32}
SECS=${BENCH_SECS:-5}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
BIN=${BENCH_BIN:-target/x86_64-unknown-linux-musl/release/opentrusty}
cargo build --release --example oidc-bench
work=$(mktemp -d /tmp/opentrusty-bench-XXXXXX)
chmod 755 "$work"
# Run a copy, as a package would install it: the linker's freshly written output sits in the page
# cache in large folios, and mapping one maps all of it, which inflated idle RSS by ~2 MiB of
# binary text that the daemon never touched.
cp "$BIN" "$work/opentrusty"
BIN="$work/opentrusty"
pid="" pg_bin="" pg_dir=""
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$pg_dir" ]; then
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
  done
  return 1
}
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# A PostgreSQL cluster of its own, as `make test` starts one. Durability as SQLite's WAL with
# synchronous=NORMAL has it: a commit survives a crash of the daemon or of PostgreSQL, and the
# database is never corrupted, but the last commits before an OS crash may be lost
# (synchronous_commit=off; fsync stays on).
start_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -z "$pg_bin" ] || [ "$(id -u)" != 0 ]; then
    echo "bench: PostgreSQL skipped (needs the server binaries under /usr/lib/postgresql and root)"
    return 1
  fi
  pg_dir="$work/pg"
  mkdir -p "$pg_dir" && chown postgres: "$pg_dir"
  local port; port=$(free_port)
  runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 \
    -o "-p $port -k $pg_dir -c listen_addresses=127.0.0.1 -c synchronous_commit=off -c max_connections=100 -c shared_buffers=256MB" start >/dev/null
  psql "postgres://postgres@127.0.0.1:$port/postgres" -qc 'CREATE DATABASE opentrusty' >/dev/null
  PG_URL="postgres://postgres@127.0.0.1:$port/opentrusty"
}

# bench_backend NAME DATABASE_URL: a fresh daemon on that database, then the load generator.
bench_backend() {
  local name=$1 db=$2
  local port; port=$(free_port)
  local dir="$work/$name"; mkdir -p "$dir"
  echo
  echo "=== backend: $name"
  export OPENTRUSTY_DATABASE_URL="$db" STATE_DIRECTORY="$dir" \
    OPENTRUSTY_KEY_ENCRYPTION_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
    OPENTRUSTY_PUBLIC_URL="http://127.0.0.1:$port" OPENTRUSTY_LISTEN="127.0.0.1:$port" \
    OPENTRUSTY_ALLOW_ROOT=true OPENTRUSTY_LOG="${BENCH_LOG:-warn}" \
    OPENTRUSTY_LOGIN_RATE_PER_IP=1000000 OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT=1000000
  $BIN tenant create acme >/dev/null
  printf 'bench-password-123\n' | $BIN user create --tenant acme --email bench@example.com --password-file - >/dev/null
  local rp svc
  rp=$($BIN client create --tenant acme --name bench-rp --redirect-uri https://rp.example/cb --first-party --json)
  svc=$($BIN client create --tenant acme --name bench-svc --grant client_credentials --scope api --introspection --json)
  $BIN serve 2>"$dir/daemon.log" &
  pid=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
  local idle_rss; idle_rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
  echo "daemon idle RSS right after start-up: $idle_rss KiB"
  # A login session for the code-exchange scenario (CSRF cookie + form, then the session cookie).
  local jar="$dir/cookies" page csrf cookie
  page=$(curl -s -c "$jar" "http://127.0.0.1:$port/t/acme/login")
  csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "email=bench@example.com&password=bench-password-123&csrf=$csrf" "http://127.0.0.1:$port/t/acme/login"
  cookie=$(awk '$6 == "opentrusty_session_acme" {print $6"="$7}' "$jar")
  [ -n "$cookie" ] || { echo "bench: could not log in (no session cookie)" >&2; cat "$jar" >&2; exit 1; }
  OT_BASE="http://127.0.0.1:$port" OT_ISSUER="http://127.0.0.1:$port/t/acme" OT_PID=$pid \
  OT_CONNS=$CONNS OT_SECS=$SECS OT_COOKIE="$cookie" OT_ONLY="${BENCH_ONLY:-}" \
  OT_SUMMARY="$work/summary-$name.tsv" \
  OT_RP_ID=$(field "$rp" client_id) OT_RP_SECRET=$(field "$rp" client_secret) \
  OT_SVC_ID=$(field "$svc" client_id) OT_SVC_SECRET=$(field "$svc" client_secret) \
    target/release/examples/oidc-bench &
  local gen=$!
  if [ -n "${BENCH_PERF:-}" ]; then
    sleep 2; perf record -g -p "$pid" -o "$BENCH_PERF.$name" -- sleep 3 >/dev/null 2>&1 || true
  fi
  wait $gen
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
}

ran=()
for b in $BACKENDS; do
  case $b in
    sqlite) bench_backend sqlite "sqlite://$work/sqlite/bench.db"; ran+=(sqlite) ;;
    postgres) if start_postgres; then bench_backend postgres "$PG_URL"; ran+=(postgres); fi ;;
    *) echo "bench: unknown backend $b" >&2; exit 2 ;;
  esac
done

if [ "${#ran[@]}" = 2 ]; then
  echo
  echo "=== SQLite and PostgreSQL side by side (same run, same machine; PostgreSQL/SQLite ratio of requests/s)"
  python3 - "$work/summary-sqlite.tsv" "$work/summary-postgres.tsv" <<'PY'
import sys
def read(p):
    out = {}
    for line in open(p):
        name, rps, cpu, p99 = line.rstrip("\n").split("\t")
        out[name] = (float(rps), float(cpu), int(p99))
    return out
s, p = read(sys.argv[1]), read(sys.argv[2])
print(f"{'scenario':<48} {'SQLite req/s':>12} {'PostgreSQL req/s':>16} {'ratio':>6}   {'CPU µs (S/P)':>14}")
for name, (rps, cpu, _) in s.items():
    if name not in p:
        continue
    prps, pcpu, _ = p[name]
    print(f"{name:<48} {rps:>12.0f} {prps:>16.0f} {prps / rps if rps else 0:>6.2f}   {cpu:>6.1f}/{pcpu:<6.1f}")
PY
fi
