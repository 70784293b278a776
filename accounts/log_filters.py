"""Keep secrets out of logs that libraries write.

spotipy 2.26 logs every request at DEBUG with its headers and body (the Basic client
credentials, the authorization code, the refresh token, the Bearer token), and
runserver logs callback URLs with their `code`. These filters sit on those loggers and
rewrite such records before any handler sees them.
"""

import logging
import re

_SECRET_VALUES = [
    # 'Authorization': 'Basic …' / 'Bearer …' in a logged dict of headers
    re.compile(r"(?P<key>['\"]Authorization['\"]:\s*['\"])[^'\"]*"),
    # 'code': '…', 'refresh_token': '…' in a logged form body or token response
    re.compile(r"(?P<key>['\"](?:code|refresh_token|access_token|client_secret)['\"]:\s*['\"])[^'\"]*"),
    # ?code=… or &code=… in a logged URL
    re.compile(r"(?P<key>[?&](?:code|refresh_token|access_token)=)[^&\s'\"]*"),
]

REDACTED = "[redacted]"


def redact(text: str) -> str:
    for pattern in _SECRET_VALUES:
        text = pattern.sub(rf"\g<key>{REDACTED}", text)
    return text


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


LOGGERS_THAT_LEAK = ("spotipy.client", "spotipy.oauth2", "django.server")


def install() -> None:
    secret_filter = RedactSecretsFilter()
    for name in LOGGERS_THAT_LEAK:
        logging.getLogger(name).addFilter(secret_filter)
