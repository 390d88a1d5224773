"""Two memories.ai accounts on the sandbox, two teams, real worker processes.

Each account has its own gate: its uploads are spaced by its own interval, and
together the two send twice as fast as one; an account-level refusal pauses its
account only; a request that hangs on one account holds nothing of the other.
Rates are fractions of a second; no test waits on the real one a minute.
"""

import logging
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db.models.functions import Now
from django.urls import reverse
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from tests.conftest import wait_for
from tests.factories import SubmissionFactory
from uploads.models import Event, MemoriesAccount, Status, Submission, Team, UploadGate
from uploads.tasks import wake_sender

pytestmark = pytest.mark.django_db(transaction=True)

WEST_KEY = "sk-mavi-west-SECRET-7Q4X"
PER_MINUTE = 60  # each account: a slot a second


@pytest.fixture
def accounts(sandbox, settings, team_a, team_b):
    """The default account (team A, the settings' key) and "west" (team B, its own key in
    the database), each taking one upload a second at the sandbox."""
    settings.MEMORIES_UPLOADS_PER_MINUTE = PER_MINUTE
    # Wake-ups come this early, so that the claim is ready when the slot opens.
    settings.SEND_HOLD_SECONDS = 0.3
    sandbox.uploads_per_interval, sandbox.rate_interval = 1, 60 / PER_MINUTE
    sandbox.west = sandbox.add_account(WEST_KEY, "west")
    west = MemoriesAccount.objects.create(
        name="west", api_base_url=sandbox.url, api_key=WEST_KEY, uploads_per_minute=PER_MINUTE
    )
    Team.objects.filter(pk=team_b.pk).update(account=west)
    return MemoriesAccount.default(), west


def queue(team, user, n):
    made = [SubmissionFactory(team=team, submitter=user) for _ in range(n)]
    wake_sender()
    return made


def accepted_times(account):
    return sorted(record.received_at for record in account.accepted)


def test_each_account_keeps_its_own_interval_and_together_they_go_twice_as_fast(
    accounts, sandbox, alice, outsider, team_a, team_b, start_worker
):
    n = 8  # enough gaps that one stall of a busy host does not decide the average
    queue(team_a, alice, n)
    queue(team_b, outsider, n)
    for _ in range(3):
        start_worker()
    assert wait_for(
        lambda: len(sandbox.accepted) == n and len(sandbox.west.accepted) == n, timeout=60
    )
    interval = 60 / PER_MINUTE
    for account in (sandbox, sandbox.west):
        times = accepted_times(account)
        gaps = [b - a for a, b in pairwise(times)]
        # Each account's own interval apart, and not much more: one gate between the two
        # would make every gap of each account two intervals.
        assert min(gaps) >= 0.9 * interval
        assert sum(gaps) / len(gaps) < 1.5 * interval, gaps
        assert account.count("0429") == 0
    # 2n uploads in about the time one account takes for n: twice one account's rate.
    both = sorted(accepted_times(sandbox) + accepted_times(sandbox.west))
    one_gate = (2 * n - 1) * interval  # the 2n uploads through a single gate
    assert both[-1] - both[0] < 0.75 * one_gate, (both[-1] - both[0], one_gate)


def test_credits_out_on_one_account_pause_it_while_the_other_keeps_sending(
    accounts, sandbox, alice, outsider, team_a, team_b, superuser, client, start_worker
):
    default, west = accounts
    sandbox.west.credits_out = True
    west_waiting = queue(team_b, outsider, 3)
    queue(team_a, alice, 4)
    for _ in range(2):
        start_worker()
    assert wait_for(lambda: len(sandbox.accepted) == 4, timeout=45)
    assert wait_for(lambda: UploadGate.get(west).paused)
    gate = UploadGate.get(west)
    assert "0402" in gate.paused_reason and "west" in gate.paused_reason
    assert not UploadGate.get(default).paused
    assert len(sandbox.west.uploads) == 1  # the paused account sends nothing more
    assert Submission.objects.filter(team=team_b, status=Status.QUEUED).count() == 3
    client.force_login(superuser)
    page = client.get(reverse("home")).content.decode()
    assert "not enough points" in page and "“west” are paused" in page
    # Credits bought: a superuser resumes the account, and its submissions go.
    sandbox.west.credits_out = False
    client.post(reverse("sending_resume"), {"account": west.pk})
    assert wait_for(lambda: len(sandbox.west.accepted) == len(west_waiting), timeout=30)


