"""A journaled fleet run, or its resume, through the library against a served emulator at the
emulator's time scale — what the reboot kill tests SIGKILL (``FLEET_FAILPOINT``) and resume.
The CLI keeps Azure's own time against ``--arm-endpoint``, where a reboot wait takes minutes.

    python -m tests.e2e.reboot_runner run|resume ENDPOINT CA_CERT SUBSCRIPTION SCALE STATE_DIR
                                      JOB_FILE [RUN_ID]

Prints ``run id: ID`` once the run is journaled, then the JSON report on one line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import anyio

from fleet.api import prepare, resume_async, run_async
from fleet.azure.backend import ConnectionSettings, azure_backend
from fleet.journal import Journal
from fleet.model import RunPlan, Secret
from fleet.ports import RunObserver
from fleet.report.json_report import report_to_dict
from fleet.spec import load_job_spec


class _SaysRunId(RunObserver):
    def run_started(self, plan: RunPlan) -> None:
        print(f"run id: {plan.run_id}", flush=True)


async def main(argv: list[str]) -> None:
    mode, endpoint, ca_cert, subscription, scale, state, job_file, *rest = argv
    settings = ConnectionSettings(
        arm_endpoint=endpoint, ca_cert=ca_cert, token=Secret("fleet-sim-token"),
        subscriptions=(subscription,), time_scale=float(scale),
    )  # fmt: skip
    spec = load_job_spec(Path(job_file), env={})
    with Journal.open(Path(state)) as journal:
        async with azure_backend(settings) as backend:
            if mode == "run":
                plan = await prepare(spec, backend)
                report = await run_async(plan, backend, journal=journal, observer=_SaysRunId())
            else:
                report = await resume_async(rest[0], journal, spec, backend)
    print(json.dumps(report_to_dict(report)), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1:])
