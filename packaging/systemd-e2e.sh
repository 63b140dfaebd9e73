#!/bin/sh
# Real-systemd end-to-end test of the .deb (make systemd-e2e). Root only.
# Boots systemd 252 as PID 1 in a private PID+mount+network namespace (packaging/e2e/boot.sh),
# installs the package there (onto overlays, the host stays untouched) and checks what an operator
# does: the README's "Installed from a package" commands verbatim as root (apt install, enable
# --now both sockets, bootstrap via systemd-run, tenant/user/client create over the admin socket)
# and a relying party signing in (packaging/e2e/rp-login.py), the journal's audit entries, the
# deploy/systemd/admin-tcp.conf drop-in, then curl, systemctl show, restart under load, reload,
# stop, upgrade, remove, purge. The namespace and the cgroups systemd created are removed on exit,
# whatever happened.
set -eu
DEB=$(readlink -f "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" = 0 ] || { echo "systemd-e2e: needs root" >&2; exit 1; }
[ -f "$DEB" ] || { echo "systemd-e2e: no package $DEB" >&2; exit 1; }

# One run at a time: the namespaces would share cgroup paths (lock on this script, no new file).
exec 9< "$HERE/systemd-e2e.sh"
flock -n 9 || { echo "systemd-e2e: another run is active" >&2; exit 1; }

WORK=$(mktemp -d /tmp/ot-e2e.XXXXXX)
UPID="" NSPID="" PASSED=0 DEFERRED=""
find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort > "$WORK/cgroups.before"

