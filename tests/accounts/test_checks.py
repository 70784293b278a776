from accounts.checks import spotify_configuration


def _ids(**overrides) -> set[str]:
    from django.test import override_settings

    with override_settings(**overrides):
        return {message.id for message in spotify_configuration(None)}


def test_emulator_without_debug_is_a_startup_error():
    assert "accounts.E001" in _ids(DEBUG=False, SPOTIFY_DEMO_MODE=True, EMULATOR_ENABLED=True)


PRODUCTION = {
    "DEBUG": False,
    "SPOTIFY_DEMO_MODE": False,
    "EMULATOR_ENABLED": False,
    "SPOTIFY_CLIENT_ID": "abc",
    "SPOTIFY_CLIENT_SECRET": "def",
    "SPOTIFY_REDIRECT_URI": "https://music.example.com/accounts/callback/",
    "ALLOWED_HOSTS": ["music.example.com"],
}


def test_missing_credentials_without_debug_is_a_startup_error():
    assert _ids(**{**PRODUCTION, "SPOTIFY_CLIENT_ID": "", "SPOTIFY_CLIENT_SECRET": ""}) == {"accounts.E002"}


def test_real_credentials_without_debug_pass():
    assert _ids(**PRODUCTION) == set()


def test_demo_mode_with_debug_is_fine():
    assert _ids(DEBUG=True) == set()


def test_localhost_redirect_uri_gets_a_warning():
    assert "accounts.W001" in _ids(
        DEBUG=True, SPOTIFY_REDIRECT_URI="http://localhost:8000/accounts/callback/"
    )


def test_production_redirect_uri_must_be_this_sites_https_address():
    for wrong in ("http://127.0.0.1:8000/accounts/callback/", "http://music.example.com/accounts/callback/"):
        assert "accounts.W002" in _ids(**{**PRODUCTION, "SPOTIFY_REDIRECT_URI": wrong})
