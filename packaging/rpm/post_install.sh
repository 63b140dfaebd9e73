# %post: directories and modes from tmpfiles.d, then Fedora's %systemd_post: on first install
# ($1 = 1) apply the distribution's preset policy (enables the sockets only where the preset says so).
systemd-tmpfiles --create /usr/lib/tmpfiles.d/opentrusty.conf >/dev/null 2>&1 || :
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -eq 1 ]; then
    systemctl --no-reload preset opentrusty.service opentrusty.socket opentrusty-admin.socket >/dev/null 2>&1 || :
fi
