#!/bin/sh
# make package-check: lint both packages, check the units, then install / upgrade / remove / purge
# each package in a scratch root. Root only. Never touches the host: it re-executes itself in a
# private mount namespace where each scratch root is a chroot whose /usr, /etc and /var are overlays
# of the host's (writes land on a tmpfs that disappears with the namespace).
set -eu
DEB=$(readlink -f "$1") RPM=$(readlink -f "$2")
HERE=$(cd "$(dirname "$0")" && pwd)
if [ -z "${OT_PKGCHECK_NS:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "package-check: needs root" >&2; exit 1; }
    OT_PKGCHECK_NS=1 exec unshare --mount --propagation private sh "$0" "$DEB" "$RPM"
fi

fail() { echo "package-check: FAIL: $*" >&2; exit 1; }
PASSED=0
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
T0=$(date +%s)

S=$(mktemp -d /tmp/ot-pkgcheck.XXXXXX)
# Never rm -rf here: the roots bind-mount /dev. The namespace's mounts vanish with it anyway.
trap 'rc=$?; umount -R "$S" 2>/dev/null || umount -R -l "$S"; rmdir "$S"
      echo "package-check: $PASSED passed, $([ $rc = 0 ] && echo 0 || echo 1) failed"; exit $rc' EXIT
mount -t tmpfs tmpfs "$S"     # everything below lives in this namespace's memory only
mkdir -p "$S/home"

# --- lint and unit checks -----------------------------------------------------------------------
# lintian: errors and warnings fail; the overrides ship in the package (packaging/debian/lintian-overrides).
HOME=$S/home lintian --fail-on error,warning --display-info "$DEB" 2>&1 | grep -v 'running with root privileges' || true
HOME=$S/home lintian --fail-on error,warning "$DEB" > /dev/null 2>&1 || fail "lintian"
ok "lintian clean ($(basename "$DEB"))"
# HOME: Debian's rpm keeps its database in ~/.rpmdb and would create /root/.rpmdb.
HOME=$S/home rpmlint -c "$HERE/rpm/rpmlint.toml" "$RPM" > "$S/rpmlint" 2>&1 || { cat "$S/rpmlint"; fail "rpmlint"; }
tail -1 "$S/rpmlint"
ok "rpmlint clean ($(basename "$RPM"))"
# The rpm %pre feeds the sysusers line on stdin: it must equal systemd/opentrusty.sysusers.
[ "$(grep -v '^#' "$HERE/../systemd/opentrusty.sysusers")" = "$(sed -n '/^u /p' "$HERE/rpm/pre_install.sh")" ] \
    || fail "packaging/rpm/pre_install.sh and systemd/opentrusty.sysusers disagree"
# The example env file documents exactly the variables the daemon reads (KNOWN in src/config/known.rs).
SRC=$HERE/../src/config/known.rs
if [ -f "$SRC" ]; then
    sed -n '/^pub const KNOWN/,/^];/s/.*\(var\|secret\)("\([A-Z0-9_]*\)".*/OPENTRUSTY_\2/p' "$SRC" | sort > "$S/known"
    sed -n 's/^#\(OPENTRUSTY_[A-Z0-9_]*\)=.*/\1/p' "$HERE/opentrusty.env" | sort > "$S/documented"
    [ -s "$S/known" ] || fail "could not read the variable list from src/config/known.rs"
    cmp -s "$S/known" "$S/documented" || { diff "$S/known" "$S/documented" || true
        fail "packaging/opentrusty.env and KNOWN in src/config/known.rs disagree (< undocumented, > unknown)"; }
    ok "opentrusty.env documents the $(wc -l < "$S/known") variables the daemon reads"
fi
SEC=$(systemd-analyze security --offline=yes "$HERE/../systemd/opentrusty.service" 2>&1 | tail -1)
systemd-analyze security --offline=yes --threshold=15 "$HERE/../systemd/opentrusty.service" > /dev/null 2>&1 \
    || fail "systemd-analyze security above 1.5: $SEC"
ok "systemd-analyze security --offline=yes --threshold=15: $SEC"

# --- scratch roots ------------------------------------------------------------------------------
mkroot() { # $1 = name: $S/$1 becomes a chroot seeing the host's files, writing to the tmpfs
    R=$S/$1; mkdir -p "$R"
    for d in usr etc var; do
        mkdir -p "$R/$d" "$S/ovl/$1/$d/up" "$S/ovl/$1/$d/wk"
        mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/ovl/$1/$d/up,workdir=$S/ovl/$1/$d/wk" "$R/$d"
    done
    for l in bin sbin lib lib64; do ln -s "usr/$l" "$R/$l"; done
    mkdir -p "$R/dev" "$R/proc" "$R/run" "$R/tmp" "$R/sys"
    mount --bind /dev "$R/dev"; mount -t proc proc "$R/proc"
    rm -f "$R/usr/sbin/policy-rc.d"
}
in_root() { chroot "$1" "$@"; }
mode() { chroot "$1" stat -c '%a %U:%G' "$2"; }   # names from the root's /etc/passwd
expect_mode() { # root path "mode user:group"
    [ "$(mode "$1" "$2")" = "$3" ] || fail "$2 is $(mode "$1" "$2"), want $3"
}
ownership_checks() { # $1 = root
    expect_mode "$1" /usr/bin/opentrusty "755 root:root"
    expect_mode "$1" /etc/opentrusty "750 root:opentrusty"
    expect_mode "$1" /etc/opentrusty/opentrusty.env "640 root:opentrusty"
    expect_mode "$1" /var/lib/opentrusty "700 opentrusty:opentrusty"
    for u in opentrusty.service opentrusty.socket opentrusty-admin.socket; do
        expect_mode "$1" "/usr/lib/systemd/system/$u" "644 root:root"
    done
    expect_mode "$1" /usr/lib/sysusers.d/opentrusty.conf "644 root:root"
    expect_mode "$1" /usr/lib/tmpfiles.d/opentrusty.conf "644 root:root"
    zcat "$1/usr/share/man/man8/opentrusty.8.gz" | grep -q '^\.TH' || fail "man page"
    for f in /usr/share/bash-completion/completions/opentrusty /usr/share/fish/vendor_completions.d/opentrusty.fish; do
        [ -s "$1$f" ] || fail "missing $f"
    done
    pw=$(chroot "$1" getent passwd opentrusty) || fail "no user opentrusty in the root"
    uid=$(echo "$pw" | cut -d: -f3)
    [ "$uid" -lt 1000 ] || fail "opentrusty is not a system user: $pw"
    case "$pw" in *:/var/lib/opentrusty:/usr/sbin/nologin|*:/var/lib/opentrusty:/sbin/nologin) ;; *) fail "user: $pw";; esac
    ! getent passwd opentrusty > /dev/null || [ -n "${OT_HOST_HAS_USER:-}" ] || fail "user leaked to the host"
    out=$(systemd-analyze verify --man=no --root="$1" "$1/usr/lib/systemd/system/opentrusty.socket" \
        "$1/usr/lib/systemd/system/opentrusty-admin.socket" "$1/usr/lib/systemd/system/opentrusty.service" 2>&1) || true
    [ -z "$out" ] || { echo "$out"; fail "systemd-analyze verify is not silent"; }
    chroot "$1" /usr/bin/opentrusty version > /dev/null || fail "opentrusty version"
}
enabled() { systemctl --root="$1" is-enabled "$2" 2>/dev/null || true; }

