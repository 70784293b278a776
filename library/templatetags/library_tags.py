from django import template

register = template.Library()


@register.filter
def duration(milliseconds: int) -> str:
    """3:07 for 187000; hours when a track has them (1:02:03)."""
    minutes, seconds = divmod(round((milliseconds or 0) / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
