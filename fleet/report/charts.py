"""Server-side SVG charts for the HTML report and the dashboard: a stacked status bar, per-batch
bars and a trend sparkline.

Pure: numbers in, an SVG string out (a ``markupsafe.Markup``, so Jinja2 embeds it as is). Every
label is escaped; the SVG has no script, no link and no external reference, so it works inside
a standalone HTML file opened offline. Colours come from one table (``STATUS_COLOURS``) keyed by
the report's status names, and every chart carries a ``<title>`` for screen readers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from fleet.model import Status

STATUS_COLOURS: dict[str, str] = {
    Status.SUCCEEDED.value: "#2e7d32",
    Status.FAILED.value: "#c62828",
    Status.TIMED_OUT.value: "#ad1457",
    Status.WEDGED.value: "#6a1b9a",
    Status.CANCELED.value: "#ef6c00",
    Status.SKIPPED.value: "#757575",
    Status.NOT_STARTED.value: "#90a4ae",
    Status.ACCESS_DENIED.value: "#4e342e",
    Status.NOT_FOUND.value: "#795548",
    Status.CONFLICT.value: "#f9a825",
    Status.THROTTLED_OUT.value: "#1565c0",
    Status.ERROR.value: "#d84315",
    Status.AGENT_NOT_READY.value: "#00838f",
    Status.LIMIT_REACHED.value: "#5d4037",
    Status.REBOOT_TIMED_OUT.value: "#283593",
    Status.RUNNING.value: "#29b6f6",
}
_OTHER = "#607d8b"
_ORDER = {status.value: index for index, status in enumerate(Status)}


def colour(status: str) -> str:
    """The colour of a status name (unknown names get a neutral grey-blue)."""
    return STATUS_COLOURS.get(status, _OTHER)


def _ordered(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Positive counts in ``Status`` declaration order (unknown names last, by name)."""
    items = [(name, n) for name, n in counts.items() if n > 0 and name != "total"]
    return sorted(items, key=lambda item: (_ORDER.get(item[0], len(_ORDER)), item[0]))


def _fmt(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def status_bar(counts: Mapping[str, int], *, width: int = 600, height: int = 22) -> Markup:
    """One horizontal bar split by status, widths proportional to the counts.

    ``counts`` maps status names to numbers (a report's ``summary``; its ``total`` is ignored).
    """
    parts = _ordered(counts)
    total = sum(n for _, n in parts)
    described = ", ".join(f"{n} {name}" for name, n in parts) or "no targets"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart status-bar" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'preserveAspectRatio="none">',
        f"<title>{escape(described)}</title>",
    ]
    if not total:
        out.append(f'<rect width="{width}" height="{height}" fill="#eceff1"/>')
    x = 0.0
    for name, n in parts:
        w = width * n / total
        out.append(
            f'<rect x="{_fmt(x)}" width="{_fmt(w)}" height="{height}" fill="{colour(name)}">'
            f"<title>{escape(f'{name}: {n}')}</title></rect>"
        )
        x += w
    out.append("</svg>")
    return Markup("".join(out))


def batch_bars(
    batches: Sequence[Mapping[str, int]],
    *,
    labels: Sequence[str] = (),
    width: int = 600,
    bar_height: int = 16,
) -> Markup:
    """One stacked bar per batch (status counts), all on the largest batch's scale, so the
    canary looks as small as it is. ``labels`` name the rows (default "batch N")."""
    gap, label_w = 6, 90
    largest = max((sum(n for _, n in _ordered(b)) for b in batches), default=0) or 1
    height = len(batches) * (bar_height + gap) + gap
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart batch-bars" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(f'{len(batches)} batches by status')}</title>",
    ]
    scale = (width - label_w - 50) / largest
    for row, counts in enumerate(batches):
        y = gap + row * (bar_height + gap)
        label = labels[row] if row < len(labels) else f"batch {row + 1}"
        out.append(_text(4, y + bar_height - 4, label))
        x = float(label_w)
        for name, n in _ordered(counts):
            out.append(
                f'<rect x="{_fmt(x)}" y="{y}" width="{_fmt(n * scale)}" height="{bar_height}" '
                f'fill="{colour(name)}"><title>{escape(f"{label}: {n} {name}")}</title></rect>'
            )
            x += n * scale
        out.append(_text(x + 4, y + bar_height - 4, str(sum(counts.values()))))
    out.append("</svg>")
    return Markup("".join(out))


