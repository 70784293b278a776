from django import template
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.safestring import mark_safe

from library.query import default_order
from library.rows import rows
from library.search import terms

register = template.Library()


@register.filter
def duration(milliseconds: int) -> str:
    """3:07 for 187000; hours when a track has them (1:02:03)."""
    minutes, seconds = divmod(round((milliseconds or 0) / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def _count(number: int, unit: str) -> str:
    return f"{number:,} {unit}{'' if number == 1 else 's'}"


@register.filter
def playing_time(milliseconds: int) -> str:
    """A library's length, in words, to the unit that matters: '8 days 5 hours',
    '1 day', '5 hours 12 min', '1 hour', '42 min'."""
    minutes = round((milliseconds or 0) / 60_000)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")
    if hours:
        return _count(hours, "hour") + (f" {minutes} min" if minutes else "")
    return f"{minutes} min"


@register.simple_tag
def query_url(query, **changes) -> str:
    """The current library view's query string with `changes` (e.g. page=3)."""
    return query.querystring(**{name: str(value) for name, value in changes.items()})


def _header_order(query, sort: str) -> str:
    """A column header sorts by its field in the natural direction, or, on the sorted
    column, flips it: the same directions the sort menu offers."""
    if query.sort != sort:
        return default_order(sort)
    return "asc" if query.order == "desc" else "desc"


@register.simple_tag
def sort_url(query, sort: str) -> str:
    order = _header_order(query, sort)
    return query.querystring(sort=sort, order=order, page="1")


@register.simple_tag
def page_numbers(page) -> list:
    """Page numbers around the current one, with the first and last: 1 … 4 5 [6] 7 8 … 48."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1))


@register.simple_tag
def noticed_between(previous, observed) -> str:
    """When a change happened, as our looks at the library bound it: 'on 4 March 2026',
    'between 3 and 4 March 2026', 'between 28 February and 4 March 2026', ..."""
    end = timezone.localtime(observed)
    if previous is None:
        return f"by {_day(end, year=True)}"
    start = timezone.localtime(previous)
    if start.date() == end.date():
        return f"on {_day(end, year=True)}"
    if (start.year, start.month) == (end.year, end.month):
        return f"between {start.day} and {_day(end, year=True)}"
    if start.year == end.year:
        return f"between {_day(start)} and {_day(end, year=True)}"
    return f"between {_day(start, year=True)} and {_day(end, year=True)}"


def _day(moment, *, year: bool = False) -> str:
    return date_format(moment, "j F Y" if year else "j F")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@register.simple_tag
def day_time(moment) -> str:
    """`<time datetime="2026-06-24T09:30:00+00:00">24 Jun 2026</time>`, in the current time
    zone: what the `date` filter gives with "c" and "j M Y", for each row of a page. Written
    out because Django's date formatting, twice per row, was a fifth of a library page's
    time (cProfile, 50 rows)."""
    local = timezone.localtime(moment)
    # Numbers and a month's name: nothing to escape (format_html would escape each,
    # through Django's lazy wrapper: 200 calls a page).
    day = f"{local.day} {_MONTHS[local.month - 1]} {local.year}"
    return mark_safe(f'<time datetime="{local.isoformat()}">{day}</time>')  # noqa: S308


def _terms(query) -> tuple[str, ...]:
    """The words and phrases a view's search matched (none without a search)."""
    return terms(query.q) if query is not None and query.q else ()


@register.simple_tag
def track_rows(page, query) -> str:
    """The table rows of a page of songs (library.rows: written out, for speed)."""
    return rows(page.object_list, first=page.start_index(), terms=_terms(query))


@register.filter
def attr_value(query, name: str) -> str:
    """A filter's value in the view's query (for the form's hidden fields)."""
    return getattr(query, name)
