"""Cover art and avatars drawn locally, so the demo shows pictures with no internet."""

import colorsys
import hashlib
from xml.sax.saxutils import escape, quoteattr


def placeholder_svg(*, object_id: str, title: str | None, size: int) -> str:
    """A square in a colour derived from the id, with the title's initials.

    Deterministic: the same id always gives the same picture."""
    digest = hashlib.sha256(object_id.encode()).digest()
    red, green, blue = colorsys.hls_to_rgb(digest[0] / 255, 0.38 + digest[1] / 255 * 0.12, 0.55)
    fill = f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"
    label = title or "Spotify emulator image"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" viewBox="0 0 100 100"'
        f' role="img" aria-label={quoteattr(label)}>'
        f"<title>{escape(label)}</title>"
        f'<rect width="100" height="100" fill="{fill}"/>'
        '<text x="50" y="50" dy="0.35em" text-anchor="middle" fill="#ffffff" font-size="34"'
        ' font-family="system-ui, -apple-system, Segoe UI, Noto Sans, sans-serif">'
        f"{escape(initials(title))}</text></svg>"
    )


def initials(title: str | None) -> str:
    """Up to two initials; a note symbol when the title is unknown."""
    letters = [
        next(char for char in word if char.isalnum())
        for word in (title or "").split()
        if any(map(str.isalnum, word))
    ]
    return "".join(letters[:2]).upper() or "♪"
