"""The documentation a newcomer reads first stays complete: every sandbox fault is told
(how to see each status), every page of docs/ is in the README's table, and the README's
"Running it" gives the ports."""

import re

from tests.conftest import REPO
from uploads.memories.sandbox import FAULTS

README = (REPO / "README.md").read_text()


def test_every_sandbox_fault_is_documented():
    sandbox = (REPO / "docs" / "sandbox.md").read_text()
    first_cells = re.findall(r"^\| ([^|]+) \|", sandbox, re.M)
    documented = {name for cell in first_cells for name in re.findall(r"`(\w+)`", cell)}
    assert not FAULTS - documented, sorted(FAULTS - documented)


def test_every_docs_page_is_in_the_readme_table():
    pages = {path.name for path in (REPO / "docs").glob("*.md")}
    listed = set(re.findall(r"^\| `docs/([\w-]+\.md)` \|", README, re.M))
    assert pages == listed


def test_the_readme_gives_the_ports_and_stays_short():
    running = README[README.index("## Running it") : README.index("### Onboarding")]
    assert "PORT=" in running and "SANDBOX_PORT=" in running
    assert len(README.splitlines()) < 300
