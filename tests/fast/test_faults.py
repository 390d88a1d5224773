"""The fault points of uploads/faults.py: every one used is listed, and documented."""

import re
from contextlib import ExitStack
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.faults import Faults, pausing
from uploads import faults as seam

REPO = Path(__file__).resolve().parents[2]
CALL = re.compile(r"faults\.point\(\s*(\S)")
NAMED = re.compile(r"faults\.point\(\s*\"([^\"]+)\"")


def points_used():
    """{name: [files]} of every `seam.point(...)` in uploads/, whose name must be a literal."""
    used = {}
    for path in sorted((REPO / "uploads").rglob("*.py")):
        if path.name == "faults.py" and path.parent.name == "uploads":
            continue  # the seam itself, whose docstring shows a call
        text = path.read_text()
        where = str(path.relative_to(REPO))
        assert len(CALL.findall(text)) == len(NAMED.findall(text)), (
            f"{where}: a fault point's name is written out, as a string, where it is used"
        )
        for name in NAMED.findall(text):
            used.setdefault(name, []).append(where)
    return used


def test_every_point_used_in_the_code_is_listed():
    used = points_used()
    unlisted = {name: files for name, files in used.items() if name not in seam.POINTS}
    assert not unlisted, f"not in uploads/faults.py's POINTS: {unlisted}"
    assert set(used) == seam.POINTS, f"listed but used nowhere: {seam.POINTS - set(used)}"


def test_the_table_of_points_lists_them_all():
    in_table = set(re.findall(r"^``([\w.]+)``", seam.__doc__, re.MULTILINE))
    assert in_table == seam.POINTS
    docs = (REPO / "docs" / "tests.md").read_text()
    in_docs = set(re.findall(r"^\| `([\w.]+)` \|", docs, re.MULTILINE))
    assert in_docs == seam.POINTS


def test_with_nothing_installed_a_point_does_nothing():
    assert seam.point("lock", kind="team", team=1, key=1) is None


def test_a_behaviour_runs_with_the_points_context_until_the_block_ends():
    seen = []
    with seam.installed("batch.cancelling", lambda **context: seen.append(context)):
        seam.point("batch.cancelling", batch=7, cancelled=100)
        seam.point("send.before_claim", candidate=1)  # not this one
    seam.point("batch.cancelling", batch=7, cancelled=200)
    assert seen == [{"batch": 7, "cancelled": 100}]


def test_the_fixtures_behaviours_last_until_the_test_ends():
    seen = []
    with ExitStack() as test:
        Faults(test).at("lock", lambda **context: seen.append(context["kind"]))
        seam.point("lock", kind="team", team=1, key=1)
    seam.point("lock", kind="lane", team=1, key=(1, 2))
    assert seen == ["team"]


def test_a_point_not_listed_cannot_be_installed(faults):
    with pytest.raises(ImproperlyConfigured, match="No fault point 'locks'"):
        faults.at("locks", print)


def test_the_environment_pauses_at_the_points_it_names(monkeypatch):
    slept = []
    monkeypatch.setattr(seam.time, "sleep", slept.append)
    configured = seam.parse(" send.before_request=pause:1.5 , batch.cancelling=pause ")
    assert set(configured) == {"send.before_request", "batch.cancelling"}
    configured["send.before_request"](submission=None)
    configured["batch.cancelling"](batch=None, cancelled=100)
    assert slept == [1.5, seam.PAUSE_SECONDS]
    assert seam.parse("") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("send.before_requests=pause", "No fault point 'send.before_requests'"),
        ("send.before_request=sleep:1", "the behaviour must be pause or pause:SECONDS"),
        ("send.before_request=pause:soon", "'soon' is not a number of seconds"),
    ],
)
def test_a_mistake_in_the_environment_is_named(value, message):
    with pytest.raises(ImproperlyConfigured, match=re.escape(message)):
        seam.parse(value)


def test_a_child_processes_pause_is_checked_before_it_starts():
    assert pausing("send.before_claim", seconds=0.2) == {
        "PORTAL_FAULTS": "send.before_claim=pause:0.2"
    }
    assert pausing("admission.releasing") == {"PORTAL_FAULTS": "admission.releasing=pause"}
    with pytest.raises(ImproperlyConfigured):
        pausing("admission.release")
