"""The stats page's charts (library.charts), each column linked to the library filtered
to it (library.query's parameters)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import template
from django.urls import reverse
from django.utils.dates import MONTHS_3
from django.utils.safestring import SafeString

from library import charts
from library.stats import HistoryMonth, Tally

register = template.Library()

# Past this many months the axis names years (at each January), not months.
MONTHS_NAMED = 12


@register.simple_tag
def filtered(name: str, value: str, base: str = "") -> str:
    """The library filtered by one parameter: /library/?artist=… (`base`: the library's
    URL, when the caller has it already)."""
    return f"{base or reverse('library:saved_tracks')}?{urlencode({name: value})}"


@register.simple_tag
def months_chart(months: list[Tally], label: str) -> SafeString:
    library = reverse("library:saved_tracks")
    columns = [
        charts.Column(
            name=month.label,
            values=(month.count,),
            tick=_month_tick(month.key, i, len(months)),
            href=filtered("added", month.key, library),
        )
        for i, month in enumerate(months)
    ]
    return charts.column_chart(columns=columns, label=label)


@register.simple_tag
def decades_chart(decades: list[Tally], label: str) -> SafeString:
    library = reverse("library:saved_tracks")
    columns = [
        charts.Column(
            name=decade.label,
            values=(decade.count,),
            tick=decade.label,
            href=filtered("year", decade.key, library),
        )
        for decade in decades
    ]
    return charts.column_chart(columns=columns, label=label)


@register.simple_tag
def history_chart(history: list[HistoryMonth], label: str) -> SafeString:
    """Added and removed side by side each month; not linked (the changes page lists the
    songs by kind, not by month): screen readers read the table."""
    columns = [
        charts.Column(
            name=month.label,
            values=(month.added, month.removed),
            tick=_month_tick(month.key, i, len(history)),
        )
        for i, month in enumerate(history)
    ]
    return charts.column_chart(
        columns=columns, label=label, units=(("song added", "songs added"), ("song removed", "songs removed"))
    )


@register.simple_tag
def share_bar(count: int, most: int) -> SafeString:
    return charts.share_bar(count / most if most else 0)


@register.filter
def percent(share: float) -> str:
    """0.127 as '13%'; a share that would round to 0% or 100% without being it as '<1%'
    or '>99%'."""
    if 0 < share < 0.005:
        return "<1%"
    if 0.995 <= share < 1:
        return ">99%"
    return f"{share:.0%}"


def _month_tick(key: str, index: int, count: int) -> str:
    """A few months: each one's short name. More: the year, at January and the first."""
    year, month = key.split("-")
    if count <= MONTHS_NAMED:
        return MONTHS_3[int(month)].title()
    return year if month == "01" or index == 0 else ""


@register.simple_tag
def rankings(stats) -> list[dict]:
    """The page's three rankings, each a table of names linked to the library's filter."""
    found = [
        (
            "artists",
            "Top artists",
            "Artist",
            "artist",
            stats.artists,
            "a song counts for each of its artists",
        ),
        ("albums", "Top albums", "Album", "album", stats.albums, ""),
        ("years", "Top release years", "Year", "year", stats.years, ""),
    ]
    return [
        {
            "id": ident,
            "title": title,
            "caption": f"{title}, by songs saved" + (f" ({note})" if note else ""),
            "heading": heading,
            "param": param,
            "tallies": tallies,
            "most": tallies[0].count if tallies else 0,
            "none": f"No {heading.lower()} known for your songs.",
        }
        for ident, title, heading, param, tallies, note in found
    ]


@register.simple_tag
def span(months: list) -> str:
    """'from March 2024 to June 2026', or 'in March 2024'."""
    if len(months) == 1:
        return f"in {months[0].label}"
    return f"from {months[0].label} to {months[-1].label}"
