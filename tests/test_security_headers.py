"""The production headers, checked against what Mozilla's HTTP Observatory grades:
Content-Security-Policy (strict: no inline or eval, default-src, object-src, base-uri,
frame-ancestors, form-action), HSTS (at least six months), X-Content-Type-Options,
X-Frame-Options or frame-ancestors, Referrer-Policy, Permissions-Policy, cookies Secure
and HttpOnly."""

from http import HTTPStatus

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in parts}


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = False  # the test client speaks plain HTTP
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    return settings


@pytest.mark.parametrize("path", ["/", reverse("accounts:login")])
def test_every_page_sends_a_strict_policy(client, production, path):
    response = client.get(path, secure=True)
    csp = _directives(response["Content-Security-Policy"])

    for directive in ("default-src", "script-src", "style-src"):
        assert csp[directive] == ["'self'"], directive
    assert csp["object-src"] == csp["base-uri"] == csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"][0] == "'self'" and len(csp["form-action"]) == 2
    assert not any(
        "unsafe" in value or value in ("*", "data:", "http:") for values in csp.values() for value in values
    )
    assert "https://i.scdn.co" in csp["img-src"]


def test_the_other_graded_headers(client, production):
    response = client.get("/", secure=True)

    assert int(response["Strict-Transport-Security"].split("max-age=")[1].split(";")[0]) >= 15_768_000
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin-when-cross-origin")
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def _permissions(header: str) -> dict[str, str]:
    """A Permissions-Policy header (a structured-field dictionary) as {feature: allowlist}."""
    return dict(part.strip().split("=", 1) for part in header.split(","))


@pytest.mark.parametrize("path", ["/", reverse("accounts:login"), "/no-such-page/"])
def test_every_page_denies_the_browser_features_the_site_does_not_use(client, production, path):
    policy = _permissions(client.get(path, secure=True)["Permissions-Policy"])

    assert {"camera", "microphone", "geolocation", "payment", "usb", "browsing-topics"} <= set(policy)
    assert set(policy.values()) == {"()"}  # denied to this site and to anything it embeds
    assert "interest-cohort" not in policy  # obsolete: browsing-topics replaced it


def test_signed_in_pages_deny_them_too(signed_in_client, production):
    response = signed_in_client.get(reverse("library:saved_tracks"), secure=True)

    assert response.status_code == HTTPStatus.OK
    assert _permissions(response["Permissions-Policy"])["camera"] == "()"


def test_cookies_are_secure_and_http_only(client, production, emulator):
    client.get(reverse("accounts:login"), secure=True)  # sets the CSRF cookie
    client.post(reverse("accounts:login"), secure=True)  # a pending sign-in: its cookie

    # On HTTPS the pending sign-in's cookie carries the __Host- prefix (accounts.pending).
    pending = client.cookies["__Host-spotify_sign_in"]
    assert pending["secure"] and pending["httponly"] and pending["path"] == "/"
    assert pending["samesite"] == "Lax"
    cookies = client.cookies
    assert cookies["csrftoken"]["secure"]
    assert production.SESSION_COOKIE_SECURE and production.SESSION_COOKIE_HTTPONLY  # the session's
