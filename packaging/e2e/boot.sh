#!/bin/sh
# PID 1 side of `make systemd-e2e`; run by packaging/systemd-e2e.sh as
#   setsid unshare --fork --pid --mount --net --mount-proc --propagation private sh boot.sh
# It prepares a throw-away system view and then execs real systemd as PID 1 of the namespace.
# Precautions (reference/tooling.md §1): private tmpfs on /run, /tmp, /var/tmp, /var/log/journal
# (else systemd-tmpfiles would wipe the host's /tmp), DefaultDependencies=no on every unit that is
# started (so sysinit.target and its tmpfiles/udev/... services are never pulled in).
# Additionally /etc, /usr and /var are overlays on a tmpfs, so `dpkg -i` inside writes nothing to
# the host, and the private network namespace keeps port 8080 off the host's interfaces.
set -eu

mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/lock /run/ot-e2e/units
for d in etc usr var; do
    mkdir -p "/run/ot-e2e/ovl/$d/upper" "/run/ot-e2e/ovl/$d/work"
    mount -t overlay overlay \
        -o "lowerdir=/$d,upperdir=/run/ot-e2e/ovl/$d/upper,workdir=/run/ot-e2e/ovl/$d/work" "/$d"
done
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mkdir -p /var/log/journal
mount -t tmpfs tmpfs /var/log/journal
ip link set lo up
# Container images ship a policy-rc.d that answers 101 ("never start/stop services from package
# scripts"); a real system has none. Remove it from the overlay so deb-systemd-invoke acts.
rm -f /usr/sbin/policy-rc.d

U=/run/ot-e2e/units
# The boot target: journald, and the system bus (`systemd-run --wait --pipe` talks to systemd
# over D-Bus, not the private socket `systemctl` uses; on a real host the bus is always there).
cat > $U/ot-e2e.target <<'UNIT'
[Unit]
Description=OpenTrusty e2e boot target
DefaultDependencies=no
Wants=systemd-journald.socket systemd-journald.service dbus.socket
UNIT
# Drop-ins for the packaged units and the bus (drop-in dirs are searched in every unit path
# directory).
for u in opentrusty.service opentrusty.socket opentrusty-admin.socket dbus.socket dbus.service; do
    mkdir -p "$U/$u.d"
    printf '[Unit]\nDefaultDependencies=no\n' > "$U/$u.d/e2e.conf"
done
# The README's `systemd-run ... opentrusty bootstrap` makes a transient unit run-*.service: it gets
# the same (prefix drop-in, systemd.unit(5)). And should anything still pull in sysinit.target,
# it is masked in this namespace's /etc overlay: the start fails instead of running sysinit.
mkdir -p "$U/run-.service.d"
printf '[Unit]\nDefaultDependencies=no\n' > "$U/run-.service.d/e2e.conf"
ln -sf /dev/null /etc/systemd/system/sysinit.target

# systemd makes / shared at boot only outside containers; with container=other it leaves our
# private mounts as they are. Credentials (LoadCredential=) are prepared in a child mount namespace
# and moved to /run/credentials/UNIT, which only reaches PID 1's view through shared propagation;
# without this the service gets an empty, unreadable credentials directory. The peer groups made
# here are new and local: unshare --propagation private already cut every link to the host.
mount --make-rshared /

export SYSTEMD_UNIT_PATH="$U:"    # trailing ':' keeps the stock unit directories
export container=other
exec /lib/systemd/systemd --system --unit=ot-e2e.target --log-target=journal --show-status=no
