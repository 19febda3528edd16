#!/bin/sh
# Patch (Linux): install pending updates with apt or yum/dnf; never reboot.
# SECURITY_ONLY=true limits the run to security updates where the package manager can.
# Exit 0 = up to date, 100 = patched and a reboot is required, anything else = failure.
# The job counts 100 as a success (success_exit_codes: [0, 100]), so a failing package manager
# must not leak its own status: apt-get exits 100 on any error, which `set -e` would pass on.
set -eu
security_only="${SECURITY_ONLY:-false}"
failed() { echo "ERROR: the package update failed on $(hostname) (status $1)" >&2; exit 1; }

if command -v apt-get >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || failed $?
    if [ "$security_only" = "true" ] && command -v unattended-upgrade >/dev/null 2>&1; then
        unattended-upgrade -v || failed $?
    else
        apt-get -q -y -o Dpkg::Options::=--force-confold dist-upgrade || failed $?
    fi
    reboot_needed() { [ -f /var/run/reboot-required ]; }
elif command -v dnf >/dev/null 2>&1 || command -v yum >/dev/null 2>&1; then
    pm=$(command -v dnf || command -v yum)
    if [ "$security_only" = "true" ]; then
        "$pm" -y update --security || failed $?
    else
        "$pm" -y update || failed $?
    fi
    # needs-restarting -r exits 1 when a reboot is required (yum-utils / dnf-utils).
    reboot_needed() { ! needs-restarting -r >/dev/null 2>&1; }
else
    echo "ERROR: no apt-get, dnf or yum on $(hostname)" >&2
    exit 2
fi

if reboot_needed; then
    echo "$(hostname): patched; REBOOT REQUIRED"
    exit 100
fi
echo "$(hostname): patched; no reboot required"
