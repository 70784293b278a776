"""factory_boy factories: users (an operator, or a user linked to a Spotify account as
sign-in links it), their Spotify grants in each state the site knows, and stored
libraries, written by the library's own services as the loader writes them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from factory.django import DjangoModelFactory, Password

from accounts.models import SpotifyToken
from library import services
from library.models import LibrarySync
from library.tracks import Track

PAGE = 50  # the songs of one of Spotify's pages, as the loader stores them


class UserFactory(DjangoModelFactory):
    """A user of Django's own: no Spotify account (an operator of the admin with `staff`)."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    class Params:
        staff = factory.Trait(is_staff=True)

    username = factory.Sequence(lambda n: f"user-{n}")
    password = Password(None)  # unusable, unless a test gives one


class SpotifyUserFactory(DjangoModelFactory):
    """A user as signing in with Spotify account `account_id` creates it: through the
    sign-in's own linking (accounts.services), so its username and account row are
    what a sign-in would make."""

    class Meta:
        model = settings.AUTH_USER_MODEL

    account_id = factory.Sequence(lambda n: f"account{n:04d}")
    first_name = ""  # the profile's display name

    @classmethod
    def _create(cls, model_class, *, account_id: str, first_name: str = "", **fields) -> AbstractBaseUser:
        from accounts.services import user_for_account

        user = user_for_account(account_id=account_id)
        user.first_name = first_name
        for name, value in fields.items():
            setattr(user, name, value)
        user.save()
        return user


class SpotifyTokenFactory(DjangoModelFactory):
    """A Spotify grant, valid for an hour unless a trait says otherwise: `expiring`
    (inside SPOTIFY_REFRESH_MARGIN), `expired`, `needs_reauthorization` (Spotify refused
    its refresh token)."""

    class Meta:
        model = SpotifyToken

    class Params:
        expiring = factory.Trait(
            expires_at=factory.LazyFunction(lambda: _from_now(settings.SPOTIFY_REFRESH_MARGIN / 2))
        )
        expired = factory.Trait(expires_at=factory.LazyFunction(lambda: _from_now(-60)))
        needs_reauthorization = factory.Trait(reauthorization_required=True)

    user = factory.SubFactory(SpotifyUserFactory)
    spotify_user_id = factory.LazyAttribute(lambda token: _account_id(token.user))
    access_token = factory.Sequence(lambda n: f"access-token-{n}")
    refresh_token = factory.Sequence(lambda n: f"refresh-token-{n}")
    scope = factory.LazyFunction(lambda: settings.SPOTIFY_SCOPES)
    expires_at = factory.LazyFunction(lambda: _from_now(3600))


def _from_now(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def _account_id(user: AbstractBaseUser) -> str:
    account = getattr(user, "spotify_account", None)
    return account.account_id if account is not None else user.get_username()


class TrackFactory(factory.Factory):
    """A song as Spotify's saved-tracks page describes it; each liked a minute before the
    one made before it (so the first made is the newest)."""

    class Meta:
        model = Track

    id = factory.Sequence(lambda n: f"track{n:018d}")
    name = factory.Sequence(lambda n: f"Song {n}")
    artists = ("Artist",)
    album = "Album"
    release_date = "2020"
    image_url = None
    duration_ms = 180_000
    explicit = False
    playable = True
    added_at = factory.Sequence(lambda n: datetime(2026, 11, 1, tzinfo=UTC) - timedelta(minutes=n))
    uri = factory.LazyAttribute(lambda track: f"spotify:track:{track.id}")
    spotify_url = None
    isrc = None


def library_load(user: AbstractBaseUser, tracks: list[Track]) -> LibrarySync:
    """Store `tracks` as `user`'s complete library the way the loader does, page by page
    (library.services: the lease, the first page, the others, the switch)."""
    lease = services.lease_take(user=user, create=True)
    owner = lease.owner
    sync = services.load_start(user=user, owner=owner, first=tracks[:PAGE], total=len(tracks))
    for offset in range(PAGE, len(tracks), PAGE):
        page = {offset: tracks[offset : offset + PAGE]}
        assert services.pages_store(user=user, owner=owner, sync=sync, pages=page)
    if sync.is_loading:
        sync = services.load_complete(user=user, owner=owner, sync=sync)
    lease.release()
    return sync


class StoredLibraryFactory(DjangoModelFactory):
    """A user's complete stored library (LibrarySync and its SavedTrack rows) of `songs`
    songs, or of the `tracks` given; other LibrarySync fields given are written after."""

    class Meta:
        model = LibrarySync

    class Params:
        songs = PAGE

    user = factory.SubFactory(SpotifyUserFactory)
    tracks = factory.LazyAttribute(lambda library: TrackFactory.build_batch(library.songs))

    @classmethod
    def _create(cls, model_class, *, user: AbstractBaseUser, tracks: list[Track], **fields) -> LibrarySync:
        sync = library_load(user, tracks)
        if fields:
            LibrarySync.objects.filter(pk=sync.pk).update(**fields)
            sync.refresh_from_db()
        return sync
