"""The SVG charts: well-formed SVG, proportions that add up, labels escaped, gaps in a trend."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.model import Status
from fleet.report.charts import STATUS_COLOURS, batch_bars, colour, sparkline, status_bar

SVG = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed XML or this raises


@given(
    st.dictionaries(
        st.sampled_from(["Succeeded", "Failed", "Skipped", "Odd<&>"]), st.integers(0, 10_000)
    )
)
def test_status_bar_widths_add_up(counts: dict[str, int]) -> None:
    svg = _svg(status_bar({**counts, "total": 99}, width=500))
    rects = svg.findall(f"{SVG}rect")
    if not sum(counts.values()):
        assert len(rects) == 1 and rects[0].get("fill") == "#eceff1"  # an empty bar
        return
    assert len(rects) == sum(1 for n in counts.values() if n)
    assert sum(float(r.get("width", "0")) for r in rects) == pytest.approx(500, abs=0.05)


def test_status_bar_order_colours_and_titles() -> None:
    svg = _svg(status_bar({"Skipped": 1, "Failed": 3, "Succeeded": 6}, width=100))
    rects = svg.findall(f"{SVG}rect")
    assert [r.get("fill") for r in rects] == [
        colour("Succeeded"),
        colour("Failed"),
        colour("Skipped"),
    ]
    assert [r.get("width") for r in rects] == ["60", "30", "10"]
    assert svg.findtext(f"{SVG}title") == "6 Succeeded, 3 Failed, 1 Skipped"


def test_labels_are_escaped() -> None:
    markup = batch_bars([{"Failed": 2}], labels=["<script>x</script>"])
    assert "<script>" not in markup
    assert _svg(markup).find(f"{SVG}text").text == "<script>x</script>"  # type: ignore[union-attr]


def test_batch_bars_share_one_scale() -> None:
    svg = _svg(batch_bars([{"Succeeded": 1}, {"Succeeded": 40, "Failed": 10}], width=640))
    widths = [float(r.get("width", "0")) for r in svg.findall(f"{SVG}rect")]
    assert widths[0] * 40 == pytest.approx(widths[1])  # the canary looks as small as it is
    assert widths[0] * 10 == pytest.approx(widths[2])


def test_sparkline_gaps_and_last_point() -> None:
    svg = _svg(sparkline([1.0, 0.9, None, 0.5, 0.75], width=100, height=20))
    lines = svg.findall(f"{SVG}polyline")
    assert [len(line.get("points", "").split()) for line in lines] == [2, 2]  # split at the gap
    dot = svg.find(f"{SVG}circle")
    assert dot is not None and dot.get("fill") == colour("Failed")  # last run below 100%
    assert _svg(sparkline([1.0])).find(f"{SVG}circle").get("fill") == colour("Succeeded")  # type: ignore[union-attr]
    empty = _svg(sparkline([], label="disk"))
    assert empty.findtext(f"{SVG}title") == "disk: no runs" and empty.find(f"{SVG}circle") is None


def test_every_status_has_a_colour_of_its_own() -> None:
    """A new status must be drawn apart, not in the fallback grey."""
    assert set(STATUS_COLOURS) == {s.value for s in Status}
    assert len(set(STATUS_COLOURS.values())) == len(STATUS_COLOURS)