def _text(x: float, y: float, text: str) -> str:
    return f'<text x="{_fmt(x)}" y="{_fmt(y)}" font-size="11">{escape(text)}</text>'


def _auto_low(values: Sequence[float | None], high: float) -> float:
    """Just under the smallest value: a tenth below it, rounded down to a tenth, at least 0."""
    smallest = min((v for v in values if v is not None), default=high)
    return max(0.0, math.floor((smallest - 0.05) * 10) / 10)


def sparkline(
    values: Sequence[float | None],
    *,
    width: int = 120,
    height: int = 24,
    low: float | None = 0.0,
    high: float = 1.0,
    label: str = "trend",
) -> Markup:
    """A small line of ``values`` (oldest first) between ``low`` and ``high``; ``None`` is a
    gap (a run with nothing to measure). The last point is marked, red when below ``high``.
    ``low=None``: just under the smallest value (a tenth, rounded down), so a drop from 98% to
    93% shows."""
    pad = 2.0
    bottom = _auto_low(values, high) if low is None else low
    span = (high - bottom) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)

    def point(i: int, v: float) -> tuple[float, float]:
        clamped = min(max(v, bottom), high)
        return pad + i * step, pad + (height - 2 * pad) * (1 - (clamped - bottom) / span)

    points = [None if v is None else point(i, v) for i, v in enumerate(values)]
    shown = ", ".join("-" if v is None else _fmt(v) for v in values[-10:])
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart sparkline" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"<title>{escape(f'{label}: {shown}' if values else f'{label}: no runs')}</title>",
        *_polylines(points),
    ]
    last = points[-1] if points else None
    if last is not None:
        fill = colour("Succeeded") if (values[-1] or 0) >= high else colour("Failed")
        out.append(f'<circle cx="{_fmt(last[0])}" cy="{_fmt(last[1])}" r="2.5" fill="{fill}"/>')
    out.append("</svg>")
    return Markup("".join(out))


def _polylines(points: Sequence[tuple[float, float] | None]) -> list[str]:
    """One polyline per run of consecutive points (``None`` breaks the line)."""
    runs: list[list[str]] = [[]]
    for p in points:
        if p is None:
            runs.append([])
        else:
            runs[-1].append(f"{_fmt(p[0])},{_fmt(p[1])}")
    return [
        f'<polyline fill="none" stroke="#1565c0" stroke-width="1.5" points="{" ".join(r)}"/>'
        for r in runs
        if len(r) > 1
    ]


VERDICT_COLOURS = {"pass": STATUS_COLOURS["Succeeded"], "fail": STATUS_COLOURS["Failed"]}


def verdict_strip(
    cells: Sequence[tuple[str, str | None]], *, size: int = 18, gap: int = 3
) -> Markup:
    """One square per run, oldest first: green pass, red fail, grey not checked, white while
    running (``verdict`` None). ``cells``: (label, verdict) pairs; the label is the tooltip."""
    width = max(len(cells) * (size + gap) - gap, size)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart verdict-strip" role="img" '
        f'width="{width}" height="{size}" viewBox="0 0 {width} {size}">',
        f"<title>{escape(', '.join(_cell_text(label, v) for label, v in cells[-10:]))}</title>",
    ]
    for i, (label, verdict) in enumerate(cells):
        fill = VERDICT_COLOURS.get(verdict or "", "#fff" if verdict is None else "#b0bec5")
        out.append(
            f'<rect x="{i * (size + gap)}" width="{size}" height="{size}" rx="3" fill="{fill}" '
            f'stroke="#90a4ae"><title>{escape(_cell_text(label, verdict))}</title></rect>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _cell_text(label: str, verdict: str | None) -> str:
    return f"{label}: {verdict or 'running'}"
