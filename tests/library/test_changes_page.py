"""/library/changes/: the history newest first, by kind, searched, paged, counted; its
CSV and JSON exports; clearing it; the library page's notice of songs that left. Only
the signed-in user's own history, ever."""

import csv
import io
import json
from dataclasses import replace
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse

from library.models import SongChange
from tests.factories import SpotifyTokenFactory, library_load
from tests.library.test_history import LIBRARY, _check
from tests.library.test_revalidation import NOW, song

pytestmark = pytest.mark.django_db

EVIL = '=HYPERLINK("http://evil.example","x")'


@pytest.fixture
def user():
    user = SpotifyTokenFactory().user
    with time_machine.travel(NOW, tick=False):
        library_load(user, [LIBRARY[0], replace(LIBRARY[1], name=EVIL), *LIBRARY[2:]])
    with time_machine.travel(NOW + timedelta(days=1, hours=2), tick=False):
        # Three songs left, one arrived.
        _check(user, [song(-1), LIBRARY[0], *LIBRARY[4:]])
    return user


@pytest.fixture
def signed_in(client, user):
    client.force_login(user)
    return client


def _page(client, **params):
    return client.get(reverse("library:changes"), params)


def test_the_history_newest_first_with_counts_per_kind_and_since_when(signed_in):
    response = _page(signed_in)
    html = response.content.decode()

    assert response.status_code == 200
    names = [change.name for change in response.context["page"].object_list]
    assert names == ["Song -1", EVIL, "Song 2", "Song 3"]
    assert dict((kind, n) for kind, _, n in response.context["counts"]) == {
        "added": 1,
        "removed": 3,
        "re-added": 0,
        "unplayable": 0,
        "playable": 0,
    }
    assert "Watched since" in html and "1 November 2026" in html
    assert "<strong>3 songs removed, 1 song added</strong> since 1 November 2026." in html
    assert "between 1 and 2 November 2026" in html  # the two checks that bound the removals


def test_filter_by_kind_search_and_pages_are_in_the_url(signed_in):
    removed = _page(signed_in, kind="removed")
    assert [c.kind for c in removed.context["page"].object_list] == ["removed"] * 3
    assert "What changed, removed" in removed.content.decode()

    assert [c.name for c in _page(signed_in, q="song 3").context["page"].object_list] == ["Song 3"]
    assert _page(signed_in, kind="nonsense").context["query"].kind == ""
    assert len(_page(signed_in, kind="removed", q="zzz").context["page"].object_list) == 0


def test_paging(client):
    user = SpotifyTokenFactory().user
    library_load(user, LIBRARY)
    _check(user, [LIBRARY[0], *LIBRARY[1:119:2]])  # 60 of 120 removed
    client.force_login(user)

    second = _page(client, kind="removed", page=2)
    assert second.context["page"].number == 2 and len(second.context["page"].object_list) == 10
    assert 'rel="prev" href="?kind=removed"' in second.content.decode()


def test_nobody_sees_another_users_history(client, user):
    other = SpotifyTokenFactory().user
    library_load(other, LIBRARY)
    client.force_login(other)

    assert _page(client).context["total"] == 0
    assert json.loads(client.get(reverse("library:changes_json")).getvalue()) == {"changes": []}


def test_signed_out_visitors_are_sent_to_sign_in(client):
    for name in ("changes", "changes_csv", "changes_json", "changes_clear"):
        response = client.get(reverse(f"library:{name}"))
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_json_export_has_the_documented_fields_and_follows_the_view(signed_in):
    response = signed_in.get(reverse("library:changes_json"), {"kind": "removed"})
    document = json.loads(response.getvalue())

    assert response["Content-Type"] == "application/json"
    assert "attachment" in response["Content-Disposition"]
    first = document["changes"][0]
    assert list(first) == [
        "kind",
        "spotify_id",
        "uri",
        "name",
        "artists",
        "album",
        "isrc",
        "added_at",
        "observed_at",
    ]
    assert first["kind"] == "removed" and first["name"] == EVIL
    assert first["uri"] == f"spotify:track:{LIBRARY[1].id}" and first["artists"] == ["Artist"]
    assert first["added_at"] == "2026-10-31T23:59:00Z" and first["observed_at"] == "2026-11-02T02:00:00Z"
    assert {c["kind"] for c in document["changes"]} == {"removed"}


def test_csv_export_is_safe_in_spreadsheets(signed_in):
    response = signed_in.get(reverse("library:changes_csv"))
    rows = list(csv.DictReader(io.StringIO(response.getvalue().decode())))

    assert [row["kind"] for row in rows] == ["added", "removed", "removed", "removed"]
    assert rows[1]["name"].startswith("'") and rows[1]["name"].endswith(EVIL[1:])
    assert rows[1]["isrc"] == ""


def test_the_library_page_says_songs_left_until_the_history_is_seen(signed_in):
    page = signed_in.get(reverse("library:saved_tracks")).content.decode()
    assert "3 songs have left your Liked Songs since 1 November" in page
    assert reverse("library:changes") + "?kind=removed" in page

    _page(signed_in)  # seen
    assert "left your Liked Songs" not in signed_in.get(reverse("library:saved_tracks")).content.decode()


def test_the_notice_can_be_dismissed_without_a_script(signed_in):
    response = signed_in.post(reverse("library:notice_dismiss"))
    assert response.status_code == 302 and response["Location"] == reverse("library:saved_tracks")
    assert "left your Liked Songs" not in signed_in.get(reverse("library:saved_tracks")).content.decode()
    assert signed_in.get(reverse("library:notice_dismiss")).status_code == 405


def test_clearing_asks_first_and_deletes_only_the_users_history(signed_in, user):
    other = SpotifyTokenFactory().user
    library_load(other, LIBRARY)
    _check(other, [LIBRARY[0], *LIBRARY[2:]])

    confirm = signed_in.get(reverse("library:changes_clear"))
    assert confirm.status_code == 200 and "deletes the 4 changes" in confirm.content.decode()
    assert SongChange.objects.filter(user=user).count() == 4

    done = signed_in.post(reverse("library:changes_clear"), follow=True)
    assert "Your history is cleared (4 changes deleted)" in done.content.decode()
    assert not SongChange.objects.filter(user=user).exists()
    assert SongChange.objects.filter(user=other).count() == 1


def test_a_library_not_loaded_yet_says_so(client):
    user = SpotifyTokenFactory().user
    client.force_login(user)
    assert "Your library is still loading" in _page(client).content.decode()
