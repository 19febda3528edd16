"""Output grouping: which targets said the same thing.

Owns ``normalize`` (strip per-VM noise — the target's own names, numbers, addresses, ids, times —
so outputs that differ only by that noise compare equal), ``group_results`` (clush -b style
groups, largest first, each with a one-line human label) and ``content_key`` (a full output's
key, computed once when fleet reads it from the output blobs: groups then compare whole
outputs, both streams, not the 4 KB tails). Pure: no I/O, no Azure, no engine.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.model import Status, Target, TargetResult

_I = re.IGNORECASE
# Order matters: each rule runs on the previous one's output, most specific shapes first
# (a timestamp contains numbers, an IPv6 address looks like a time, a GUID contains hex runs).
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"\d{4}-\d{2}-\d{2}[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
            r"(?:\s?Z|\s?[+-]\d{2}:?\d{2}|\s?UTC)?",
            _I,
        ),
        "<time>",
    ),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "<date>"),
    # uptime(1) and our templates: "up 12 days, 3:04", "up 3:04", "up 5 min", "up 2 days, 7 min"
    (
        re.compile(
            r"\bup\s+(?:\d+\s+days?,\s*)?(?:\d{1,2}:\d{2}|\d+\s+(?:min|mins|minutes?|hours?|hrs?))",
            _I,
        ),
        "up <uptime>",
    ),
    (re.compile(r"\b\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s?[AP]M)?\b", _I), "<time>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", _I),
        "<guid>",
    ),
    (re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?(?![\w.])"), "<ip>"),
    # IPv6 only when unmistakable: a "::" or all eight groups (plain "a:b:c" stays text).
    (
        re.compile(
            r"(?<![\w:])(?=[0-9a-f:]*[0-9a-f])(?:(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}"
            r"|(?:[0-9a-f]{1,4}:)*[0-9a-f]{0,4}::(?:[0-9a-f]{1,4}:)*[0-9a-f]{0,4})"
            r"(?:%\w+)?(?:/\d{1,3})?(?![\w:])",
            _I,
        ),
        "<ip>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b", _I), "<hex>"),
    # Integers, decimals, versions (5.15.0), thousands (1,234), percentages: all one token.
    (re.compile(r"\d+(?:[.,]\d+)*%?"), "<n>"),
)
_MAX_PASSES = 4
_MAY_MATCH = re.compile(r"\d|::|(?:[0-9a-f]{1,4}:){7}", _I)
_SPACE = re.compile(r"[ \t\f\v]+")
_COMPUTER_NAME_CHARS = re.compile(r"[^A-Za-z0-9-]")


def _own_names(target: Target) -> list[str]:
    """Names the target may print for itself, longest first so prefixes don't win."""
    names = {target.name, target.name[:15]}  # Windows computer names stop at 15 characters
    return sorted((n for n in names if n), key=len, reverse=True)


