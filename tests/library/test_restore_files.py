"""Reading songs to restore from an uploaded file (library.restore_files): our CSV and JSON
exports, our history's, Exportify's CSV; every bad input a clear message and no song."""

import json
from datetime import UTC, datetime

import pytest

from library import export, history_export
from library.query import LibraryQuery
from library.restore_files import BadFile, read
from tests.factories import TrackFactory

A, B, C = (f"spotify:track:{letter * 22}" for letter in "ABC")


def _tracks():
    return [TrackFactory.build(id=f"{n:022d}") for n in range(3)]


def _read(text: str | bytes, max_songs: int = 100):
    return read(text.encode() if isinstance(text, str) else text, max_songs=max_songs)


def test_our_csv_export_is_read_oldest_first_so_liked_songs_follow_the_file():
    tracks = _tracks()
    songs = _read("".join(export.csv_lines(tracks)))
    assert songs.uris == [t.uri for t in reversed(tracks)] and songs.format == "CSV"


def test_our_excel_csv_and_json_exports_read_the_same():
    tracks = _tracks()
    expected = [t.uri for t in reversed(tracks)]
    assert _read("".join(export.excel_lines(tracks))).uris == expected  # its byte-order mark
    assert _read("".join(export.json_chunks(tracks, about=_about()))).uris == expected


def _about(**params: str) -> export.About:
    now = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    return export.About(query=LibraryQuery(**params), exported_at=now, day=now.date())


def test_every_shape_of_our_json_export_reads_the_same():
    """Schema 2 (with the export's date and view), the older {"tracks", "total"}, and a
    list of songs alone: the songs are what count."""
    tracks = _tracks()
    expected = [t.uri for t in reversed(tracks)]
    current = json.loads("".join(export.json_chunks(tracks, about=_about(q="love", sort="title"))))
    older = {"tracks": current["tracks"], "total": len(tracks)}

    assert current["schema"] == export.SCHEMA and current["query"]["search"] == "love"
    for document in (current, older, current["tracks"]):
        assert _read(json.dumps(document)).uris == expected


def test_our_history_exports_read_their_uris():
    document = {"changes": [{"kind": "removed", "uri": A}, {"kind": "removed", "uri": B}]}
    assert _read(json.dumps(document)).uris == [B, A]
    assert _read(f'"kind","uri"\n"removed","{A}"\n').uris == [A]
    assert history_export.FIELDS[2] == "uri"


def test_exportifys_csv_by_its_track_uri_column():
    text = (
        '"Track URI","Track Name","Artist URI(s)","Album Name","Added At"\n'
        f'"{A}","Song, with a comma","spotify:artist:x","Album","2024-01-02T03:04:05Z"\n'
        f'"{B}","Other","spotify:artist:y","Album","2023-01-02T03:04:05Z"\n'
    )
    songs = _read(text)
    assert songs.uris == [B, A] and songs.format == "Exportify CSV"


def test_a_semicolon_separated_csv_as_a_spreadsheet_saves_it():
    assert _read(f"name;spotify_uri\nx;{A}\ny;{B}\n").uris == [B, A]


def test_duplicates_are_saved_once_at_their_newest_place():
    songs = _read(f"spotify_uri\n{A}\n{B}\n{A}\n{C}\n")
    assert songs.uris == [C, B, A] and songs.duplicates == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "This file is empty."),
        (b"\xff\xfe\x00garbage", "not text in UTF-8"),
        ("Title,Artist\nSong,Someone\n", "no column of Spotify URIs"),
        ('{"tracks": [', "cannot be read as JSON"),
        ('{"songs": []}', 'no "tracks" or "changes" list'),
        ('[{"name": "x"}]', 'Song 1 of this JSON file has no "spotify_uri"'),
        ('{"tracks": [{"name": "x"}]}', 'Song 1 of this JSON file has no "spotify_uri"'),
        ("spotify_uri\n", "lists no songs"),
        (f"spotify_uri\n{A}\nspotify:episode:{'E' * 22}\n", "1 of the 2 entries is not a Spotify song"),
        (f"spotify_uri\nspotify:local:Artist:Album:Song:180\n{A}\n", "spotify:local:Artist"),
        (f"spotify_uri,name\n,x\n{A},y\n", "an empty cell"),
        ("spotify_uri\nspotify:track:short\n", "not a Spotify song"),
        ('spotify_uri\n"' + A + "\n", "not a Spotify song"),
    ],
)
def test_bad_input_is_a_clear_message(data, message):
    with pytest.raises(BadFile, match=message):
        _read(data)


def test_a_file_with_more_songs_than_allowed_is_refused():
    text = "spotify_uri\n" + "".join(f"spotify:track:{n:022d}\n" for n in range(11))
    with pytest.raises(BadFile, match="lists 11 songs; at most 10"):
        _read(text, max_songs=10)
    assert len(_read(text, max_songs=11).uris) == 11
