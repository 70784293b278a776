"""How much a call to Spotify matters, for the app-wide budget to decide who goes first."""

import enum


class Priority(enum.StrEnum):
    INTERACTIVE = "interactive"  # a person is waiting for the answer
    OPTIONAL = "optional"  # a person waits, but the page can do without (freshness check)
    BACKGROUND = "background"  # loading the rest of a library
