"""Failpoints: let a test kill fleet at an exact step (like etcd's gofail), to prove that a
crash at any instant is recoverable.

``FLEET_FAILPOINT=name:N`` makes the N-th ``hit("name")`` in this process send itself SIGKILL
(no cleanup, no flush: the harshest crash there is). Unset — always, outside tests — ``hit``
is a dictionary lookup. Points: ``after-intent`` (journal says "about to PUT", PUT not sent),
``after-put`` (Azure answered the PUT, the answer is not journaled), ``after-accepted``,
``after-final``; and around a reboot (``fleet.engine.reboot``): ``after-reboot-intent`` (journal
says "about to restart", restart not sent), ``after-restart`` (Azure answered the restart, the
answer is not journaled), ``after-reboot-accepted``, ``after-reboot-read`` (an instance-view
read while waiting for the VM to be back).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

_spec = os.environ.get("FLEET_FAILPOINT", "")
_name, _, _count = _spec.partition(":")
_target = int(_count) if _count.isdigit() else 1
_hits: Counter[str] = Counter()


def hit(name: str) -> None:
    if not _spec or name != _name:
        return
    _hits[name] += 1
    if _hits[name] == _target:
        os.kill(os.getpid(), signal.SIGKILL)
