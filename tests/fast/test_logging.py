"""Log lines: one per event with submission and team, text or JSON, the same from web
and worker, and callback tokens masked."""

import json
import logging
import re

import pytest
from django.urls import reverse

from memories_portal.logging import PortalFormatter, mask_tokens
from tests.conftest import EVENT_KEYS
from tests.factories import SubmissionFactory
from uploads.models import Status

TOKEN = "tok-SECRET-" + "z" * 32
LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 INFO uploads\.events "
    r"submission=(\d+) team=(\d+) kind=(\w+) from=(\w*) to=(\w+)$"
)


def event_records(caplog):
    return [r for r in caplog.records if r.name == "uploads.events"]


@pytest.fixture
def cancelled(client, alice, team_a, caplog, django_capture_on_commit_callbacks):
    """A submission cancelled through the site, with the log records it made."""
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    caplog.set_level(logging.INFO, logger="uploads.events")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    return submission, event_records(caplog)


@pytest.mark.django_db
def test_an_event_is_one_text_line_with_submission_and_team(cancelled, team_a):
    submission, records = cancelled
    assert len(records) == 1
    line = PortalFormatter().format(records[0])
    assert LINE.match(line).groups() == (
        str(submission.pk),
        str(team_a.pk),
        "cancelled",
        "queued",
        "cancelled",
    )


@pytest.mark.django_db
def test_with_log_format_json_an_event_is_one_json_object(cancelled, team_a):
    submission, records = cancelled
    line = PortalFormatter(json=True).format(records[0])
    assert "\n" not in line
    entry = json.loads(line)
    assert set(entry) == EVENT_KEYS
    assert (entry["submission"], entry["team"], entry["kind"]) == (
        submission.pk,
        team_a.pk,
        "cancelled",
    )
    assert (entry["from_status"], entry["to_status"]) == ("queued", "cancelled")
    assert entry["message"].startswith(f"submission={submission.pk} team={team_a.pk} ")


@pytest.mark.django_db
def test_a_rolled_back_change_logs_nothing(alice, team_a, caplog):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    caplog.set_level(logging.INFO, logger="uploads.events")
    submission.transition(Status.CANCELLED, kind="cancelled")  # never committed
    assert event_records(caplog) == []


# --- callback tokens stay out of the logs ---------------------------------------


@pytest.mark.django_db
def test_a_404_callback_is_logged_with_its_token_masked(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.post(reverse("memories_callback", args=[TOKEN]), {"status": "PARSE"})
    assert response.status_code == 404
    warnings = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in warnings] == ["Not Found: /callbacks/memories/****/"]
    assert TOKEN not in caplog.text


def test_the_development_servers_access_lines_are_masked(caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("django.server").info(
        '"%s" %s %s', f"POST /callbacks/memories/{TOKEN}/ HTTP/1.1", 200, 27
    )
    assert caplog.records[-1].getMessage() == '"POST /callbacks/memories/****/ HTTP/1.1" 200 27'


def test_the_console_handler_masks_tokens_from_any_logger():
    [console] = [
        h for h in logging.getLogger().handlers if isinstance(h.formatter, PortalFormatter)
    ]
    record = logging.getLogger("uploads.anything").makeRecord(
        "uploads.anything", logging.WARNING, __file__, 1,
        "calling back to /callbacks/memories/%s/", (TOKEN,), None,
    )  # fmt: skip
    assert console.filter(record)
    line = console.format(record)
    assert line.endswith("WARNING uploads.anything calling back to /callbacks/memories/****/")


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ('"GET /api/v1/me?token=mpt_Ab-3_x HTTP/1.1"', '"GET /api/v1/me?token=**** HTTP/1.1"'),
        ("GET /me?page=2&access_token=abc&q=1", "GET /me?page=2&access_token=****&q=1"),
        ("Authorization was mpt_Ab-3_x", "Authorization was mpt_****"),
        ("GET /submissions/?q=tokenize", "GET /submissions/?q=tokenize"),
    ],
)  # fmt: skip
def test_api_tokens_in_a_query_or_anywhere_are_masked(line, masked):
    assert mask_tokens(line) == masked
