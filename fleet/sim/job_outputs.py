"""Built-in behaviours for the job scripts shipped in ``configs/jobs/scripts``: what the
emulator prints and returns when a profile does not list its own ``script.behaviours``.

Each is recognised by a line of its script, so the job file, a copy of the script or
``--script-file`` all match:

- ``health-check.sh`` / ``.ps1`` (``== health check:``): the profile's ``script.outcomes``, which
  are health-check outputs in every shipped profile.
- ``patch.sh`` (``REBOOT REQUIRED``): the package manager's output for the VM's distribution
  (apt, or dnf on Red Hat; see :func:`package_facts`); healthy VMs exit 0, or 100 ("patched,
  reboot required") on 30% of them (drawn once per VM). On a full disk the update fails: the
  script reports the package manager's status (apt-get's is 100, which the job counts as a
  success) on stderr and exits 1 instead.
- ``rotate-api-token.sh`` (``token rotated in``): the token is rotated and nginx restarted; where
  nginx is down its restart fails (``set -e``: exit 1 with systemctl's message); on a full disk
  ``mktemp`` fails first.

A profile overrides all of them by listing ``script.behaviours`` (``[]`` turns them off).
"""

from __future__ import annotations

from fleet.sim.profile_sections import Behaviour, Outcome, ScriptMatch

_PATCHED = "{pkg_update_log}{hostname}: patched; no reboot required\n"
_REBOOT = "{pkg_kernel_log}{hostname}: patched; REBOOT REQUIRED\n"
_DENIED = "bash: {script_first_line}: Permission denied\n"
_UPDATE_FAILED = (
    "{pkg_no_space}ERROR: the package update failed on {hostname} (status {pkg_status})\n"
)

PATCH = Behaviour(
    name="patch",
    match=ScriptMatch(contains=["REBOOT REQUIRED"]),
    outcomes=[
        Outcome(name="patched", vm_class="ok", weight=0.7, output=_PATCHED),
        Outcome(name="reboot-required", vm_class="ok", weight=0.3, exit_code=100, output=_REBOOT),
        Outcome(name="disk-full", exit_code=1, output="{pkg_refresh}", error=_UPDATE_FAILED),
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


_UBUNTU = {"20.04": "focal", "22.04": "jammy", "24.04": "noble"}


def package_facts(os_name: str, kernel: str) -> dict[str, str]:
    """What a package update prints on a VM with this distribution (template placeholders
    ``pkg_refresh``, ``pkg_update_log``, ``pkg_kernel_log``, ``pkg_no_space``, ``pkg_status``)."""
    if os_name.startswith("Windows"):
        return dict.fromkeys(
            ("pkg_refresh", "pkg_update_log", "pkg_kernel_log", "pkg_no_space", "pkg_status"), ""
        )
    if os_name.startswith("Red Hat"):
        return _dnf(kernel)
    return _apt(os_name, kernel)


def _apt(os_name: str, kernel: str) -> dict[str, str]:
    if os_name.startswith("Debian"):
        base, security, code = "deb.debian.org/debian", "deb.debian.org/debian-security", "bookworm"
    else:
        code = next((c for v, c in _UBUNTU.items() if v in os_name), "jammy")
        base = security = "azure.archive.ubuntu.com/ubuntu"
    refresh = (
        f"Hit:1 http://{base} {code} InRelease\n"
        f"Get:2 http://{base} {code}-updates InRelease [128 kB]\n"
        f"Get:3 http://{security} {code}-security InRelease [129 kB]\n"
        "Fetched 257 kB in 1s (312 kB/s)\nReading package lists...\n"
    )
    plan = "Reading package lists...\nBuilding dependency tree...\nReading state information...\n"
    plan += "Calculating upgrade...\nThe following packages will be upgraded:\n"
    update = plan + (
        "  libssl3 openssl python3-urllib3\n"
        "3 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n"
        "Setting up libssl3:amd64 (3.0.2-0ubuntu1.18) ...\n"
        "Setting up openssl (3.0.2-0ubuntu1.18) ...\n"
    )
    with_kernel = plan + (
        f"  libssl3 linux-image-{kernel} openssl\n"
        "3 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
        f"Setting up linux-image-{kernel} ...\n"
        "/etc/kernel/postinst.d/update-notifier: *** System restart required ***\n"
    )
    return {
        "pkg_refresh": refresh,
        "pkg_update_log": refresh + update,
        "pkg_kernel_log": refresh + with_kernel,
        "pkg_no_space": "E: You don't have enough free space in /var/cache/apt/archives/.\n",
        "pkg_status": "100",  # apt-get's status on any error
    }


def _dnf(kernel: str) -> dict[str, str]:
    refresh = (
        "Updating Subscription Management repositories.\n"
        "Red Hat Enterprise Linux 9 for x86_64 - BaseOS (RPMs)   31 MB/s |  52 MB     00:01\n"
        "Dependencies resolved.\n"
    )
    table = (
        "Upgrading:\n openssl-libs   x86_64   1:3.0.7-27.el9   rhel-9-baseos-rhui-rpms   2.1 M\n"
    )
    update = refresh + table + "\nTransaction Summary\nUpgrade  1 Package\n\nComplete!\n"
    version = kernel.removesuffix(".x86_64")
    with_kernel = refresh + (
        f"Installing:\n kernel         x86_64   {version}   rhel-9-baseos-rhui-rpms   5.0 M\n"
        + table
        + "\nTransaction Summary\nInstall  1 Package\nUpgrade  1 Package\n\nComplete!\n"
    )
    no_space = (
        "Error: Transaction test error:\n"
        f"  installing package kernel-core-{kernel} needs 212MB more space on the / filesystem\n"
    )
    return {
        "pkg_refresh": refresh,
        "pkg_update_log": update,
        "pkg_kernel_log": with_kernel,
        "pkg_no_space": no_space,
        "pkg_status": "1",
    }
