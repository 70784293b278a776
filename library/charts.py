"""Bar charts as inline SVG, drawn on the server (pure: columns in, markup out).

No script and no style attribute (the Content-Security-Policy allows neither): shapes
are placed with SVG's own attributes and coloured by classes (static/css/stats.css),
which use the site's colour variables, so dark mode follows the page.

Columns are placed in percentages of the chart's width and text is sized in CSS pixels,
so a chart fills any width, from a phone's to a desktop's, and its labels stay readable
(a viewBox would shrink the text with the chart). Axis labels are thinned to what fits
at the narrowest width the page is laid out for.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

HEIGHT = 200  # px, the whole chart
TOP = 18  # px above the plot: the top gridline's label
BOTTOM = 26  # px below the plot: the axis labels
NARROWEST = 320  # px, the plot's width on a 390 px phone
WIDE = 620  # px, its width at least, past stats.css's phone layout (720 px)
CHAR_PX = 7.5  # an axis label's character, at its 12 px size
MIN_SLOTS = 6  # fewer columns are centred, as wide as six would be
MIN_BAR_PX = 2  # a column above 0 stays visible however tall the tallest


@dataclass(frozen=True)
class Column:
    name: str  # "March 2024": with its values, the column's accessible name
    values: tuple[int, ...]  # one per series
    tick: str = ""  # its label on the axis ("" none)
    href: str = ""  # what it links to ("" none)


def plural(count: int, unit: tuple[str, str]) -> str:
    return f"{count:,} {unit[count != 1]}"


def nice_ticks(maximum: int) -> list[int]:
    """Gridlines from 0 to at least `maximum`, 2 to 5 of them, at steps of 1, 2 or 5 times a power of ten."""
    maximum = max(maximum, 1)
    magnitude = 10 ** max(0, math.floor(math.log10(maximum / 4)) if maximum >= 4 else 0)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * 4 >= maximum)
    return list(range(0, math.ceil(maximum / step) * step + 1, step))


def column_chart(
    *,
    columns: Sequence[Column],
    label: str,
    units: Sequence[tuple[str, str]] = (("song", "songs"),),
) -> SafeString:
    """An SVG of `columns`, side by side, each with a bar per series (`units`: what a
    series counts, singular and plural). A column with an `href` is a link whose
    accessible name says its numbers; the others are hidden from screen readers, who
    read the chart's table instead."""
    scale = nice_ticks(max((max(column.values) for column in columns), default=0))
    plot = HEIGHT - TOP - BOTTOM
    slot = 100 / max(len(columns), MIN_SLOTS)
    left = (100 - slot * len(columns)) / 2
    lines, values = _grid(scale, plot)
    parts = [lines]
    parts += [
        _column(column, left + i * slot, slot, scale[-1], plot, units) for i, column in enumerate(columns)
    ]
    parts += [values, _axis(columns, left, slot)]
    return format_html(
        '<svg class="chart" width="100%" height="{}" role="group" aria-label="{}">{}</svg>',
        HEIGHT,
        label,
        mark_safe("".join(parts)),  # noqa: S308 (each part built by format_html or escaped)
    )


def _grid(scale: list[int], plot: int) -> tuple[str, str]:
    """The gridlines, drawn under the columns, and their values, over them (stats.css
    rings them in the background's colour, and lets clicks through to the columns)."""
    heights = [(value, _px(TOP + plot - plot * value / scale[-1])) for value in scale]
    lines = format_html_join("", '<line x1="0" x2="100%" y1="{}" y2="{}"/>', ((y, y) for _, y in heights))
    # The baseline goes without saying; a label there would sit on the first column.
    values = format_html_join(
        "",
        '<text x="0" y="{}">{}</text>',
        ((_px(float(y) - 4), f"{value:,}") for value, y in heights if value),
    )
    return (
        format_html('<g class="chart-grid" aria-hidden="true">{}</g>', lines),
        format_html('<g class="chart-values" aria-hidden="true">{}</g>', values),
    )


def _column(
    column: Column, x: float, slot: float, top: int, plot: int, units: Sequence[tuple[str, str]]
) -> str:
    # Written out with f-strings, its texts escaped: format_html per shape was most of
    # the page's rendering for a library of ten years (120 columns).
    name = escape(
        f"{column.name}: "
        + ", ".join(plural(value, unit) for value, unit in zip(column.values, units, strict=True))
    )
    bar = slot * 0.8 / len(column.values)
    shapes = (
        f'<title>{name}</title><rect class="chart-hit" x="{_pct(x)}" y="{TOP}" '
        f'width="{_pct(slot)}" height="{plot}"/>'
    )
    for series, value in enumerate(column.values):
        if height := _height(value, top, plot):
            shapes += (
                f'<rect class="chart-bar series-{series}" x="{_pct(x + slot * 0.1 + series * bar)}" '
                f'y="{_px(TOP + plot - height)}" width="{_pct(bar)}" height="{_px(height)}"/>'
            )
    if column.href:
        return f'<a class="chart-column" href="{escape(column.href)}" aria-label="{name}">{shapes}</a>'
    return f'<g class="chart-column" aria-hidden="true">{shapes}</g>'


def _height(value: int, top: int, plot: int) -> float:
    return max(plot * value / top, MIN_BAR_PX) if value else 0


def _axis(columns: Sequence[Column], left: float, slot: float) -> str:
    """The columns' labels that fit side by side: those that fit on a phone, and more
    where the chart is wider (a class hides each set where the other applies)."""
    narrow, wide = _fit(columns, left, slot, NARROWEST), _fit(columns, left, slot, WIDE)
    ticks = []
    for i in sorted(narrow.keys() | wide.keys()):
        x, anchor = narrow.get(i) or wide[i]
        only = (
            "" if i in narrow and i in wide else " chart-tick-narrow" if i in narrow else " chart-tick-wide"
        )
        ticks.append((f"chart-tick{only}", x, HEIGHT - 8, anchor, columns[i].tick))
    labels = format_html_join("", '<text class="{}" x="{}" y="{}" text-anchor="{}">{}</text>', ticks)
    return format_html('<g class="chart-axis" aria-hidden="true">{}</g>', labels)


def _fit(columns: Sequence[Column], left: float, slot: float, width: int) -> dict[int, tuple[str, str]]:
    """The labels that fit side by side in a plot `width` px wide, from the left, each
    kept inside it (one that would cross an edge is anchored at its column's outer edge)."""
    slot_px, left_px = width * slot / 100, width * left / 100
    kept, free_from = {}, -math.inf
    for i, column in enumerate(columns):
        if not column.tick:
            continue
        half = len(column.tick) * CHAR_PX / 2
        centre = left_px + (i + 0.5) * slot_px
        if centre - half < free_from:
            continue
        if centre - half < 0:
            kept[i] = (_pct(left + i * slot), "start")
        elif centre + half > width:
            kept[i] = (_pct(left + (i + 1) * slot), "end")
        else:
            kept[i] = (_pct(left + (i + 0.5) * slot), "middle")
        free_from = centre + half + CHAR_PX * 2
    return kept


def share_bar(share: float) -> SafeString:
    """A ranking row's bar: `share` (0 to 1) of the row's width (decorative: the row
    says the number)."""
    return format_html(
        '<svg class="rank-bar" width="100%" height="10" aria-hidden="true">'
        '<rect class="rank-bar-fill" width="{}" height="10" rx="2"/></svg>',
        _pct(max(0.0, min(share, 1.0)) * 100),
    )


def _pct(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + "%"


def _px(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")
