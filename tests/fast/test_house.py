"""The house's own rules, read from its files."""

from tests.conftest import REPO

MAX_MODULE_LINES = 600


def test_no_module_in_uploads_reaches_600_lines():
    # A module that long holds more than one concern: split it by concern (as
    # uploads/memories/sandbox/ and uploads/urlcheck/ are). Migrations are written by Django.
    uploads = REPO / "uploads"
    too_long = {
        str(path.relative_to(REPO)): lines
        for path in sorted(uploads.rglob("*.py"))
        if "migrations" not in path.relative_to(uploads).parts
        and (lines := len(path.read_text().splitlines())) >= MAX_MODULE_LINES
    }
    assert not too_long, f"modules of {MAX_MODULE_LINES} lines or more: {too_long}"
