"""Cover art and avatars drawn locally, so the demo shows pictures with no internet, and
the extension-less image URLs that point at them."""

import colorsys
import hashlib
import re
from xml.sax.saxutils import escape, quoteattr

# Spotify's image ids are 40 hex digits whose first 16 name the kind and size
# (ab67616d0000b273: a 640 px album cover). Ours keep those prefixes and then spell the
# album or user id in hex, so the image server needs no index to know what to draw.
SIZE_PREFIXES = {
    640: "ab67616d0000b273",
    300: "ab67616d00001e02",
    64: "ab67616d00004851",
    None: "ab6775700000ee85",  # one picture of unknown size, like an avatar from Facebook
}
_PREFIX_SIZES = {prefix: size for size, prefix in SIZE_PREFIXES.items()}
_KEY = re.compile(r"(?P<prefix>[0-9a-f]{16})(?P<object_id>(?:[0-9a-f]{2})+)")
UNKNOWN_SIZE_DRAWN_AT = 300


def image_key(object_id: str, size: int | None) -> str:
    return SIZE_PREFIXES[size] + object_id.encode().hex()


def parse_image_key(key: str) -> tuple[str, int | None] | None:
    """(object id, size) from an image key; None if it is not one of ours."""
    match = _KEY.fullmatch(key)
    if match is None or match["prefix"] not in _PREFIX_SIZES:
        return None
    try:
        object_id = bytes.fromhex(match["object_id"]).decode()
    except UnicodeDecodeError:
        return None
    return object_id, _PREFIX_SIZES[match["prefix"]]


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
