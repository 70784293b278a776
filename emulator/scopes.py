"""The OAuth scopes Spotify knows, with the wording its consent screen uses."""

SCOPES: dict[str, str] = {
    "user-read-private": "Access your subscription details",
    "user-read-email": "Get your real email address",
    "user-library-read": "Access your saved content (Liked Songs, albums, podcasts)",
    "user-library-modify": "Manage your saved content",
    "playlist-read-private": "Access your private playlists",
    "playlist-read-collaborative": "Access your collaborative playlists",
    "playlist-modify-public": "Manage your public playlists",
    "playlist-modify-private": "Manage your private playlists",
    "user-follow-read": "Access your followers and who you are following",
    "user-follow-modify": "Manage who you are following",
    "user-top-read": "Read your top artists and content",
    "user-read-recently-played": "Access your recently played items",
    "user-read-playback-position": "Read your position in content you have played",
    "user-read-playback-state": "Read your currently playing content and Spotify Connect devices",
    "user-read-currently-playing": "Read your currently playing content",
    "user-modify-playback-state": "Control playback on your Spotify clients and Connect devices",
    "app-remote-control": "Communicate with the Spotify app on your device",
    "streaming": "Play content and control playback on your other devices",
    "ugc-image-upload": "Upload images to Spotify on your behalf",
    "user-personalized": "Get personalized content for you",
}


def parse_scope(raw: str) -> tuple[str, ...]:
    """Split a space-separated scope parameter, dropping repeats but keeping the order."""
    return tuple(dict.fromkeys(raw.split()))


def unknown_scopes(scopes: tuple[str, ...]) -> list[str]:
    return [scope for scope in scopes if scope not in SCOPES]