# --- .deb ---------------------------------------------------------------------------------------
mkroot deb; cp "$DEB" "$R/tmp/pkg.deb"
chroot "$R" dpkg -i /tmp/pkg.deb > "$S/log" 2>&1 || { cat "$S/log"; fail "dpkg -i"; }
ok "deb: dpkg -i into a scratch root"
ownership_checks "$R"
ok "deb: files, modes, owners, user opentrusty (system, nologin), man page; verify silent"
[ "$(chroot "$R" dpkg-query -W -f='${Conffiles}' opentrusty | awk 'NF{print $1}')" = /etc/opentrusty/opentrusty.env ] \
    || fail "conffiles: $(chroot "$R" dpkg-query -W -f='${Conffiles}' opentrusty)"
[ "$(enabled "$R" opentrusty.socket)" = enabled ] && [ "$(enabled "$R" opentrusty-admin.socket)" = enabled ] \
    || fail "sockets not enabled on install"
ok "deb: conffile /etc/opentrusty/opentrusty.env; both sockets enabled (not started: no systemd here)"
echo "OPENTRUSTY_LOG=debug" >> "$R/etc/opentrusty/opentrusty.env"
echo data > "$R/var/lib/opentrusty/opentrusty.db"
chroot "$R" dpkg -i /tmp/pkg.deb > "$S/log" 2>&1 || { cat "$S/log"; fail "dpkg -i (upgrade)"; }
grep -q '^OPENTRUSTY_LOG=debug' "$R/etc/opentrusty/opentrusty.env" || fail "upgrade lost the conffile edit"
[ -f "$R/var/lib/opentrusty/opentrusty.db" ] || fail "upgrade lost the state"
expect_mode "$R" /etc/opentrusty/opentrusty.env "640 root:opentrusty"
ok "deb: upgrade keeps the edited conffile and the state"
chroot "$R" dpkg -r opentrusty > "$S/log" 2>&1 || { cat "$S/log"; fail "dpkg -r"; }
[ ! -e "$R/usr/bin/opentrusty" ] && [ -f "$R/var/lib/opentrusty/opentrusty.db" ] && [ -f "$R/etc/opentrusty/opentrusty.env" ] \
    || fail "remove: binary must go, state and conffile stay"
