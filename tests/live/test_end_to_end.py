"""Submit through the form; a worker sends to the sandbox; its callback hits a live server."""

import re

import pytest
import requests
from django.urls import reverse

from tests.conftest import wait_for
from uploads.models import Event, Status, Submission

pytestmark = pytest.mark.django_db(transaction=True)


def login_session(live_server, user, password="pw-for-tests-123"):
    user.set_password(password)
    user.save()
    session = requests.Session()
    login_url = live_server.url + reverse("login")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(login_url).text)
    session.post(
        login_url,
        data={"username": user.username, "password": password, "csrfmiddlewaretoken": token[1]},
        headers={"Referer": login_url},
    )
    return session


def test_a_submission_reaches_parse_through_a_real_callback(
    live_server, sandbox, settings, alice, team_a, start_worker, clip_url
):
    settings.PUBLIC_BASE_URL = live_server.url
    start_worker()
    session = login_session(live_server, alice)
    form_url = live_server.url + reverse("submission_new")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(form_url).text)
    response = session.post(
        form_url,
        data={
            "csrfmiddlewaretoken": token[1],
            "team": team_a.pk,
            "url": clip_url,
            "tags": "holiday, beach",
            "latitude": "39.9042",
            "longitude": "116.4074",
        },
        headers={"Referer": form_url},
    )
    assert response.status_code == 200
    submission = Submission.objects.get()
    assert response.url.endswith(submission.get_absolute_url())

    assert wait_for(lambda: Submission.objects.get().status == Status.PARSED, timeout=30)
    submission.refresh_from_db()
    assert submission.api_status == "PARSE"
    assert submission.video_no in sandbox.videos
    callbacks = submission.events.filter(kind=Event.Kind.CALLBACK)
    assert callbacks.filter(to_status=Status.PARSED).exists()
    assert any(code == 200 for _, _, code in sandbox.callbacks_sent)