def test_a_request_hanging_on_one_account_holds_nothing_of_the_other(
    accounts, sandbox, settings, alice, outsider, team_a, team_b, start_worker
):
    default, _ = accounts
    settings.MEMORIES_READ_TIMEOUT = 20.0
    hang = 15.0
    sandbox.west.set_fault("slow", times=1, seconds=hang)
    # West's slot opens first, so the one wake-up there is sends west's first.
    UploadGate.objects.filter(pk=UploadGate.get(default).pk).update(
        next_allowed_at=Now() + timedelta(seconds=1)
    )
    [stuck] = queue(team_b, outsider, 1)
    queue(team_a, alice, 4)
    for _ in range(2):
        start_worker()
    assert wait_for(
        lambda: Submission.objects.filter(pk=stuck.pk, request_started_at__isnull=False).exists()
    )
    # The default account's four go, one a second, while west's request still hangs: the
    # worker stuck on west woke another before its request left.
    assert wait_for(lambda: len(sandbox.accepted) == 4, timeout=hang - 3)
    assert Submission.objects.get(pk=stuck.pk).status == Status.SENDING
    assert sandbox.count("0429") == 0


def run_tasks():
    """The database worker, in this process, until no task is due."""
    Worker(
        queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
        max_tasks=None, worker_id="test-worker", excluded_queue_names=[],
    ).run()  # fmt: skip


def test_an_accounts_key_is_never_in_a_page_a_log_a_task_or_an_error(
    accounts, sandbox, alice, outsider, team_b, superuser, client, caplog
):
    caplog.set_level(logging.DEBUG)
    default, west = accounts
    seen = []
    # Refused for the key, by an API that repeats the key in its message.
    sandbox.west.set_fault("code", times=1, code="0401", msg=f"api key {WEST_KEY} is not valid")
    [submission] = queue(team_b, outsider, 1)
    run_tasks()
    assert UploadGate.get(west).paused
    client.force_login(superuser)
    listing = reverse("admin:uploads_memoriesaccount_changelist")
    said = client.post(
        listing, {"action": "test_connection", "_selected_action": [west.pk]}, follow=True
    )
    seen.append(said.content.decode())
    client.post(listing, {"action": "resume_sending", "_selected_action": [west.pk]})

    def sent():
        run_tasks()  # the wake-ups that are due (the next slot is up to a second away)
        return Submission.objects.get(pk=submission.pk).status == Status.PROCESSING

    assert wait_for(sent)
    urls = [
        listing,
        reverse("admin:uploads_memoriesaccount_change", args=[west.pk]),
        reverse("admin:uploads_uploadgate_changelist"),
        reverse("admin:uploads_team_change", args=[team_b.pk]),
        reverse("admin:uploads_submission_change", args=[submission.pk]),
        reverse("team_dashboard", args=[team_b.slug]),
        submission.get_absolute_url(),
        "/healthz/workers",  # each account's pause, and its reason
    ]
    for url in urls:
        response = client.get(url)
        # /healthz/workers: 503, no process beats here.
        assert response.status_code == (503 if url == "/healthz/workers" else 200), url
        seen.append(response.content.decode())
    for task in DBTaskResult.objects.all():
        seen += [repr(task.args_kwargs), repr(task.return_value), task.traceback]
    seen += [f"{e.message} {e.data!r}" for e in Event.objects.all()]
    seen.append(UploadGate.get(west).paused_reason)
    assert any("(0401)" in text for text in seen)  # the refusal was recorded and shown
    # Test connection ran in the background (the notifications queue), and its page says so.
    assert any("OK, checked at" in text and "…7Q4X" in text for text in seen)
    logs = [caplog.text]
    leaks = [text for text in seen + logs if WEST_KEY in text]
    assert not leaks, [text[max(text.index(WEST_KEY) - 200, 0) :][:300] for text in leaks]
