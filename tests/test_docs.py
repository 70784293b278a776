"""The documentation stays a front door and a reference that agree with the code: the
README short, every relative link and anchor pointing somewhere, every docs/ page linked
from the README, and every setting the site reads documented (docs/configuration.md) and
listed in `.env.example`."""

import ast
import re
import unicodedata
from functools import cache
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARKDOWN = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200

FENCE = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)", re.DOTALL)
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# django-environ's readers, as spotifysite/settings.py calls them: env("X"), env.int("X"), …
ENV_READERS = {"int", "bool", "float", "list", "path", "db", "cache", "str", "json", "url", "tuple", "dict"}


def _prose(text: str) -> str:
    """The Markdown without its code blocks and code spans (no links or headings there)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def _links(path: Path) -> list[str]:
    return LINK.findall(_prose(path.read_text(encoding="utf-8")))


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: inline markup and punctuation dropped (hyphens and
    underscores kept), lowercase, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link or image: its text
    text = text.strip().lower()
    kept = "".join(char for char in text if char in " -_" or unicodedata.category(char)[0] in {"L", "N"})
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    """The anchors of `path`'s headings; a repeated one gets -1, -2, … as on GitHub."""
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(text):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def settings_read() -> list[str]:
    """Every variable spotifysite/settings.py reads with `env(...)` or `env.<type>(...)`."""
    tree = ast.parse((ROOT / "spotifysite" / "settings.py").read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id == "env") or (
            isinstance(func, ast.Attribute)
            and func.attr in ENV_READERS
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
        )
        first = node.args[0]
        if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.append(first.value)
    return sorted(set(names))


def test_readme_is_a_front_door_of_at_most_200_lines():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; reference belongs in docs/ (at most {README_MAX_LINES})"
    )


@pytest.mark.parametrize("page", MARKDOWN, ids=lambda path: str(path.relative_to(ROOT)))
def test_relative_links_point_to_existing_files_and_headings(page):
    broken = []
    for target in _links(page):
        if not _relative(target):
            continue
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / unquote(path_part)).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and unquote(anchor) not in anchors(destination):
            broken.append(f"{target}: no heading with that anchor in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_readme_links_every_page_of_the_docs():
    linked = {
        (ROOT / unquote(target.partition("#")[0])).resolve()
        for target in _links(README)
        if _relative(target) and target.partition("#")[0]
    }
    missing = [str(page.relative_to(ROOT)) for page in DOCS.glob("*.md") if page.resolve() not in linked]
    assert not missing, f"README.md's Documentation list does not link {missing}"


def test_slug_follows_githubs_rules():
    assert slug("Spotify's rate limit: one budget for the whole app") == (
        "spotifys-rate-limit-one-budget-for-the-whole-app"
    )
    assert slug("Faults: what happens when things break") == "faults-what-happens-when-things-break"
    assert slug("The `emulator` as a separate server") == "the-emulator-as-a-separate-server"
    assert slug("PKCE with a client secret") == "pkce-with-a-client-secret"


def test_every_setting_read_is_documented_in_configuration():
    names = settings_read()
    assert "SPOTIFY_CLIENT_ID" in names and "DATABASE_URL" in names  # the reader finds them
    documented = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in names if f"`{name}`" not in documented]
    assert not missing, f"docs/configuration.md does not list {missing}"


def test_every_setting_read_is_in_env_example():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    missing = [
        name for name in settings_read() if not re.search(rf"^#?\s*{re.escape(name)}=", example, re.MULTILINE)
    ]
    assert not missing, f".env.example does not list {missing} (as NAME= or # NAME=)"
