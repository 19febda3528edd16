"""The job spec's ``output:`` section and its flags (``--output-container``, ``--completion``):
parsed into ``OutputSpec``, laid over a job file, kept in the recipe, and refused clearly — a
SAS pasted into a URL is never echoed; ``completion: storage`` only for script text it can
wrap."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fleet.errors import SpecError
from fleet.model import Completion, OutputSpec, OutputStorage
from fleet.spec import JobOptions, job_spec_from_options, load_job_spec
from fleet.spec.document import JobDocument
from fleet.spec.load import file_job_spec, job_from_flags
from fleet.spec.output import OutputOptions, container_url_parts, parse_size

ACCOUNT = "https://acct.blob.core.windows.net"
JOB = """
name: t
targets: {names: ["web-*"]}
script: {inline: "#!/bin/sh\\nuptime\\n"}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_job_spec(write(tmp_path, text), env={})
    assert info.value.exit_code == 2
    return str(info.value)


def test_output_section_parses_with_its_defaults(tmp_path: Path) -> None:
    spec = load_job_spec(
        write(
            tmp_path,
            JOB + f"output: {{storage: {{account_url: {ACCOUNT}/, container: fleet-out}}}}\n",
        )
    )
    assert spec.output == OutputSpec(OutputStorage(ACCOUNT, "fleet-out"), keep_days=7)
    assert (
        spec.output.completion is Completion.ARM and spec.output.max_bytes_per_target == 8 * 2**20
    )


def test_every_output_field(tmp_path: Path) -> None:
    text = JOB + (
        "output:\n  storage: {account_url: https://127.0.0.1:10000/devstoreaccount1, "
        "container: out, identity: system}\n  keep_days: null\n  max_bytes_per_target: 512KiB\n"
        "  completion: storage\n"
    )
    output = load_job_spec(write(tmp_path, text)).output
    assert output == OutputSpec(
        OutputStorage("https://127.0.0.1:10000/devstoreaccount1", "out", "system"),
        keep_days=None, max_bytes_per_target=512 * 1024, completion=Completion.STORAGE,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("storage", "words"),
    [
        ("{account_url: http://acct.blob.core.windows.net, container: out}", "not an https://"),
        (
            "{account_url: https://a.blob.core.windows.net, container: Out_1}",
            "not a container name",
        ),
        ("{account_url: https://a.blob.core.windows.net, container: ab}", "3 to 63"),
        (
            "{account_url: https://a.blob.core.windows.net, container: out, identity: me}",
            "client id",
        ),
    ],
)
def test_bad_storage_is_refused_with_file_line_and_field(
    tmp_path: Path, storage: str, words: str
) -> None:
    message = error_of(tmp_path, JOB + f"output: {{storage: {storage}}}\n")
    assert "job.yaml:4: output.storage." in message and words in message


def test_a_sas_in_the_account_url_is_refused_and_never_echoed(tmp_path: Path) -> None:
    url = f"{ACCOUNT}?sv=2024&sig=TOPSECRETSIG"
    message = error_of(
        tmp_path, JOB + f"output: {{storage: {{account_url: '{url}', container: out}}}}\n"
    )
    assert "must not carry a query" in message and "TOPSECRETSIG" not in message
    with pytest.raises(SpecError) as info:
        job_spec_from_options(
            JobOptions(
                names=("x",),
                script="uptime",
                output=OutputOptions(f"{ACCOUNT}/out?sig=TOPSECRETSIG"),
            )
        )
    assert "--output-container" in str(info.value) and "TOPSECRETSIG" not in str(info.value)


@pytest.mark.parametrize(
    ("script", "words"),
    [
        ("{uri: 'https://acct.blob.core.windows.net/s/fix.sh'}", "script URI"),
        ("{command_id: RunShellScript}", "built-in command"),
        ('{inline: "#!/usr/bin/env python3\\nprint(1)\\n"}', "names python3 interpreter"),
    ],
)
def test_completion_storage_needs_a_shell_script_it_can_wrap(
    tmp_path: Path, script: str, words: str
) -> None:
    text = (
        "name: t\ntargets: {names: ['web-*']}\n"
        f"script: {script}\n"
        f"output: {{storage: {{account_url: {ACCOUNT}, container: out}}, completion: storage}}\n"
    )
    message = error_of(tmp_path, text)
    assert "output.completion" in message and words in message


def test_flags_describe_the_output_section() -> None:
    opts = JobOptions(
        names=("web-*",), script="uptime",
        output=OutputOptions(f"{ACCOUNT}/fleet-out", "storage"),
    )  # fmt: skip
    spec = job_spec_from_options(opts)
    assert spec.output is not None
    assert spec.output.storage == OutputStorage(ACCOUNT, "fleet-out")
    assert spec.output.completion is Completion.STORAGE
    with pytest.raises(SpecError) as info:
        job_spec_from_options(
            JobOptions(names=("x",), script="uptime", output=OutputOptions(None, "fast"))
        )
    assert "--output-container" in str(info.value)  # --completion alone: no storage to use
    with pytest.raises(SpecError) as info:
        job_spec_from_options(
            JobOptions(
                names=("x",), script="uptime", output=OutputOptions(f"{ACCOUNT}/out", "fast")
            )
        )
    assert "--completion" in str(info.value) and "arm or storage" in str(info.value)


def test_flags_lay_over_a_job_files_output_and_the_recipe_keeps_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        JOB + f"output: {{storage: {{account_url: {ACCOUNT}, container: first}}, keep_days: 3}}\n",
    )
    flags = {"spec": path, "output_container": f"{ACCOUNT}/second", "completion": "storage"}
    parsed = job_from_flags(flags)
    assert parsed.spec.output is not None
    assert (parsed.spec.output.storage.container, parsed.spec.output.keep_days) == ("second", 3)
    again = file_job_spec(JobDocument.from_json(parsed.document.to_json()), env={})
    assert again.output == parsed.spec.output


@pytest.mark.parametrize(
    ("text", "size"), [(2048, 2048), ("512KiB", 524288), ("8MiB", 8388608), ("1 GB", 10**9)]
)
def test_sizes(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["12", "2TiB", "lots", True])
def test_bad_sizes(text: object) -> None:
    with pytest.raises(ValueError):
        parse_size(text)


def test_container_urls_split_into_account_and_container() -> None:
    assert container_url_parts(f"{ACCOUNT}/out/") == {"account_url": ACCOUNT, "container": "out"}
    azurite = "https://127.0.0.1:10000/devstoreaccount1"
    assert container_url_parts(f"{azurite}/out") == {"account_url": azurite, "container": "out"}
