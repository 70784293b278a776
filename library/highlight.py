"""What a search matched, marked in a song's title, artists and album: `<mark>` around
each stretch of the text whose folded form holds a term of the query, the rest escaped.

The search compares folded text ("Beyoncé" is "beyonce", "Straße" is "strasse"), so a
match is found in the folded text and mapped back onto the characters it came from:
folding works a character at a time, so each character's folded piece says which
folded characters are its own. Cheap, for 50 rows a page: ASCII text (most titles)
folds to its lower case one character for one, and text that holds no term is only
folded once.
"""

from __future__ import annotations

from html import escape as _escape

from django.utils.safestring import SafeString, mark_safe

from .search import fold


def _found(folded: str, terms: tuple[str, ...]) -> list[tuple[int, int]]:
    """Where the terms occur in `folded`: (start, end) spans, overlapping ones merged."""
    spans = []
    for term in terms:
        start = folded.find(term)
        while start != -1:
            spans.append((start, start + len(term)))
            start = folded.find(term, start + len(term))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _in_original(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans of the folded text as spans of `text`: each folded character belongs to
    the character it came from; a character that folds to nothing (a combining accent)
    goes with the one before it."""
    pieces = [fold(char) for char in text]
    owner = [at for at, piece in enumerate(pieces) for _ in piece]
    mapped: list[tuple[int, int]] = []
    for start, end in spans:
        first, last = owner[start], owner[end - 1] + 1
        while last < len(text) and not pieces[last]:
            last += 1
        if mapped and first <= mapped[-1][1]:
            mapped[-1] = (mapped[-1][0], max(last, mapped[-1][1]))
        else:
            mapped.append((first, last))
    return mapped


def escape(text: str) -> SafeString:
    """What django.utils.html.escape gives, without its lazy-string wrapper: that wrapper
    was a tenth of a library page's time (cProfile: some 700 calls a page)."""
    return SafeString(_escape(text))


def marked(text: str, terms: tuple[str, ...]) -> SafeString:
    """`text` escaped, with what `terms` (folded) match in it inside `<mark>`."""
    if not terms or not text:
        return escape(text)
    if text.isascii():  # folds one character for one: the spans are the text's own
        spans = _found(text.lower(), terms)
    else:
        spans = _found(fold(text), terms)
        spans = _in_original(text, spans) if spans else spans
    if not spans:
        return escape(text)
    parts, at = [], 0
    for start, end in spans:
        parts.append(f"{escape(text[at:start])}<mark>{escape(text[start:end])}</mark>")
        at = end
    parts.append(escape(text[at:]))
    return mark_safe("".join(parts))  # noqa: S308 (every piece of the text is escaped)