cleanup() {
    rc=$?
    # OT_E2E_HOLD=SECONDS keeps a failed namespace around for `nsenter -t PID -m -p -n` debugging.
    if [ "$rc" != 0 ] && [ -n "${OT_E2E_HOLD:-}" ]; then echo "holding namespace pid $NSPID"; sleep "$OT_E2E_HOLD"; fi
    if [ -n "$NSPID" ] && [ "$rc" != 0 ] && [ -e "/proc/$NSPID" ]; then
        echo "--- journal (last 80 lines) ---"; ns journalctl --no-pager -n 80 || true
    fi
    # Killing the namespace's PID 1 kills every process in the PID namespace.
    [ -n "$NSPID" ] && kill -KILL "$NSPID" 2>/dev/null || true
    [ -n "$UPID" ] && { kill -KILL "$UPID" 2>/dev/null || true; wait "$UPID" 2>/dev/null || true; }
    # systemd created cgroup directories in the host hierarchies: remove the new ones, deepest
    # first (rmdir only succeeds on empty cgroups; retry while the killed tasks are reaped).
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort > "$WORK/cgroups.after"
        comm -13 "$WORK/cgroups.before" "$WORK/cgroups.after" | awk '{ print length, $0 }' \
            | sort -rn | cut -d' ' -f2- > "$WORK/cgroups.new"
        [ -s "$WORK/cgroups.new" ] || break
        while read -r d; do rmdir "$d" 2>/dev/null || true; done < "$WORK/cgroups.new"
        sleep 0.3
    done
    if [ -s "$WORK/cgroups.new" ]; then echo "systemd-e2e: cgroups left behind:"; cat "$WORK/cgroups.new"; rc=1; fi
    [ "$rc" = 0 ] || { echo "--- boot log ---"; cat "$WORK/boot.log" 2>/dev/null | tail -20; }
    rm -rf "$WORK"
    [ "$rc" = 0 ] && echo "systemd-e2e: $PASSED passed, 0 failed" || echo "systemd-e2e: $PASSED passed, 1 failed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ns() { nsenter -t "$NSPID" -m -p -n -- "$@"; }
# The README's commands, as typed in a root shell of the host: the standard PATH, so only the
# packaged /usr/bin/opentrusty can answer (never a development build on this machine's PATH).
sh_root() { ns env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"; }
fail() { echo "systemd-e2e: FAIL: $*" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
prop() { ns systemctl show -P "$2" "$1"; }
wait_for() { # seconds, description, command...
    t=$1 d=$2; shift 2; i=0
    while ! "$@" >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt $((t * 10)) ] || fail "timeout: $d"; sleep 0.1; done
}

T0=$(date +%s)
# setsid: keyboard/CI signals to our process group must not reach systemd (SIGINT would start
# ctrl-alt-del.target). --kill-child: if unshare dies, so does the namespace. 9<&-: the namespace
# must not hold the lock.
setsid unshare --fork --kill-child --pid --mount --net --mount-proc --propagation private \
    sh "$HERE/e2e/boot.sh" > "$WORK/boot.log" 2>&1 < /dev/null 9<&- &
UPID=$!
wait_for 10 "namespace PID 1" sh -c "[ -n \"\$(cat /proc/$UPID/task/$UPID/children 2>/dev/null)\" ]"
NSPID=$(tr -d ' ' < "/proc/$UPID/task/$UPID/children")
wait_for 30 "systemd running" sh -c "nsenter -t $NSPID -m -p -n -- systemctl is-system-running | grep -Eq 'running|degraded'"
ok "systemd 252 booted as PID 1 in a namespace ($(($(date +%s) - T0)) s)"

# The packages go into the namespace by stream: the checkout may live under /tmp or /run,
# which the namespace hides behind its own tmpfs.
stage() { ns sh -c "mkdir -p /run/ot-e2e/pkg && cat > /run/ot-e2e/pkg/$2" < "$1"; }
stage "$DEB" "$(basename "$DEB")"
NSDEB=/run/ot-e2e/pkg/$(basename "$DEB")

# --- install (README: `apt install ./opentrusty_*.deb`): enabled, not started ---------------
# apt resolves the dependencies from the installed packages; the namespace has no network.
ns sh -c 'cd /run/ot-e2e/pkg && DEBIAN_FRONTEND=noninteractive apt install -y ./opentrusty_*.deb' \
    > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "apt install"; }
ok "apt install ./$(basename "$DEB")"
[ "$(ns systemctl is-enabled opentrusty.socket)" = enabled ] || fail "socket not enabled by postinst"
[ "$(ns systemctl is-enabled opentrusty-admin.socket)" = enabled ] || fail "admin socket not enabled"
[ "$(prop opentrusty.socket ActiveState)" = inactive ] || fail "postinst started the socket"
ok "postinst enabled but did not start the sockets"
ns getent passwd opentrusty > /dev/null || fail "no user opentrusty"
[ "$(ns stat -c '%a %U:%G' /etc/opentrusty/opentrusty.env)" = "640 root:opentrusty" ] || fail "env file mode"
[ "$(ns stat -c '%a %U:%G' /var/lib/opentrusty)" = "700 opentrusty:opentrusty" ] || fail "state dir mode"

# --- README "Installed from a package": the operator's commands, verbatim, as root ------------
sh_root systemctl enable --now opentrusty.socket opentrusty-admin.socket
[ "$(prop opentrusty.socket ActiveState)" = active ] || fail "socket not active"
[ "$(prop opentrusty-admin.socket ActiveState)" = active ] || fail "admin socket not active"
[ "$(prop opentrusty.service ActiveState)" = inactive ] || fail "service started before first request"
ok "enable --now opentrusty.socket opentrusty-admin.socket: listening, service not running yet"

# bootstrap works on the database itself, before the first start: as the service's user, with
# its state directory, settings and credentials, in a transient unit (systemd-run).
sh_root systemd-run --quiet --pipe --wait --collect \
    -p User=opentrusty -p StateDirectory=opentrusty \
    -p EnvironmentFile=-/etc/opentrusty/opentrusty.env \
    -p LoadCredential=key-encryption-key:opentrusty.key-encryption-key \
    -p LoadCredential=database-url:opentrusty.database-url \
    -p LoadCredential=database-password:opentrusty.database-password \
    opentrusty bootstrap --email admin@example.com > "$WORK/bootstrap.txt" 2>&1 \
    || { cat "$WORK/bootstrap.txt"; fail "bootstrap (systemd-run as opentrusty)"; }
grep -q '^password (shown once): ' "$WORK/bootstrap.txt" || fail "bootstrap printed no password: $(cat "$WORK/bootstrap.txt")"
[ "$(prop opentrusty.service ActiveState)" = inactive ] || fail "bootstrap started the service"
[ "$(ns stat -c %U /var/lib/opentrusty/opentrusty.db)" = opentrusty ] || fail "database not the service user's"
ok "bootstrap before the first start, as user opentrusty: $(grep -m1 '^created' "$WORK/bootstrap.txt")"

# --- socket activation by the first request -------------------------------------------------
ns curl -fsS --max-time 30 http://127.0.0.1:8080/health/ready > "$WORK/ready" || fail "first request (IPv4)"
ok "first request through the socket started the service: $(head -c 80 "$WORK/ready")"
ns curl -fsS --max-time 10 -o /dev/null "http://[::1]:8080/health/live" || fail "IPv6 request"
ok "IPv6 [::1]:8080 answers too"
[ "$(prop opentrusty.service Type)" = notify ] || fail "Type"
[ "$(prop opentrusty.service ActiveState)/$(prop opentrusty.service SubState)" = active/running ] || fail "not active/running"
[ -n "$(prop opentrusty.service StatusText)" ] || fail "no STATUS= text"
[ "$(prop opentrusty.service WatchdogUSec)" = 30s ] || fail "WatchdogUSec=$(prop opentrusty.service WatchdogUSec)"
[ "$(prop opentrusty.service User)" = opentrusty ] || fail "User"
ok "Type=notify active/running StatusText='$(prop opentrusty.service StatusText)' WatchdogUSec=30s"
PID1=$(prop opentrusty.service MainPID)
[ "$(ns stat -c %U "/proc/$PID1")" = opentrusty ] || fail "daemon not running as opentrusty"
ok "daemon runs as user opentrusty (pid $PID1)"

# --- admin plane on the unix socket ---------------------------------------------------------
A=/run/opentrusty/admin.sock
[ "$(ns stat -c '%a %G' $A)" = "660 opentrusty" ] || fail "admin socket mode: $(ns stat -c '%a %U:%G' $A)"
ns curl -fsS --max-time 10 --unix-socket $A -o /dev/null http://localhost/health/ready || fail "admin socket"
ns curl -fsS --max-time 10 --unix-socket $A -o /dev/null http://localhost/metrics || fail "admin /metrics"
ok "admin socket $A (0660, group opentrusty) answers /health/ready and /metrics"

# --- README: operator commands as root go to the daemon over the admin socket ----------------
sh_root opentrusty tenant create acme --name "ACME Corp" > "$WORK/tenant.txt" 2>&1 \
    || { cat "$WORK/tenant.txt"; fail "opentrusty tenant create (as root)"; }
sh_root opentrusty user create --tenant acme --email alice@example.com --password-file - \
    > "$WORK/user.txt" 2>&1 <<'PW' || { cat "$WORK/user.txt"; fail "opentrusty user create (as root)"; }
correct horse battery staple
PW
sh_root opentrusty client create --tenant acme --name "My app" --redirect-uri https://app.example.com/callback \
    > "$WORK/client.txt" 2>&1 || { cat "$WORK/client.txt"; fail "opentrusty client create (as root)"; }
CID=$(sed -n 's/^client_id: //p' "$WORK/client.txt")
SECRET=$(sed -n 's/^client_secret (shown once): //p' "$WORK/client.txt")
[ -n "$CID" ] && [ -n "$SECRET" ] || fail "client create printed no client_id/secret: $(cat "$WORK/client.txt")"
ok "as root over $A: $(head -n1 "$WORK/tenant.txt"); user alice; client $CID"
# The relying party (Python standard library, fed on stdin) logs alice in: code flow + PKCE.
ns python3 - http://127.0.0.1:8080/t/acme "$CID" "$SECRET" https://app.example.com/callback \
    alice@example.com "correct horse battery staple" < "$HERE/e2e/rp-login.py" > "$WORK/rp.txt" 2>&1 \
    || { cat "$WORK/rp.txt"; fail "relying party login"; }
ok "relying party login: $(tail -n1 "$WORK/rp.txt")"
# The README's journal queries: the daemon journals each change it made, as local:root.
wait_for 10 "login.succeeded in the journal" sh -c \
    "nsenter -t $NSPID -m -p -n -- journalctl --no-pager -u opentrusty OPENTRUSTY_AUDIT_EVENT=login.succeeded -o cat | grep -q ."
ns journalctl --no-pager -u opentrusty OPENTRUSTY_AUDIT_EVENT=tenant.created -o json > "$WORK/audit.json"
jq -e -s 'length == 1 and (.[0].MESSAGE_ID | length == 32) and (.[0].OPENTRUSTY_ACTOR | test("root"))' \
    "$WORK/audit.json" > /dev/null || fail "tenant.created in the journal: $(cat "$WORK/audit.json")"
ok "journal: tenant.created by $(jq -r -s '.[0].OPENTRUSTY_ACTOR' "$WORK/audit.json") (MESSAGE_ID $(jq -r -s '.[0].MESSAGE_ID' "$WORK/audit.json")), login.succeeded"

# A member of group opentrusty is an operator too (README), not only root. (A failure here is
# reported at the end, so that it does not hide the results of the checks after it.)
ns useradd --system --no-create-home --groups opentrusty ot-e2e-ops
if sh_root runuser -u ot-e2e-ops -- opentrusty tenant list > "$WORK/ops.txt" 2>&1 && grep -q acme "$WORK/ops.txt"; then
    ok "a member of group opentrusty runs operator commands through the admin socket"
else
    DEFERRED="tenant list as a member of group opentrusty: $(cat "$WORK/ops.txt")"
    echo "systemd-e2e: FAIL (reported at the end): $DEFERRED" >&2
fi

# --- deploy/systemd/admin-tcp.conf: the admin plane also on loopback TCP, as documented -------
ns install -D -m 0644 /dev/stdin /etc/systemd/system/opentrusty-admin.socket.d/admin-tcp.conf \
    < "$HERE/../deploy/systemd/admin-tcp.conf"
admin_socket_reload() {
    ns systemctl daemon-reload
    ns systemctl stop opentrusty.service
    ns systemctl restart opentrusty-admin.socket
    ns systemctl start opentrusty.service
}
admin_socket_reload
code() { ns curl -s -o /dev/null -w '%{http_code}' --max-time 30 "$@"; }
[ "$(code http://127.0.0.1:8081/api/v1/openapi.json)" = 200 ] || fail "admin plane on 127.0.0.1:8081"
[ "$(code http://127.0.0.1:8081/api/v1/whoami)" = 401 ] || fail "TCP caller without a token not refused"
[ "$(code http://127.0.0.1:8080/api/v1/openapi.json)" = 404 ] || fail "public plane answers /api/"
[ "$(code --unix-socket $A http://localhost/api/v1/whoami)" = 200 ] || fail "unix admin socket lost"
ns test -S $A || fail "admin socket is no longer a unix socket"
ns rm /etc/systemd/system/opentrusty-admin.socket.d/admin-tcp.conf
admin_socket_reload
[ "$(code http://127.0.0.1:8081/health/live)" = 000 ] || fail "8081 still listening after removing the drop-in"
ok "admin-tcp.conf drop-in: /api/v1 on 127.0.0.1:8081 (401 without a token), 404 on 8080, unix socket kept"

# --- journald: native protocol with structured fields ---------------------------------------
sleep 1
ns journalctl --no-pager -u opentrusty.service -o json > "$WORK/journal.json"
jq -e -s '[.[] | select(.SYSLOG_IDENTIFIER == "opentrusty" and ._TRANSPORT == "journal")] | length > 0' \
    "$WORK/journal.json" > /dev/null || fail "no native journal entries with SYSLOG_IDENTIFIER=opentrusty"
FIELDS=$(jq -r -s '[.[] | keys[] | select(startswith("OPENTRUSTY_"))] | unique | join(" ")' "$WORK/journal.json")
[ -n "$FIELDS" ] || fail "no OPENTRUSTY_* fields in journalctl -u opentrusty -o json"
ok "journal has structured fields: $FIELDS"

# --- three restarts while bounded request loops run: every request gets an answer -----------
# 4 loops x 500 requests, a new connection each (as the review that found a dropped request did).
for n in 1 2 3 4; do
    ns sh -c 'ok=0 bad=0 i=0 end=$(($(date +%s) + 60))
        while [ $i -lt 500 ] && [ $(date +%s) -lt $end ]; do
            if curl -fsS --max-time 10 -o /dev/null http://127.0.0.1:8080/health/ready; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
            i=$((i + 1)); done; echo "$ok $bad"' > "$WORK/load.$n" 2>&1 &
    eval "LOAD$n=\$!"
done
for _ in 1 2 3; do
    sleep 1
    ns systemctl restart opentrusty.service
done
wait "$LOAD1" "$LOAD2" "$LOAD3" "$LOAD4" || true
GOOD=0 BAD=0
for n in 1 2 3 4; do
    read -r g b < "$WORK/load.$n" || fail "load loop $n: $(cat "$WORK/load.$n")"
    GOOD=$((GOOD + g)) BAD=$((BAD + b))
done
PID2=$(prop opentrusty.service MainPID)
[ "$PID2" != "$PID1" ] && [ "$PID2" != 0 ] || fail "service was not restarted"
[ "$BAD" = 0 ] && [ "$GOOD" -gt 0 ] || fail "3 restarts under load: $GOOD ok, $BAD failed"
ok "3 x systemctl restart under load: $GOOD requests from 4 clients, 0 failed (pid $PID1 -> $PID2)"
ns curl -fsS --max-time 10 --unix-socket $A -o /dev/null http://localhost/health/ready || fail "admin socket after restart"
ok "admin socket still answers after the restart"

# --- reload (SIGHUP: RELOADING=1 ... READY=1) ------------------------------------------------
ns systemctl reload opentrusty.service || fail "reload"
sleep 0.5
[ "$(prop opentrusty.service ActiveState)" = active ] && [ "$(prop opentrusty.service MainPID)" = "$PID2" ] || fail "reload"
ns curl -fsS --max-time 10 -o /dev/null http://127.0.0.1:8080/health/ready || fail "request after reload"
ok "systemctl reload: same pid, still serving"

# --- clean stop ------------------------------------------------------------------------------
ns systemctl stop opentrusty.service
[ "$(prop opentrusty.service ActiveState)" = inactive ] || fail "not inactive after stop"
[ "$(prop opentrusty.service Result)" = success ] || fail "stop Result=$(prop opentrusty.service Result)"
[ "$(prop opentrusty.service ExecMainStatus)" = 0 ] || fail "exit status $(prop opentrusty.service ExecMainStatus)"
ok "systemctl stop: clean (Result=success, exit 0)"
ns curl -fsS --max-time 30 --unix-socket $A -o /dev/null http://localhost/health/live || fail "admin socket re-activation"
ok "after stop, a request on the admin socket activates the service again"

# --- systemd credentials: LoadCredential=database-url:opentrusty.database-url from the credstore
ns sh -c 'mkdir -p /etc/credstore && umask 077 &&
    echo "sqlite:///var/lib/opentrusty/from-credential.db" > /etc/credstore/opentrusty.database-url'
ns systemctl restart opentrusty.service
ns curl -fsS --max-time 30 -o /dev/null http://127.0.0.1:8080/health/ready || fail "request with a credential"
ns test -f /var/lib/opentrusty/from-credential.db || fail "credential database-url not used: $(ns ls /var/lib/opentrusty)"
ns rm /etc/credstore/opentrusty.database-url
ns systemctl restart opentrusty.service
ok "credential database-url from /etc/credstore reaches the daemon (LoadCredential=, 0600 root source)"

ns journalctl --no-pager -o cat -t opentrusty > "$WORK/daemon.log"   # -t: also lines logged while exiting
echo "--- daemon log (journalctl -t opentrusty -o cat, without per-request lines) ---"
grep -v -x -E 'request|(Started|Starting|Stopping|Stopped|Reloading|Reloaded) .*' "$WORK/daemon.log" | head -40

# --- upgrade (reinstall): conffile edits and state kept, running service restarted ----------
ns sh -c 'echo "OPENTRUSTY_LOG=debug" >> /etc/opentrusty/opentrusty.env'
PID3=$(prop opentrusty.service MainPID)
ns dpkg -i "$NSDEB" > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -i (upgrade)"; }
ns grep -q '^OPENTRUSTY_LOG=debug' /etc/opentrusty/opentrusty.env || fail "conffile edit lost on upgrade"
ns test -d /var/lib/opentrusty || fail "state lost on upgrade"
wait_for 30 "service back after upgrade" sh -c "nsenter -t $NSPID -m -p -n -- curl -fsS -o /dev/null http://127.0.0.1:8080/health/ready"
[ "$(prop opentrusty.service MainPID)" != "$PID3" ] || fail "service not restarted on upgrade"
ok "upgrade: service restarted, conffile edit and state kept"

# --- remove keeps state, purge deletes it ------------------------------------------------------
ns ls -A /var/lib/opentrusty > "$WORK/state"
ns dpkg -r opentrusty > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -r"; }
for u in opentrusty.service opentrusty.socket opentrusty-admin.socket; do
    [ "$(prop $u ActiveState)" = inactive ] || fail "$u still active after remove"
done
ns test -d /var/lib/opentrusty || fail "remove deleted the state"
ns test -f /etc/opentrusty/opentrusty.env || fail "remove deleted the conffile"
ok "dpkg -r: units stopped, state ($(tr '\n' ' ' < "$WORK/state")) and conffile kept"
ns dpkg -P opentrusty > "$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log"; fail "dpkg -P"; }
! ns test -e /var/lib/opentrusty || fail "purge kept the state"
! ns test -e /etc/opentrusty/opentrusty.env || fail "purge kept the conffile"
ok "dpkg -P: state and configuration deleted"
# --- the .rpm's scriptlets against the running systemd (when the .rpm sits next to the .deb) -----
RPM=$(dirname "$DEB")/$(basename "$DEB" | sed -n 's/^opentrusty_\(.*\)-\([0-9]*\)_amd64\.deb$/opentrusty-\1-\2.x86_64.rpm/p')
if [ -f "$RPM" ]; then
    stage "$RPM" "$(basename "$RPM")"
    RPM=/run/ot-e2e/pkg/$(basename "$RPM")
    rpmq() { ns rpm --dbpath /var/lib/rpm "$@" 2>&1 | grep -v 'use Alien instead' || true; }
    rpmq --initdb
    rpmq -i --nodeps "$RPM"       # --nodeps: Debian's rpm database knows no /bin/sh or systemd
    ns rpm --dbpath /var/lib/rpm -q opentrusty > /dev/null 2>&1 || fail "rpm -i"
    [ "$(ns systemctl is-enabled opentrusty.socket)" = enabled ] || fail "rpm %post preset did not enable the socket"
    ns systemctl start opentrusty.socket
    ns curl -fsS --max-time 30 -o /dev/null http://127.0.0.1:8080/health/ready || fail "rpm: first request"
    [ "$(ns stat -c '%a %U:%G' /etc/opentrusty/opentrusty.env)" = "640 root:opentrusty" ] || fail "rpm: env file mode"
    rpmq -U --replacepkgs --nodeps "$RPM"
    [ "$(prop opentrusty.service ActiveState)" = active ] || fail "rpm upgrade: service not running"
    rpmq -e --nodeps opentrusty
    for u in opentrusty.service opentrusty.socket opentrusty-admin.socket; do
        [ "$(prop $u ActiveState)" = inactive ] || fail "rpm -e: $u still active"
    done
    ns test -f /var/lib/opentrusty/opentrusty.db || fail "rpm -e deleted the state"
    ok "rpm under systemd: %post preset enables, socket activation, upgrade keeps it running, %preun stops and disables, state kept"
fi
[ -z "$DEFERRED" ] || fail "$DEFERRED"
echo "systemd-e2e: all checks passed in $(($(date +%s) - T0)) s"
