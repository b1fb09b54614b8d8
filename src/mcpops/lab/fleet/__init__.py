"""The fleet lab: Debian hosts booted with systemd-nspawn from one cached debootstrap image."""
