#!/bin/sh
# Install everything `make deb|rpm|package-check|systemd-e2e` needs on a fresh Debian 12 (root).
# Idempotent and fast when everything is already present (no apt-get update, no cargo run).
set -eu

CARGO_DEB_VERSION=3.8.0
CARGO_GENERATE_RPM_VERSION=0.21.1
MUSL_TARGET=x86_64-unknown-linux-musl

# apt: musl-gcc (ring/aws-lc/sqlite C code for the static build), the linters, rpm, and the
# e2e tools (unshare/nsenter/flock, ip, curl, jq; systemd is there on any real Debian 12 host). No
# systemd-container: it is not needed (we use unshare) and it upgrades systemd.
APT_PKGS="musl-tools lintian rpmlint rpm curl jq util-linux iproute2 systemd gzip file"
missing=""
for p in $APT_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-tools: apt-get install$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if ! rustup target list --installed | grep -qx "$MUSL_TARGET"; then
    rustup target add "$MUSL_TARGET"
fi

# cargo tools, pinned; skipped when that exact version is already on PATH.
need_version() { # $1 = command, $2 = version
    "$1" --version 2>/dev/null | grep -qw "$2" && return 1 || return 0
}
if need_version cargo-deb "$CARGO_DEB_VERSION"; then
    cargo install --locked --version "$CARGO_DEB_VERSION" cargo-deb
fi
if need_version cargo-generate-rpm "$CARGO_GENERATE_RPM_VERSION"; then
    cargo install --locked --version "$CARGO_GENERATE_RPM_VERSION" cargo-generate-rpm
fi
echo "install-tools: ok"
