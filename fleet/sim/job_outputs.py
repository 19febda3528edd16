"""Built-in behaviours for the job scripts shipped in ``configs/jobs/scripts``: what the
emulator prints and returns when a profile does not list its own ``script.behaviours``.

Each is recognised by a line of its script, so the job file, a copy of the script or
``--script-file`` all match:

- ``health-check.sh`` / ``.ps1`` (``== health check:``): the profile's ``script.outcomes``, which
  are health-check outputs in every shipped profile.
- ``patch.sh`` (``REBOOT REQUIRED``): apt output; healthy VMs exit 0, or 100 ("patched, reboot
  required") on 30% of them (drawn once per VM). On a full disk ``apt-get`` fails, and because
  the script runs under ``set -e`` it exits with apt's own error status, which is also 100: the
  error stream, not the exit code, tells the two apart (a trap of the script, modelled as is).
- ``rotate-api-token.sh`` (``token rotated in``): the token is rotated and nginx restarted; where
  nginx is down its restart fails (``set -e``: exit 1 with systemctl's message); on a full disk
  ``mktemp`` fails first.

A profile overrides all of them by listing ``script.behaviours`` (``[]`` turns them off).
"""

from __future__ import annotations

from fleet.sim.profile_sections import Behaviour, Outcome, ScriptMatch

_APT_HEAD = """\
Hit:1 http://azure.archive.ubuntu.com/ubuntu jammy InRelease
Get:2 http://azure.archive.ubuntu.com/ubuntu jammy-updates InRelease [128 kB]
Get:3 http://azure.archive.ubuntu.com/ubuntu jammy-security InRelease [129 kB]
Fetched 257 kB in 1s (312 kB/s)
Reading package lists...
Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
"""
_PATCHED = (
    _APT_HEAD
    + """\
The following packages will be upgraded:
  libssl3 openssl python3-urllib3
3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
Setting up libssl3:amd64 (3.0.2-0ubuntu1.18) ...
Setting up openssl (3.0.2-0ubuntu1.18) ...
Setting up python3-urllib3 (1.26.5-1~exp1ubuntu0.2) ...
{hostname}: patched; no reboot required
"""
)
_REBOOT = (
    _APT_HEAD
    + """\
The following packages will be upgraded:
  libssl3 linux-azure linux-image-azure openssl
4 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.
Setting up linux-image-{kernel} ...
Setting up libssl3:amd64 (3.0.2-0ubuntu1.18) ...
Processing triggers for linux-image-{kernel} ...
/etc/kernel/postinst.d/update-notifier: *** System restart required ***
{hostname}: patched; REBOOT REQUIRED
"""
)
_DENIED = "bash: {script_first_line}: Permission denied\n"

PATCH = Behaviour(
    name="patch",
    match=ScriptMatch(contains=["REBOOT REQUIRED"]),
    outcomes=[
        Outcome(name="patched", vm_class="ok", weight=0.7, output=_PATCHED),
        Outcome(name="reboot-required", vm_class="ok", weight=0.3, exit_code=100, output=_REBOOT),
        Outcome(
            name="disk-full",
            exit_code=100,
            output=_APT_HEAD,
            error="E: You don't have enough free space in /var/cache/apt/archives/.\n",
        ),
        Outcome(name="patched-service-down", vm_class="service-down", output=_PATCHED),
        Outcome(name="permission-denied", exit_code=126, error=_DENIED),
    ],
)

_ROTATED = "{hostname}: token rotated in /etc/storefront/api.env\n"
REMEDIATION = Behaviour(
    name="rotate-api-token",
    match=ScriptMatch(contains=["token rotated in"]),
    outcomes=[
        Outcome(
            name="rotated",
            vm_class="ok",
            output=_ROTATED + "{hostname}: nginx restarted and active\n",
        ),
        Outcome(
            name="restart-failed",
            vm_class="service-down",
            exit_code=1,
            output=_ROTATED,
            error="Job for nginx.service failed because the control process exited with error "
            'code.\nSee "systemctl status nginx.service" and "journalctl -xeu nginx.service" for '
            "details.\n",
        ),
        Outcome(
            name="disk-full",
            exit_code=1,
            error="mktemp: failed to create file via template '/etc/storefront/api.env.XXXXXX': "
            "No space left on device\n",
        ),
        Outcome(name="permission-denied", exit_code=126, error=_DENIED),
    ],
)

HEALTH_CHECK = Behaviour(name="health-check", match=ScriptMatch(contains=["== health check:"]))

SHIPPED: tuple[Behaviour, ...] = (HEALTH_CHECK, PATCH, REMEDIATION)
