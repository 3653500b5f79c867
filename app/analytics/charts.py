"""Server-rendered SVG bar charts of the analytics page (geometry only; the template draws them, with a
<title>, a description and the data table behind each, in the style of templates/_charts.html)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: float
    text: str  # the value as shown
    y: int
    width: float
    reference: float | None = None  # x of a reference mark (the plan), if any


@dataclass(frozen=True, slots=True)
class BarChart:
    width: int
    height: int
    label_width: int
    bars: tuple[Bar, ...]


def bar_chart(rows: list[tuple[str, float, str, float | None]], *, width: int = 640, row: int = 26) -> BarChart:
    """Horizontal bars: (label, value, text, reference value or None), scaled to the largest."""
    label_width = 230
    span = width - label_width - 70
    top = max([v for _, v, _, _ in rows] + [r for *_, r in rows if r is not None] + [1])
    bars = tuple(
        Bar(
            label,
            value,
            text,
            8 + i * row,
            round(span * value / top, 1),
            None if ref is None else round(label_width + span * ref / top, 1),
        )
        for i, (label, value, text, ref) in enumerate(rows)
    )
    return BarChart(width, 16 + row * len(rows), label_width, bars)
