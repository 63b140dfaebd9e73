#!/usr/bin/env bash
# `make bench`: starts the release daemon on a fresh SQLite database (durable WAL writes),
# creates a tenant, a user (with a login session) and two clients, then runs
# bench/oidc.rs (example `oidc-bench`) against it. Uses the static binary of `make build`. Numbers are printed; nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
CONNS=${BENCH_CONNS:-32}
SECS=${BENCH_SECS:-5}
BIN=${BENCH_BIN:-target/x86_64-unknown-linux-musl/release/opentrusty}
cargo build --release --example oidc-bench
work=$(mktemp -d /tmp/opentrusty-bench-XXXXXX)
# Run a copy, as a package would install it: the linker's freshly written output sits in the page
# cache in large folios, and mapping one maps all of it, which inflated idle RSS by ~2 MiB of
# binary text that the daemon never touched.
cp "$BIN" "$work/opentrusty"
BIN="$work/opentrusty"
port=$(( 20000 + RANDOM % 40000 ))
export OPENTRUSTY_DATABASE_URL="sqlite://$work/bench.db" STATE_DIRECTORY="$work" \
  OPENTRUSTY_PUBLIC_URL="http://127.0.0.1:$port" OPENTRUSTY_LISTEN="127.0.0.1:$port" \
  OPENTRUSTY_ALLOW_ROOT=true OPENTRUSTY_LOG="${BENCH_LOG:-warn}" \
  OPENTRUSTY_LOGIN_RATE_PER_IP=1000000 OPENTRUSTY_LOGIN_RATE_PER_ACCOUNT=1000000
$BIN tenant create acme >/dev/null
printf 'bench-password-123\n' | $BIN user create --tenant acme --email bench@example.com --password-file - >/dev/null
rp=$($BIN client create --tenant acme --name bench-rp --redirect-uri https://rp.example/cb --first-party --json)
svc=$($BIN client create --tenant acme --name bench-svc --grant client_credentials --scope api --introspection --json)
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
$BIN serve 2>"$work/daemon.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.1; done
idle_rss=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
echo "daemon idle RSS right after start-up: $idle_rss KiB"
# A login session for the code-exchange scenario (CSRF cookie + form, then the session cookie).
jar="$work/cookies"
page=$(curl -s -c "$jar" "http://127.0.0.1:$port/t/acme/login")
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n1)
curl -s -b "$jar" -c "$jar" -o /dev/null -d "email=bench@example.com&password=bench-password-123&csrf=$csrf" "http://127.0.0.1:$port/t/acme/login"
cookie=$(awk '$6 == "opentrusty_session" {print $6"="$7}' "$jar")
[ -n "$cookie" ] || { echo "bench: could not log in (no session cookie)" >&2; cat "$jar" >&2; exit 1; }
OT_BASE="http://127.0.0.1:$port" OT_ISSUER="http://127.0.0.1:$port/t/acme" OT_PID=$pid \
OT_CONNS=$CONNS OT_SECS=$SECS OT_COOKIE="$cookie" OT_ONLY="${BENCH_ONLY:-}" \
OT_RP_ID=$(field "$rp" client_id) OT_RP_SECRET=$(field "$rp" client_secret) \
OT_SVC_ID=$(field "$svc" client_id) OT_SVC_SECRET=$(field "$svc" client_secret) \
  target/release/examples/oidc-bench &
gen=$!
if [ -n "${BENCH_PERF:-}" ]; then
  sleep 2; perf record -g -p "$pid" -o "$BENCH_PERF" -- sleep 3 >/dev/null 2>&1 || true
fi
wait $gen
