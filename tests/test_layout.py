"""The code's layout keeps the design readable: small modules, short functions, the
Spotify integration behind its own interface, scripts independent of the tests."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("accounts", "library", "spotify", "spotifysite", "emulator", "harness")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(*packages: str) -> list[Path]:
    return [
        path
        for package in packages
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", _modules(*APP_PACKAGES), ids=lambda path: str(path.relative_to(ROOT)))
def test_app_modules_and_their_functions_stay_small(path):
    source = path.read_text()
    assert source.count("\n") <= MAX_MODULE_LINES
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long


def test_the_library_asks_the_integration_for_pages_and_never_touches_the_budget():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _modules("library")
        for name in sorted(_imports(path))
        if name == "spotify.budget" or name.startswith("spotify.budget.")
    ]
    assert offenders == []


def test_spotify_is_called_only_from_the_integration():
    """Only the `spotify` package imports spotipy or requests (the emulator and the
    harness are clients of their own, for tests and drills)."""
    offenders = [
        str(path.relative_to(ROOT))
        for path in _modules("accounts", "library", "spotifysite")
        if any(name.split(".")[0] in {"spotipy", "requests"} for name in _imports(path))
    ]
    assert offenders == []


def test_scripts_import_nothing_from_the_tests():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "scripts").rglob("*.py"))
        if any(name == "tests" or name.startswith("tests.") for name in _imports(path))
    ]
    assert offenders == []
