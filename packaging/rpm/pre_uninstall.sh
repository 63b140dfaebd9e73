# %preun (%systemd_preun): on erase ($1 = 0), not on upgrade, stop and disable the units.
if [ "$1" -eq 0 ]; then
    systemctl --no-reload disable --now opentrusty.service opentrusty.socket opentrusty-admin.socket >/dev/null 2>&1 || :
fi
