# %postun (%systemd_postun_with_restart): after an upgrade ($1 >= 1) restart a running service.
# State in /var/lib/opentrusty and the user are kept (RPM has no purge).
if [ -d /run/systemd/system ]; then systemctl daemon-reload >/dev/null 2>&1 || :; fi
if [ "$1" -ge 1 ]; then
    systemctl try-restart opentrusty.service >/dev/null 2>&1 || :
fi
