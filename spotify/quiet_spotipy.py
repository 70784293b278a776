"""spotipy's client without its two eager debug lines.

spotipy 2.26's `Spotify._internal_call` logs each request and each answer at DEBUG with
f-strings, which Python builds even when DEBUG is off: the answer's whole repr (0.8 ms of
the interpreter's lock for a page of 50 songs, about a tenth of a worker's time in a cold
load of 10,000 songs, measured with py-spy), and the request's headers, which hold the
bearer token (a secret, in a log, for whoever turns spotipy's DEBUG on). This is that
method with those two lines left out (and an error body that is JSON but not an object
read as no message, where spotipy raised AttributeError); drop it once spotipy logs
lazily.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import requests
import spotipy
from spotipy.exceptions import SpotifyException

logger = logging.getLogger("spotipy.client")  # spotipy's own logger, as before


class QuietSpotify(spotipy.Spotify):
    def _internal_call(self, method: str, url: str, payload: Any, params: dict) -> Any:
        args: dict[str, Any] = {"params": params}
        if not url.startswith("http"):
            url = self.prefix + url
        headers = self._auth_headers()
        if "content_type" in args["params"]:
            headers["Content-Type"] = args["params"]["content_type"]
            del args["params"]["content_type"]
            if payload:
                args["data"] = payload
        else:
            headers["Content-Type"] = "application/json"
            if payload:
                args["data"] = json.dumps(payload)
        if self.language is not None:
            headers["Accept-Language"] = self.language
        try:
            response = self._session.request(
                method, url, headers=headers, proxies=self.proxies, timeout=self.requests_timeout, **args
            )
            response.raise_for_status()
            return response.json()
        except requests.exceptions.HTTPError as http_error:
            raise _spotify_exception(method, url, args, http_error.response) from None
        except requests.exceptions.RetryError as retry_error:
            logger.error("Max Retries reached")
            try:
                reason = retry_error.args[0].reason
            except (IndexError, AttributeError):
                reason = None
            raise SpotifyException(
                429, -1, f"{retry_error.request.path_url}:\n Max Retries", reason=reason
            ) from None
        except ValueError:
            return None  # not JSON


def _spotify_exception(method: str, url: str, args: dict, response: requests.Response) -> SpotifyException:
    try:
        error = response.json().get("error", {})
        msg, reason = error.get("message"), error.get("reason")
    except ValueError:
        msg, reason = response.text or None, None
    except AttributeError:  # a JSON body that is not an object
        msg, reason = None, None
    logger.error(
        "HTTP Error for %s to %s with Params: %s returned %s due to %s",
        method,
        url,
        args.get("params"),
        response.status_code,
        msg,
    )
    return SpotifyException(
        response.status_code, -1, f"{response.url}:\n {msg}", reason=reason, headers=response.headers
    )
