"""The factories make what the site makes: a user linked as sign-in links it, grants in
each state, stored libraries the selectors read back whole."""

import pytest

from accounts.models import SpotifyToken
from library import selectors
from library.models import SavedTrack
from tests.factories import SpotifyTokenFactory, SpotifyUserFactory, StoredLibraryFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_spotify_user_is_linked_to_its_account_as_sign_in_links_it():
    user = SpotifyUserFactory(account_id="abc", first_name="Ada")

    assert user.username == "spotify-abc" and user.first_name == "Ada"
    assert user.spotify_account.account_id == "abc"
    assert not user.has_usable_password()


def test_an_operator_is_staff_with_the_password_given():
    operator = UserFactory(username="operator", password="right-password-123", staff=True)

    assert operator.is_staff and operator.check_password("right-password-123")


@pytest.mark.parametrize(
    ("traits", "status"),
    [
        ({}, SpotifyToken.Status.VALID),
        ({"expiring": True}, SpotifyToken.Status.EXPIRING),
        ({"expired": True}, SpotifyToken.Status.EXPIRED),
        ({"needs_reauthorization": True}, SpotifyToken.Status.NEEDS_REAUTHORIZATION),
    ],
)
def test_a_token_has_the_status_its_trait_names(traits, status):
    token = SpotifyTokenFactory(**traits)

    assert token.status == status
    assert token.spotify_user_id == token.user.spotify_account.account_id


def test_a_stored_library_is_complete_with_its_songs_in_order():
    sync = StoredLibraryFactory(songs=120)

    assert (sync.generation, sync.total, sync.is_loading) == (1, 120, False)
    assert SavedTrack.objects.filter(user_id=sync.pk).count() == 120
    tracks = selectors.library_get(sync=sync).tracks
    assert [track.added_at for track in tracks] == sorted((t.added_at for t in tracks), reverse=True)
