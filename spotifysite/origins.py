"""Origins of URLs, for the settings (Content-Security-Policy, the emulator's image
origin) and the emulator. Standard library only: the settings import it before Django
is set up, and they import no app."""

from urllib.parse import urlsplit


def origin(url: str) -> str:
    """`scheme://host[:port]` of `url`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def origin_beside(url: str) -> str:
    """The origin of `url` with the next port: where the emulator serves its images when
    EMULATOR_IMAGE_ORIGIN does not say (http://127.0.0.1:8000/... -> http://127.0.0.1:8001)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    return f"{parts.scheme}://{host}:{port + 1}"