[ ! -e "$R/etc/systemd/system/sockets.target.wants/opentrusty.socket" ] || fail "remove left the socket enabled"
ok "deb: dpkg -r removes the program, keeps state and conffile, disables the units"
chroot "$R" dpkg -P opentrusty > "$S/log" 2>&1 || { cat "$S/log"; fail "dpkg -P"; }
[ ! -e "$R/var/lib/opentrusty" ] && [ ! -e "$R/etc/opentrusty" ] || fail "purge left state or configuration"
[ -z "$(find "$R/etc/systemd" -name 'opentrusty*' 2>/dev/null)" ] || fail "purge left unit links: $(find "$R/etc/systemd" -name 'opentrusty*')"
ok "deb: dpkg -P deletes /var/lib/opentrusty, /etc/opentrusty and all unit links"

# --- .rpm ---------------------------------------------------------------------------------------
mkroot rpm; cp "$RPM" "$R/tmp/pkg.rpm"
# The rpm database of the root at the rpm distributions' path (Debian's rpm defaults to ~/.rpmdb).
rpmq() { # rpm in the root, without Debian's "use Alien" notice; keeps rpm's exit status
    if chroot "$R" rpm --dbpath /var/lib/rpm "$@" > "$S/rpm.out" 2>&1; then rc=0; else rc=$?; fi
    grep -v 'use Alien instead' "$S/rpm.out" || true
    return $rc
}
rpmq --initdb
# --nodeps: the Debian root has no rpm database entries for /bin/sh and systemd.
rpmq -i --nodeps /tmp/pkg.rpm > "$S/log" || true
chroot "$R" rpm --dbpath /var/lib/rpm -q opentrusty > /dev/null 2>&1 || { cat "$S/log"; fail "rpm -i"; }
ok "rpm: rpm -i into a scratch root (scriptlets ran in the chroot)"
ownership_checks "$R"
ok "rpm: files, modes, owners (conffile group from %pre's sysusers), user; verify silent"
[ "$(rpmq -qc opentrusty)" = /etc/opentrusty/opentrusty.env ] || fail "rpm config files: $(rpmq -qc opentrusty)"
out=$(rpmq -V --nodeps opentrusty) || true
[ -z "$out" ] || fail "rpm -V: $out"
[ "$(enabled "$R" opentrusty.socket)" = enabled ] || fail "preset did not enable the socket (Debian preset: enable *)"
ok "rpm: rpm -qc lists the env file, rpm -V clean, preset applied"
echo "OPENTRUSTY_LOG=debug" >> "$R/etc/opentrusty/opentrusty.env"
echo data > "$R/var/lib/opentrusty/opentrusty.db"
rpmq -U --replacepkgs --nodeps /tmp/pkg.rpm > "$S/log" || true
grep -q '^OPENTRUSTY_LOG=debug' "$R/etc/opentrusty/opentrusty.env" || { cat "$S/log"; fail "rpm upgrade lost the config edit"; }
[ -f "$R/var/lib/opentrusty/opentrusty.db" ] || fail "rpm upgrade lost the state"
[ "$(enabled "$R" opentrusty.socket)" = enabled ] || fail "rpm upgrade disabled the socket"
ok "rpm: reinstall/upgrade keeps the edited config (noreplace), state and enablement"
rpmq -e --nodeps opentrusty > "$S/log" || true
! chroot "$R" rpm --dbpath /var/lib/rpm -q opentrusty > /dev/null 2>&1 || { cat "$S/log"; fail "rpm -e"; }
[ ! -e "$R/usr/bin/opentrusty" ] && [ -f "$R/var/lib/opentrusty/opentrusty.db" ] || fail "rpm -e: binary must go, state stays"
[ ! -e "$R/etc/systemd/system/sockets.target.wants/opentrusty.socket" ] || fail "rpm -e left the socket enabled"
ok "rpm: rpm -e removes the program and unit links, keeps the state (no purge in rpm)"
echo "package-check: all checks done in $(($(date +%s) - T0)) s"
