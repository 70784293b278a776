"""Response helpers for the three error dialects Spotify speaks.

The Web API answers `{"error": {"status", "message"}}`; the token endpoint answers
`{"error", "error_description"}` (OAuth); the accounts pages answer HTML with no redirect.
"""

import json
from http import HTTPStatus

from django.http import HttpResponse
from django.template.loader import render_to_string

API_CONTENT_TYPE = "application/json; charset=utf-8"


def api_json(data: dict | list, *, status: int = HTTPStatus.OK) -> HttpResponse:
    """A Web API response: UTF-8 JSON with keys in alphabetical order, like Spotify's."""
    body = json.dumps(data, ensure_ascii=False, sort_keys=True)
    response = HttpResponse(body.encode("utf-8"), status=status, content_type=API_CONTENT_TYPE)
    response["Cache-Control"] = "private, max-age=0"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def api_empty() -> HttpResponse:
    """200 with no body, as Spotify answers its library writes (`PUT`/`DELETE /me/tracks`,
    docs/spotify.md#endpoints; the description declares no content for `/me/library`).
    No Content-Type: there is no content. (Spotify's exact headers here are unverified.)"""
    response = HttpResponse(b"", status=HTTPStatus.OK)
    del response["Content-Type"]
    response["Cache-Control"] = "private, max-age=0"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def api_error(
    status: int, message: str, *, reason: str | None = None, retry_after: int | None = None
) -> HttpResponse:
    """The Web API error object; `reason` is the optional 2026 field (e.g. QUOTA_EXCEEDED),
    `retry_after` the seconds a 429 asks the client to wait."""
    error: dict[str, object] = {"status": int(status), "message": message}
    if reason is not None:
        error["reason"] = reason
    response = api_json({"error": error}, status=status)
    if status == HTTPStatus.UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="spotify"'
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    return response


def token_json(data: dict, *, status: int = HTTPStatus.OK) -> HttpResponse:
    response = HttpResponse(json.dumps(data, sort_keys=True), status=status, content_type="application/json")
    # Tokens must not be stored by any cache (RFC 6749 §5.1).
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def token_error(error: str, description: str) -> HttpResponse:
    return token_json({"error": error, "error_description": description}, status=HTTPStatus.BAD_REQUEST)


def error_page(message: str, *, status: int = HTTPStatus.BAD_REQUEST) -> HttpResponse:
    """An accounts-site error page. Rendered without the request on purpose: the app's
    context processors and session have no business in the emulator."""
    html = render_to_string("emulator/error.html", {"message": message})
    return accounts_page(HttpResponse(html, status=status))


def accounts_page(response: HttpResponse) -> HttpResponse:
    """The emulator's pages stand for Spotify's accounts site, which sets its own policy:
    the app's Content-Security-Policy is not theirs (django-csp's exemption)."""
    response._csp_exempt = True
    return response
