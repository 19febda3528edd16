"""Built-in profiles as package data: a --profile value is a built-in name or a path, resolved
the same way from any directory; unknown names list the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.sim import catalog
from fleet.sim.profile import ProfileError
from tests.simkit import PROFILES

BUILT_IN = [
    "bench-10k", "bench-2k", "bench-quick", "bench-throttle", "demo", "large", "pair", "small",
]  # fmt: skip


def test_the_built_ins_are_the_yaml_files_shipped_in_the_package() -> None:
    assert catalog.PROFILES.names() == BUILT_IN
    assert sorted(p.stem for p in PROFILES.glob("*.yaml")) == BUILT_IN


@pytest.mark.parametrize(
    ("ref", "name"),
    [("demo", True), ("bench-2k", True), ("my_fleet", True), ("demo.yaml", False),
     ("./demo", False), ("profiles/demo", False), ("/abs/demo.yaml", False), ("", False),
     (Path("demo"), False), ("-demo", False)],
)  # fmt: skip
def test_a_bare_name_is_a_built_in_anything_else_a_path(ref: str | Path, name: bool) -> None:
    assert catalog.is_name(ref) is name


def test_a_name_loads_the_same_profile_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = catalog.load("small")
    assert (loaded.name, loaded.target_count()) == ("small", 20)


def test_a_path_is_relative_to_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (PROFILES / "small.yaml").read_text().replace("name: small", "name: mine", 1)
    (tmp_path / "mine.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    assert catalog.load("mine.yaml").name == "mine"
    assert catalog.load(Path("mine.yaml")).name == "mine"
    (tmp_path / "small.yaml").write_text(text)
    assert catalog.load("small").name == "small"  # a bare name never means a local file
    assert catalog.load("./small.yaml").name == "mine"


def test_an_unknown_name_lists_the_built_ins() -> None:
    with pytest.raises(ProfileError) as info:
        catalog.load("demp")
    message = str(info.value)
    assert "'demp'" in message and "path of a profile YAML file" in message
    assert all(name in message for name in BUILT_IN)


def test_a_missing_file_is_a_profile_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="cannot read profile"):
        catalog.load(str(tmp_path / "nope.yaml"))


def test_a_built_in_is_read_from_the_package_folder() -> None:
    found = catalog.PROFILES.file("small")
    assert Path(str(found)).resolve() == (PROFILES / "small.yaml").resolve()


def test_recorded_refs_mean_the_same_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert catalog.absolute_ref("demo") == "demo"
    assert catalog.absolute_ref("mine.yaml") == str(tmp_path.resolve() / "mine.yaml")