@functools.lru_cache(maxsize=256)
def _scale_set_host(scale_set: str) -> re.Pattern[str]:
    # Scale-set instances print a computer name made of the set's name (at most 9 characters on
    # Windows) and 6 base-36 characters, not the instance name. Cached: a fleet has few sets.
    prefix = _COMPUTER_NAME_CHARS.sub("", scale_set)
    choices = "|".join(re.escape(p) for p in sorted({prefix, prefix[:9]}, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{choices})[a-z0-9]{{6}}(?![\w-])", _I)


def _wordish(char: str) -> bool:
    return char.isalnum() or char in "_-"


def _replace_word(text: str, word: str, label: str) -> str:
    """Case-insensitive whole-word replacement without compiling a regex per target (a run
    has thousands of targets; compiling dominated the cost)."""
    low, needle = text.lower(), word.lower()
    if len(low) != len(text):  # lower() changed lengths (rare Unicode): indices would drift
        pattern = rf"(?<![\w-]){re.escape(word)}(?![\w-])"
        return re.sub(pattern, label, text, flags=_I)
    parts, start, at = [], 0, low.find(needle)
    while at != -1:
        end = at + len(needle)
        before_ok = at == 0 or not _wordish(text[at - 1])
        if before_ok and (end == len(text) or not _wordish(text[end])):
            parts += [text[start:at], label]
            start = end
        at = low.find(needle, end if start == end else at + 1)
    return "".join(parts) + text[start:] if parts else text


def hostless(text: str, target: Target) -> str:
    """``text`` with the names ``target`` may print for itself as ``<host>``: its name, a
    Windows computer name, a scale-set instance's computer name (``vmss-api000001`` for
    ``vmss-api_1``)."""
    if target.scale_set:
        text = _scale_set_host(target.scale_set).sub("<host>", text)
    for name in _own_names(target):
        text = _replace_word(text, name, "<host>")
    return text


def _replace_identity(text: str, target: Target) -> str:
    text = hostless(text, target)
    for value, label in ((target.resource_group, "<rg>"), (target.location, "<location>")):
        if value:
            text = _replace_word(text, value, label)
    return text


def normalize(text: str, target: Target | None = None) -> str:
    """``text`` with per-VM noise replaced by placeholders and whitespace collapsed.

    Words are kept, so "disk full" and "OK" stay different; blank lines are dropped.
    """
    if not text:
        return ""
    if target is not None:
        text = _replace_identity(text, target)
    # Repeat to a fixed point: a replacement can expose a new match ("::a2025" -> "::a<n>"), and
    # normalising normalised text must change nothing.
    for _ in range(_MAX_PASSES):
        if not _MAY_MATCH.search(text):
            break  # every rule needs a digit or an IPv6 shape; most text is done after one pass
        before = text
        for pattern, placeholder in _RULES:
            text = pattern.sub(placeholder, text)
        if text == before:
            break
    lines = (_SPACE.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


@dataclass(frozen=True)
class OutputGroup:
    """Targets whose results are the same once per-VM noise is removed."""

    key: str  # stable short id of (status, exit code, normalised output/error/reason)
    status: Status
    exit_code: int | None
    count: int
    targets: tuple[str, ...]  # target names, sorted
    sample_output: str
    sample_error: str
    summary: str  # one line for humans, e.g. "ERROR: / is 100% full (threshold 90%)"
    # The sample's whole label, not cut (``summary`` is it ``bounded``), and the same with the
    # sample's own host names as <host>: the words of a line that speaks for several targets.
    hostless: str = ""
    whole: str = ""


#: Statuses where the script itself ran, so its own words explain the outcome best.
_RAN = frozenset({Status.FAILED, Status.TIMED_OUT, Status.CANCELED, Status.WEDGED})
_STATUS_ORDER = {status: index for index, status in enumerate(Status)}
_SUMMARY_MAX = 160


def _last_line(text: str) -> str:
    for line in reversed(text.splitlines()):
        if line.strip():
            return _SPACE.sub(" ", line.strip())
    return ""


def bounded(label: str) -> str:
    """``label`` cut to a terminal-friendly length ("…" marks the cut)."""
    return label if len(label) <= _SUMMARY_MAX else label[: _SUMMARY_MAX - 1] + "…"


def summarize(result: TargetResult, *, whole: bool = False) -> str:
    """A one-line label for a result: the line a human would look at first (``bounded``
    unless ``whole``)."""
    reason = _SPACE.sub(" ", (result.reason or "").strip())
    if result.status is Status.SUCCEEDED:
        order = (_last_line(result.output), _last_line(result.error), "(no output)")
    elif result.status in _RAN:
        order = (_last_line(result.error), _last_line(result.output), reason)
    else:  # decided without the script's help (skipped, denied, not found, ...)
        order = (reason, _last_line(result.error), _last_line(result.output))
    label = next((part for part in order if part), result.status.value)
    return label if whole else bounded(label)


def _group_key(result: TargetResult) -> str:
    """Status, exit code, reason and the output: the whole output when fleet read it from the
    output blobs (its ``group_key``), else the 4 KB tails the instance view kept."""
    full = result.full_output
    if full is not None and full.group_key is not None:
        said: tuple[str, ...] = (full.group_key,)
    else:
        said = (normalize(result.output, result.target), normalize(result.error, result.target))
    parts = (
        result.status.value,
        str(result.exit_code),
        *said,
        normalize(result.reason or "", result.target),
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]


def _make_group(key: str, members: list[TargetResult]) -> OutputGroup:
    sample = min(members, key=lambda r: r.target.id)
    whole = summarize(sample, whole=True)
    return OutputGroup(
        key=key,
        status=sample.status,
        exit_code=sample.exit_code,
        count=len(members),
        targets=tuple(sorted(r.target.name for r in members)),
        sample_output=sample.output,
        sample_error=sample.error,
        summary=bounded(whole),
        hostless=hostless(whole, sample.target),
        whole=whole,
    )


def _order(group: OutputGroup) -> tuple[int, int, str, str]:
    return (-group.count, _STATUS_ORDER[group.status], group.summary, group.key)


def group_results(results: Sequence[TargetResult]) -> list[OutputGroup]:
    """Group by (status, exit code, normalised output + error + reason); largest group first,
    ties by status (declaration order of ``Status``), then summary."""
    buckets: dict[str, list[TargetResult]] = {}
    for result in results:
        buckets.setdefault(_group_key(result), []).append(result)
    return sorted((_make_group(k, members) for k, members in buckets.items()), key=_order)


def content_key(target: Target, stdout: bytes, stderr: bytes) -> str:
    """A target's full output (both streams, per-VM noise removed) as a short key: two
    targets whose whole outputs say the same thing get the same key (``FullOutput.group_key``)."""
    parts = (
        normalize(stdout.decode("utf-8", errors="replace"), target),
        normalize(stderr.decode("utf-8", errors="replace"), target),
    )
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]
