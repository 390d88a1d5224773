"""The API key never shows: not in a page, a log line, an error report, a task's
stored arguments, results or traceback, nor the admin.

One run through everything the key touches: a send refused for the key (by an
API that even echoes it), a send that crashes, one that succeeds and is called
back, with the key a distinctive string searched for everywhere afterwards.
"""

import logging
import sys
from datetime import timedelta

import pytest
import requests.adapters
from django.urls import reverse
from django.utils import timezone
from django.views.debug import ExceptionReporter
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tests.conftest import wait_for
from uploads import periodic
from uploads.models import Event, Status, Submission, UploadGate
from uploads.sending import sender as sending
from uploads.tasks import wake_sender

KEY = "sk-mavi-test-SECRET-1234"

pytestmark = pytest.mark.django_db(transaction=True)


def run_tasks():
    """The database worker, in this process, until no task is due."""
    Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test-worker", excluded_queue_names=[],
    ).run()  # fmt: skip


def crash(self, request, *args, **kwargs):
    raise RuntimeError("the connection pool fell over")


def back_in_the_queue(client, submission):
    """A stuck send is recovered (needs review), then sent again by an administrator."""
    Submission.objects.filter(pk=submission.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    periodic.recover_abandoned_sends()
    client.post(
        reverse("admin:uploads_submission_changelist"),
        {"action": "resend", "_selected_action": [submission.pk]},
    )
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED


def test_the_api_key_appears_nowhere(
    client,
    live_server,
    sandbox,
    settings,
    alice,
    team_a,
    superuser,
    caplog,
    monkeypatch,
    clip_url,
):
    caplog.set_level(logging.DEBUG)
    sandbox.api_key = settings.MEMORIES_API_KEY = KEY
    settings.PUBLIC_BASE_URL = live_server.url
    seen = []  # every page, report and stored text, searched at the end

    # Submitted through the site.
    client.force_login(alice)
    client.post(
        reverse("submission_new"),
        {"team": team_a.pk, "url": clip_url, "tags": "x"},
        follow=True,
    )
    submission = Submission.objects.get()

    # Refused for the key, by an API that repeats the key in its message.
    sandbox.set_fault("code", times=1, code="0401", msg=f"api key {KEY} is not valid")
    run_tasks()
    assert UploadGate.get().paused
    assert submission.events.filter(kind=Event.Kind.REFUSED).exists()
    seen.append(client.get(submission.get_absolute_url()).content.decode())
    seen.append(client.get("/healthz").content.decode())

    # An administrator resumes; the send crashes inside the HTTP library.
    client.force_login(superuser)
    client.post(
        reverse("admin:uploads_uploadgate_changelist"),
        {"action": "resume_sending", "_selected_action": [UploadGate.get().pk]},
    )
    with monkeypatch.context() as patch:
        patch.setattr(requests.adapters.HTTPAdapter, "send", crash)
        wake_sender()
        run_tasks()
        assert DBTaskResult.objects.exclude(traceback="").exists()
        back_in_the_queue(client, submission)
        # The error report a crash like that makes (the admins' e-mail, Sentry).
        try:
            sending.send_next()
        except RuntimeError:
            report = ExceptionReporter(None, *sys.exc_info())
            seen.append(report.get_traceback_text())
            seen.append(report.get_traceback_html())
        else:
            pytest.fail("the send did not crash")
    back_in_the_queue(client, submission)

    # Sent, accepted and called back.
    wake_sender()
    run_tasks()
    assert wait_for(lambda: Submission.objects.get().status == Status.PARSED, timeout=15)

    # Pages: the site's and the admin's.
    client.force_login(alice)
    for url in [reverse("submission_list"), submission.get_absolute_url(),
                reverse("submission_new"), "/healthz"]:  # fmt: skip
        seen.append(client.get(url).content.decode())
    client.force_login(superuser)
    admin_urls = [
        reverse("admin:uploads_submission_changelist"),
        reverse("admin:uploads_submission_change", args=[submission.pk]),
        reverse("admin:uploads_uploadgate_changelist"),
        reverse("admin:uploads_uploadgate_change", args=[UploadGate.get().pk]),
        reverse("admin:django_tasks_database_dbtaskresult_changelist"),
    ]
    admin_urls += [
        reverse("admin:django_tasks_database_dbtaskresult_change", args=[task.pk])
        for task in DBTaskResult.objects.all()
    ]
    for url in admin_urls:
        response = client.get(url)
        assert response.status_code == 200, url
        seen.append(response.content.decode())

    # What the database keeps.
    for task in DBTaskResult.objects.all():
        seen += [repr(task.args_kwargs), repr(task.return_value), task.traceback,
                 task.exception_class_path]  # fmt: skip
    assert DBTaskResult.objects.filter(status="FAILED").exists()
    assert DBTaskResult.objects.filter(status="SUCCESSFUL").exists()
    for event in Event.objects.all():
        seen += [event.message, repr(event.data)]
    submission.refresh_from_db()
    seen += [submission.error_message, UploadGate.get().paused_reason]

    # The logs, at DEBUG, whatever logged them.
    logs = [record.getMessage() for record in caplog.records]
    logs += [caplog.text]
    assert any("upload_url" in line for line in logs)  # the requests were logged

    leaks = [text for text in seen + logs if KEY in text]
    assert not leaks, [text[max(text.index(KEY) - 300, 0) : text.index(KEY) + 50] for text in leaks]
    # Nothing was searched in vain: the texts above were produced.
    assert len(seen) > 15
