#!/usr/bin/env bash
# `make bench`: runs bench/oidc.rs (example `oidc-bench`) against the release daemon, once on a
# fresh SQLite database (durable WAL writes) and once on PostgreSQL (a throwaway cluster on this
# machine, started like the tests start one), each with a tenant, a user with a login session
# and two clients; then prints the two backends side by side. Uses the static binary of
# `make build`. Numbers are printed; nothing is asserted. Last, bench/users.rs (example
# `users-bench`): the management API's user list with 100,000 users, on SQLite and on this run's
# PostgreSQL cluster.
#   BENCH_BACKENDS="sqlite postgres" (default), BENCH_CONNS, BENCH_SECS, BENCH_ONLY
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${BENCH_CONNS:-32}
SECS=${BENCH_SECS:-5}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
BIN=${BENCH_BIN:-target/x86_64-unknown-linux-musl/release/opentrusty}
cargo build --release --example oidc-bench --example api-bench
work=$(mktemp -d /tmp/opentrusty-bench-XXXXXX)
chmod 755 "$work"
# Run a copy, as a package would install it: the linker's freshly written output sits in the page
# cache in large folios, and mapping one maps all of it, which inflated idle RSS by ~2 MiB of
# binary text that the daemon never touched.
cp "$BIN" "$work/opentrusty"
BIN="$work/opentrusty"
pids=() pg_bin="" pg_dir=""
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
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

# setup_backend NAME DATABASE_URL: a fresh daemon on that database with its fixtures; what the
# load generator needs to reach it goes to $work/env-NAME.
setup_backend() {
  local name=$1 db=$2
  local port; port=$(free_port)
  local dir="$work/$name"; mkdir -p "$dir"
  (
    export OPENTRUSTY_DATABASE_URL="$db" STATE_DIRECTORY="$dir" \
      OPENTRUSTY_KEY_ENCRYPTION_KEY=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f \
      OPENTRUSTY_PUBLIC_URL="http://127.0.0.1:$port" OPENTRUSTY_LISTEN="127.0.0.1:$port" \
      OPENTRUSTY_ALLOW_ROOT=true OPENTRUSTY_LOG="${BENCH_LOG:-warn}" \
      OPENTRUSTY_LOGIN_RATE_PER_IP=1000000 OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT=1000000
    $BIN tenant create acme >/dev/null
    printf 'bench-password-123\n' | $BIN user create --tenant acme --email bench@example.com --password-file - >/dev/null
    $BIN client create --tenant acme --name bench-rp --redirect-uri https://rp.example/cb --first-party --json > "$dir/rp.json"
    $BIN client create --tenant acme --name bench-svc --grant client_credentials --scope api --introspection --json > "$dir/svc.json"
    exec $BIN serve 2>"$dir/daemon.log"
  ) &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
  echo "$name: daemon idle RSS right after start-up: $(awk '/^VmRSS/ {print $2}' /proc/$pid/status) KiB"
  # A login session for the code-exchange scenario (CSRF cookie + form, then the session cookie).
  local jar="$dir/cookies" page csrf cookie pg_pid=""
  page=$(curl -s -c "$jar" "http://127.0.0.1:$port/t/acme/login")
  csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
  curl -s -b "$jar" -c "$jar" -o /dev/null -d "email=bench@example.com&password=bench-password-123&csrf=$csrf" "http://127.0.0.1:$port/t/acme/login"
  cookie=$(awk '$6 == "opentrusty_session_acme" {print $6"="$7}' "$jar")
  [ -n "$cookie" ] || { echo "bench: could not log in (no session cookie)" >&2; cat "$jar" >&2; exit 1; }
  # On PostgreSQL the server's CPU is counted too (it shares this machine's cores).
  [ "$name" = postgres ] && pg_pid=$(head -n1 "$pg_dir/data/postmaster.pid")
  local rp svc; rp=$(cat "$dir/rp.json"); svc=$(cat "$dir/svc.json")
  cat > "$work/env-$name" <<ENV
OT_BASE=http://127.0.0.1:$port
OT_ISSUER=http://127.0.0.1:$port/t/acme
OT_PID=$pid
OT_PG_PID=$pg_pid
OT_COOKIE=$cookie
OT_CONNS=$CONNS
OT_SECS=$SECS
OT_SUMMARY=$work/summary-$name.tsv
OT_RP_ID=$(field "$rp" client_id)
OT_RP_SECRET=$(field "$rp" client_secret)
OT_SVC_ID=$(field "$svc" client_id)
OT_SVC_SECRET=$(field "$svc" client_secret)
ENV
}

# run_scenario NAME SCENARIO [extra env]: one scenario of the load generator against NAME.
run_scenario() {
  local name=$1 scenario=$2; shift 2
  env $(cat "$work/env-$name") OT_ONLY="$scenario" "$@" target/release/examples/oidc-bench
}

ran=()
for b in $BACKENDS; do
  case $b in
    sqlite) setup_backend sqlite "sqlite://$work/sqlite/bench.db"; ran+=(sqlite) ;;
    postgres) if start_postgres; then setup_backend postgres "$PG_URL"; ran+=(postgres); fi ;;
    *) echo "bench: unknown backend $b" >&2; exit 2 ;;
  esac
done
echo "connections $CONNS, $SECS s per scenario; the backends take turns scenario by scenario, so a"
echo "slow spell of this shared machine hits both alike"
scenarios=("trivial handler" discovery jwks client_credentials introspection userinfo
  "refresh (rotation, OAuth" "refresh (rotation, OIDC" "code exchange")
for s in "${scenarios[@]}"; do
  if [ -n "${BENCH_ONLY:-}" ] && [[ "$s" != *"$BENCH_ONLY"* ]]; then continue; fi
  for b in "${ran[@]}"; do
    printf '%-9s ' "$b"
    run_scenario "$b" "$s"
  done
done
for b in "${ran[@]}"; do
  printf '%-9s ' "$b"; run_scenario "$b" "-none-" OT_REPORT=1
done
OT_RS256_ONLY=1 target/release/examples/oidc-bench

# The management API (issue 10), in process on SQLite: API token authentication per request
# over a trivial answer, and the NDJSON audit export of BENCH_AUDIT_EVENTS events.
if [ -z "${BENCH_ONLY:-}" ] || [[ "management API" == *"$BENCH_ONLY"* ]]; then
  echo
  target/release/examples/api-bench "${BENCH_API_REQUESTS:-100000}" "${BENCH_AUDIT_EVENTS:-1000000}"
fi

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
print(f"{'scenario':<48} {'SQLite req/s':>12} {'PostgreSQL req/s':>16} {'ratio':>6}   CPU µs/req, daemon (+ PostgreSQL server): SQLite / PostgreSQL")
for name, (rps, cpu, _) in s.items():
    if name not in p:
        continue
    prps, pcpu, _ = p[name]
    print(f"{name:<48} {rps:>12.0f} {prps:>16.0f} {prps / rps if rps else 0:>6.2f}   {cpu:>6.1f}/{pcpu:<6.1f}")
PY
fi

# The management API's user list with 100,000 users in the tenant (issue 10: p99 < 20 ms), in
# process on a fresh SQLite database and on a database of its own in this run's cluster.
if [ -z "${BENCH_ONLY:-}" ] || [[ "users" == *"$BENCH_ONLY"* ]]; then
  echo
  echo "=== management API: GET /api/v1/tenants/{slug}/users?limit=100"
  cargo build --release --example users-bench
  BENCH_POSTGRES_URL="${PG_URL:-}" target/release/examples/users-bench
fi
