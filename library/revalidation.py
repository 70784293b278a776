"""What changed in a user's Liked Songs since they were stored: pure, no Spotify.

Liked Songs are newest first, so new songs appear at the top and come from the first
page. A removal anywhere shifts every later song up by one; comparing a page's first song
with the stored list locates the shift, so a binary search over pages finds each removal
in about log2(pages) pages instead of a reload. The pages come from a callable, so the
caller decides where they come from (Spotify, or a test's list).
"""

from __future__ import annotations

from collections.abc import Callable

from spotify.pages import PAGE_SIZE

from .tracks import Track

GetPage = Callable[[int], list[Track]]


class Mismatch(Exception):
    """Spotify's library does not follow from the stored one by additions at the top
    and removals; only a full reload can tell what happened."""


def key(track: Track) -> tuple[str | None, object]:
    """A saved song's identity: un-liking and liking again makes a new one (new date)."""
    return (track.id, track.added_at)


def reconcile(stored: list[Track], first: list[Track], total: int, get_page: GetPage) -> list[Track] | None:
    """Spotify's library, from the `stored` one and Spotify's first page and total,
    asking `get_page(n)` for page n (0-based, PAGE_SIZE songs) when it must; `stored`
    itself when nothing changed; None when only a full reload can tell (`Mismatch` from
    `get_page` means the same)."""
    if not stored:
        return None if total else stored
    first_keys = [key(track) for track in first]
    newest = key(stored[0])
    if newest not in first_keys:
        return None  # many additions, or the newest song was removed or re-liked
    added = first[: first_keys.index(newest)]
    try:
        tracks = _without_removals(added + stored, total, first, get_page)
    except Mismatch:
        return None
    return stored if len(tracks) == len(stored) and not added else tracks


def _without_removals(merged: list[Track], total: int, first: list[Track], get_page: GetPage) -> list[Track]:
    """`merged` (new songs + the stored library) minus the songs Spotify no longer has.

    A removal shifts every later song up by one. The shift at a page's first song, found
    in `merged`, says how many removals lie before it, so a binary search over pages
    narrows down where they are, and a page-by-page comparison names them. Every page
    fetched is checked against the result at the end: anything that does not add up is
    a `Mismatch`, never a silently wrong library.
    """
    removed = len(merged) - total
    keys = [key(track) for track in merged]
    if removed < 0 or None in (track.id for track in merged) or len(set(keys)) != len(keys):
        raise Mismatch
    pages = {0: first}
    if removed:
        deleted = _find_removed(get_page, merged, keys, total, removed, pages)
        merged = [track for index, track in enumerate(merged) if index not in deleted]
    result_keys = [key(track) for track in merged]
    for number, tracks in pages.items():
        start = number * PAGE_SIZE
        if result_keys[start : start + len(tracks)] != [key(track) for track in tracks]:
            raise Mismatch
    return merged


def _find_removed(
    get_page: GetPage,
    merged: list[Track],
    keys: list,
    total: int,
    removed: int,
    pages: dict[int, list[Track]],
) -> set[int]:
    last = -(-total // PAGE_SIZE)
    # Beyond this many calls a parallel reload is faster than searching on, one call at a time.
    budget = 2 * last.bit_length() + 4
    position = {key: index for index, key in enumerate(keys)}
    deleted: set[int] = set()

    def page(number: int) -> list[Track]:
        if number not in pages:
            if len(pages) > budget:
                raise Mismatch
            pages[number] = get_page(number)
        if not pages[number]:
            raise Mismatch
        return pages[number]

    def shift(number: int) -> int:
        """How many stored songs before page `number` are gone."""
        if number == last:
            return removed
        index = position.get(key(page(number)[0]))
        if index is None or index < number * PAGE_SIZE:
            raise Mismatch
        return index - number * PAGE_SIZE

    def search(low: int, high: int, shift_low: int, shift_high: int) -> None:
        if shift_low == shift_high:
            return
        if shift_low > shift_high:
            raise Mismatch
        if high == low + 1:
            start, end = low * PAGE_SIZE + shift_low, high * PAGE_SIZE + shift_high
            _mark_deleted(keys, [key(t) for t in page(low)], start, end, deleted)
            return
        middle = (low + high) // 2
        shift_middle = shift(middle)
        search(low, middle, shift_low, shift_middle)
        search(middle, high, shift_middle, shift_high)

    search(0, last, shift(0), removed)
    if len(deleted) != removed:
        raise Mismatch
    return deleted


def _mark_deleted(keys: list, page: list, start: int, end: int, deleted: set[int]) -> None:
    """`page` is `keys[start:end]` with some songs gone: find which, in order."""
    kept = 0
    for index in range(start, min(end, len(keys))):
        if kept < len(page) and keys[index] == page[kept]:
            kept += 1
        else:
            deleted.add(index)
    if kept != len(page):
        raise Mismatch
