"""Identical callbacks arriving at the same moment, on a live server with real threads."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.urls import reverse

from tests.conftest import give_callback_token
from tests.factories import SubmissionFactory
from uploads.models import Event, Status

pytestmark = pytest.mark.django_db(transaction=True)

VIDEO_NO = "VI554046065381212160"
CALLERS = 5


def post_at_once(url, payload):
    """CALLERS threads, each with its own connection, post at the same moment."""
    barrier = threading.Barrier(CALLERS)

    def call(_):
        with requests.Session() as session:
            session.get(url, timeout=10)  # open the connection before the start line
            barrier.wait(timeout=10)
            response = session.post(url, json=payload, timeout=30)
            return response.status_code, response.json().get("result")

    with ThreadPoolExecutor(CALLERS) as pool:
        return list(pool.map(call, range(CALLERS)))


@pytest.mark.parametrize("round_", range(3))
def test_five_identical_callbacks_make_one_transition_and_one_event(
    live_server, alice, team_a, round_
):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    submission.mark_accepted(video_no=VIDEO_NO, api_status="UNPARSE", message="Accepted.")
    url = live_server.url + reverse("memories_callback", args=[token])

    answers = post_at_once(url, {"videoNo": VIDEO_NO, "status": "PARSE"})

    assert sorted(answers) == [(200, "changed")] + [(200, "repeat")] * (CALLERS - 1)
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    callbacks = submission.events.filter(kind=Event.Kind.CALLBACK)
    assert callbacks.count() == 1
    event = callbacks.get()
    assert (event.from_status, event.to_status) == (Status.PROCESSING, Status.PARSED)
    assert event.repeat_count == CALLERS - 1
