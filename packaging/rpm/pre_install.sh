# %pre: create the system user before the files are unpacked, so that rpm can give the conffile its
# group. The sysusers.d file is not on disk yet, so its content is passed on stdin (as Fedora's
# %sysusers_create_compat does).
systemd-sysusers --replace=/usr/lib/sysusers.d/opentrusty.conf - <<'SYSUSERS' || :
u opentrusty - "OpenTrusty identity provider" /var/lib/opentrusty
SYSUSERS
