"""Incremental authorization: a user signed in with `user-library-read` is asked for
`user-library-modify` when a feature needs it (accounts:grant), through the emulator's
consent page and the sign-in's own callback. Granted, the stored grant has it; declined,
the user keeps the read-only grant; either way they stay signed in and go back to `next`."""

from http import HTTPStatus
from urllib.parse import urlencode

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import SpotifyToken
from accounts.selectors import has_scope
from spotify import library_writes
from tests.factories import SpotifyUserFactory
from tests.helpers import CANONICAL_HOST, callback_path, consent, pending_sign_ins, query, sign_in

pytestmark = pytest.mark.django_db

MODIFY = "user-library-modify"
NEXT = "/library/changes/"
GRANTED = "Spotify now lets us save songs to your Liked Songs."
DECLINED = (
    "Spotify was not given permission to change your Liked Songs, so nothing was saved. "
    "Your library stays readable as before."
)


def step_up(client: Client, **data: str) -> str:
    """Press "Continue to Spotify"; the authorize URL it redirects to."""
    response = client.post(reverse("accounts:grant"), {"scope": MODIFY, "next": NEXT, **data})
    assert response.status_code == HTTPStatus.FOUND, response.content[:300]
    return response["Location"]


def finish(client: Client, redirect_url: str):
    """Spotify's redirect back, as the browser follows it."""
    return client.get(callback_path(redirect_url))


