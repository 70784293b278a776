from django import template

from library.query import default_order

register = template.Library()


@register.filter
def duration(milliseconds: int) -> str:
    """3:07 for 187000; hours when a track has them (1:02:03)."""
    minutes, seconds = divmod(round((milliseconds or 0) / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@register.simple_tag
def query_url(query, **changes) -> str:
    """The current library view's query string with `changes` (e.g. page=3)."""
    return query.querystring(**{name: str(value) for name, value in changes.items()})


@register.simple_tag
def sort_url(query, sort: str) -> str:
    """Link for a column header: sort by it, or flip the order if it is the current sort."""
    flipped = "asc" if query.order == "desc" else "desc"
    order = flipped if query.sort == sort else default_order(sort)
    return query.querystring(sort=sort, order=order, page="1")
