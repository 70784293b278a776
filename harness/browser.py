"""Signing in over HTTP as a person's browser does: our sign-in button, the emulator's
consent page (answered as one of its demo users), our callback; cookies kept, redirects
followed one by one so that each answer can be seen."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

LOGIN = "/accounts/login/"  # the site's sign-in page and button (accounts:login)
TIMEOUT = 30  # seconds, for one request


class FormParser(HTMLParser):
    """Collects the first POST form: its action, field values and submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.radios: dict[str, list[str]] = {}
        self.buttons: dict[str, tuple[str, str]] = {}  # label -> (name, value)
        self._in_form = False
        self._button: tuple[str, str] | None = None
        self._label = ""

    @classmethod
    def of(cls, page: str) -> FormParser:
        form = cls()
        form.feed(page)
        return form

    def submission(self, button: str, *, choice: int = 0) -> dict[str, str]:
        """What pressing the button labelled `button` sends, with the `choice`-th option
        of each radio group checked (on the consent page: which demo user signs in)."""
        data = dict(self.fields)
        for name, values in self.radios.items():
            data[name] = values[choice]
        name, value = self.buttons[button]
        if name:
            data[name] = value
        return data

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form" and a.get("method", "").lower() == "post" and self.action is None:
            self.action, self._in_form = a.get("action", ""), True
        elif self._in_form and tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "radio":
                self.radios.setdefault(a["name"], []).append(a.get("value", ""))
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "")
            elif kind not in {"submit", "checkbox"}:
                self.fields[a["name"]] = a.get("value", "")
        elif self._in_form and tag == "button":
            self._button, self._label = (a.get("name", ""), a.get("value", "")), ""

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._label += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._button is not None:
            self.buttons[self._label.strip()] = self._button
            self._button = None
        elif tag == "form":
            self._in_form = False


class ConsentAsked(Exception):
    """The emulator showed its consent page where none was expected (a reconnect)."""


def agree(
    session: requests.Session, url: str, page: str, *, choice: int, timeout: float = TIMEOUT
) -> requests.Response:
    """Press Agree on the emulator's consent page `page` (served at `url`) as its
    `choice`-th demo user: the emulator's answer, a redirect to the site's callback."""
    form = FormParser.of(page)
    action = urljoin(url, form.action or urlsplit(url).path)
    data = form.submission("Agree", choice=choice)
    return session.post(action, data=data, allow_redirects=False, timeout=timeout)


def consent_redirect(authorize_url: str, *, choice: int) -> str:
    """Open the emulator's consent page at `authorize_url` and agree as its `choice`-th
    demo user: where the emulator sends the browser back to (the site's callback)."""
    session = requests.Session()
    page = session.get(authorize_url, timeout=TIMEOUT)
    return agree(session, authorize_url, page.text, choice=choice).headers["Location"]


class Browser:
    """One person's browser on the site at `site` (an origin), signing in through the
    emulator as its `consent_index`-th demo user. Every answer of the site goes to
    `seen` (when given) and is kept as `last`."""

    def __init__(
        self,
        site: str,
        *,
        consent_index: int = 0,
        timeout: float = TIMEOUT,
        seen: Callable[[requests.Response], object] | None = None,
    ) -> None:
        self.site, self.consent_index, self.timeout, self.seen = site, consent_index, timeout, seen
        self.session = requests.Session()
        self.last: requests.Response | None = None

    def _send(self, method: str, url: str, **kwargs: object) -> requests.Response:
        response = self.session.request(method, url, allow_redirects=False, timeout=self.timeout, **kwargs)
        if self._ours(url):
            self.last = response
            if self.seen is not None:
                self.seen(response)
        return response

    def _ours(self, url: str) -> bool:
        """Whether `url` is on the site (not the emulator, on another port of the host)."""
        return urlsplit(url)[:2] == urlsplit(self.site)[:2]

    def get(self, path: str, **kwargs: object) -> requests.Response:
        return self._send("GET", urljoin(self.site, path), **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        return self._send("POST", urljoin(self.site, path), **kwargs)

    def sign_in(self) -> requests.Response:
        """Press our sign-in button and go through Spotify, consenting: our callback's
        answer (a redirect to the library when signed in), or the first answer that is not
        a redirect (a 503, say)."""
        form = FormParser.of(self.get(LOGIN).text)
        referer = urljoin(self.site, LOGIN)  # as a browser sends it
        started = self.post(LOGIN, data=form.fields, headers={"Referer": referer})
        return self.through_spotify(started, consent=True, to_callback=True)

    def through_spotify(
        self, response: requests.Response, *, consent: bool, to_callback: bool = False
    ) -> requests.Response:
        """Follow redirects through the emulator's authorize page and back; answer its
        consent page only when `consent` (a reconnect must not need one, else
        ConsentAsked). With `to_callback`, stop at our callback's answer."""
        for _ in range(8):
            if not response.is_redirect:
                break
            location = urljoin(response.url, response.headers["Location"])
            response = self._send("GET", location)
            path = urlsplit(location).path
            if response.status_code == 200 and "/accounts/authorize" in path:
                if not consent:
                    raise ConsentAsked()
                response = agree(
                    self.session, location, response.text, choice=self.consent_index, timeout=self.timeout
                )
            elif to_callback and self._ours(location) and path.endswith("/accounts/callback/"):
                break
        return response