def told(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def token(signed_in_client) -> SpotifyToken:
    return SpotifyToken.objects.get()


# --- the selector and the URL other apps use ----------------------------------------------


def test_has_scope_reads_the_stored_grant(token):
    assert has_scope(user=token.user, scope="user-library-read")
    assert not has_scope(user=token.user, scope=MODIFY)
    assert not has_scope(user=token.user, scope="user-library")  # whole scopes only
    assert not has_scope(user=SpotifyUserFactory(), scope="user-library-read")  # no grant


def test_step_up_url_names_the_scope_and_where_to_go_back():
    assert services.step_up_url(scope=MODIFY, next=NEXT) == (
        f"{reverse('accounts:grant')}?{urlencode({'scope': MODIFY, 'next': NEXT})}"
    )


def test_step_up_url_refuses_a_scope_the_site_does_not_ask_for():
    with pytest.raises(ValueError, match="playlist-modify-private"):
        services.step_up_url(scope="playlist-modify-private", next=NEXT)


# --- starting ---------------------------------------------------------------------------


def test_the_page_says_why_and_starts_nothing(signed_in_client, token):
    before = pending_sign_ins(signed_in_client)

    response = signed_in_client.get(services.step_up_url(scope=MODIFY, next=NEXT))

    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assert "Spotify must allow this site to change them" in html
    assert "Continue to Spotify" in html
    assert f'name="next" value="{NEXT}"' in html
    assert pending_sign_ins(signed_in_client) == before


def test_only_a_signed_in_user_can_step_up(client, emulator):
    response = client.get(services.step_up_url(scope=MODIFY, next=NEXT))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


def test_continuing_needs_a_csrf_token(signed_in_client, token):
    strict = Client(HTTP_HOST=CANONICAL_HOST, enforce_csrf_checks=True)
    strict.cookies = signed_in_client.cookies

    response = strict.post(reverse("accounts:grant"), {"scope": MODIFY, "next": NEXT})

    assert response.status_code == HTTPStatus.FORBIDDEN


def test_continuing_asks_spotify_for_the_grant_plus_the_scope_with_pkce(signed_in_client, token, settings):
    authorize_url = step_up(signed_in_client)

    asked = query(authorize_url)
    assert authorize_url.startswith(f"{settings.SPOTIFY_ACCOUNTS_URL}/authorize?")
    assert asked["scope"] == f"user-library-read {MODIFY}"
    assert asked["code_challenge_method"] == "S256"
    assert "show_dialog" not in asked  # Spotify asks anyway: the scope is new
    started = pending_sign_ins(signed_in_client)[asked["state"]]
    assert started[0] == NEXT
    assert started[3] == [MODIFY, token.user.pk]


@pytest.mark.parametrize("scope", ["playlist-modify-private", "", "user-library-read"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_scope_outside_the_allow_list_is_refused(signed_in_client, token, scope, method):
    response = getattr(signed_in_client, method)(reverse("accounts:grant"), {"scope": scope, "next": NEXT})

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert b"Nothing to ask Spotify for" in response.content


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_next_must_be_a_path_on_this_site(signed_in_client, token, target):
    response = signed_in_client.get(reverse("accounts:grant"), {"scope": MODIFY, "next": target})

    assert f'name="next" value="{reverse("library:saved_tracks")}"' in response.content.decode()
    state = query(step_up(signed_in_client, next=target))["state"]
    assert pending_sign_ins(signed_in_client)[state][0] == reverse("library:saved_tracks")


def test_a_grant_that_has_the_scope_goes_straight_back(signed_in_client, token):
    SpotifyToken.objects.update(scope=f"user-library-read {MODIFY}")

    for response in (
        signed_in_client.get(reverse("accounts:grant"), {"scope": MODIFY, "next": NEXT}),
        signed_in_client.post(reverse("accounts:grant"), {"scope": MODIFY, "next": NEXT}),
    ):
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"] == NEXT


def test_a_lapsed_grant_signs_in_again_first(signed_in_client, token):
    SpotifyToken.objects.update(reauthorization_required=True)

    response = signed_in_client.get(reverse("accounts:grant"), {"scope": MODIFY, "next": NEXT})

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("accounts:login"))


# --- Spotify's answer --------------------------------------------------------------------


def test_granted_the_stored_grant_has_the_scope_and_the_user_is_told(signed_in_client, token, emulator):
    response = finish(signed_in_client, consent(signed_in_client, step_up(signed_in_client)))

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == NEXT
    assert told(response) == [GRANTED]
    stored = SpotifyToken.objects.get()
    assert stored.pk == token.pk  # the same user's grant, renewed
    assert stored.scopes == ["user-library-read", MODIFY]
    assert stored.access_token != token.access_token
    assert stored.authorized_at > token.authorized_at  # a new consent: 6 months from now
    assert signed_in_client.session["_auth_user_id"] == str(token.user.pk)


def test_once_granted_songs_can_be_saved(signed_in_client, token, emulator):
    finish(signed_in_client, consent(signed_in_client, step_up(signed_in_client)))
    song = emulator.library("mariana.k")[0].track.id
    emulator.remove_track("mariana.k", song)

    outcome = library_writes.save(user=token.user, uris=[f"spotify:track:{song}"])

    assert outcome.saved == [f"spotify:track:{song}"]


def test_declined_the_user_keeps_the_read_only_grant_and_is_told(signed_in_client, token, emulator):
    redirect_url = consent(signed_in_client, step_up(signed_in_client), agree=False)
    assert query(redirect_url)["error"] == "access_denied"

    response = finish(signed_in_client, redirect_url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == NEXT
    assert told(response) == [DECLINED]
    stored = SpotifyToken.objects.get()
    assert (stored.access_token, stored.scope) == (token.access_token, "user-library-read")
    assert signed_in_client.session["_auth_user_id"] == str(token.user.pk)
    assert emulator.token_requests["authorization_code"] == 1  # the sign-in's only


def test_another_spotify_account_is_refused_and_nothing_changes(signed_in_client, token, emulator):
    other_account = consent(signed_in_client, step_up(signed_in_client), user_index=1)

    response = finish(signed_in_client, other_account)

    assert response["Location"] == NEXT
    assert told(response) == [services.OtherSpotifyAccount.default_message]
    assert SpotifyToken.objects.get().access_token == token.access_token
    assert SpotifyToken.objects.count() == 1  # no user for the other account either
    assert signed_in_client.session["_auth_user_id"] == str(token.user.pk)


def test_another_error_leaves_the_grant_and_says_nothing_was_saved(signed_in_client, token, emulator):
    state = query(step_up(signed_in_client))["state"]

    response = signed_in_client.get(reverse("accounts:callback"), {"error": "server_error", "state": state})

    assert response["Location"] == NEXT
    assert told(response) == [services_failed()]
    assert SpotifyToken.objects.get().access_token == token.access_token


def services_failed() -> str:
    from accounts.views import STEP_UP_FAILED

    return STEP_UP_FAILED


def test_an_expired_code_is_a_message_not_a_sign_in_page(signed_in_client, token, emulator):
    redirect_url = consent(signed_in_client, step_up(signed_in_client))
    emulator.config.code_lifetime = 0

    response = finish(signed_in_client, redirect_url)

    assert response["Location"] == NEXT
    assert told(response) == [f"{services_failed()} Please try again."]
    assert SpotifyToken.objects.get().access_token == token.access_token
    assert signed_in_client.session["_auth_user_id"] == str(token.user.pk)


def test_spotify_down_at_the_exchange_is_a_message_not_a_500(signed_in_client, token, emulator, waits):
    redirect_url = consent(signed_in_client, step_up(signed_in_client))
    emulator.inject("token", status=503, times=None)

    response = finish(signed_in_client, redirect_url)

    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == NEXT
    assert told(response)[0].startswith(services_failed())
    assert SpotifyToken.objects.get().access_token == token.access_token


def test_a_consent_without_the_scope_is_told_as_declined(signed_in_client, token, emulator, monkeypatch):
    from spotify import oauth

    exchange = oauth.exchange_code

    def without_the_scope(**kwargs):
        return {**exchange(**kwargs), "scope": "user-library-read"}

    monkeypatch.setattr(oauth, "exchange_code", without_the_scope)

    response = finish(signed_in_client, consent(signed_in_client, step_up(signed_in_client)))

    assert told(response) == [DECLINED]
    assert not has_scope(user=token.user, scope=MODIFY)


def test_the_answer_is_used_once(signed_in_client, token, emulator):
    path = callback_path(consent(signed_in_client, step_up(signed_in_client)))
    signed_in_client.get(path)

    replay = signed_in_client.get(path)

    assert replay.status_code == HTTPStatus.FOUND and replay["Location"] == "/library/"  # no error
    assert emulator.token_requests["authorization_code"] == 2  # the sign-in's and the step-up's
    assert signed_in_client.session["_auth_user_id"] == str(token.user.pk)


def test_a_step_up_finishes_only_for_the_user_who_started_it(signed_in_client, token, emulator):
    redirect_url = consent(signed_in_client, step_up(signed_in_client))
    signed_in_client.post(reverse("accounts:logout"))
    sign_in(signed_in_client, user_index=1)  # someone else, in the same browser
    other = SpotifyToken.objects.exclude(pk=token.pk).get()

    response = finish(signed_in_client, redirect_url)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert SpotifyToken.objects.get(pk=other.pk).scope == "user-library-read"
    assert SpotifyToken.objects.get(pk=token.pk).scope == "user-library-read"
    assert emulator.token_requests["authorization_code"] == 2  # the two sign-ins only
