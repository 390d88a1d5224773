"""Every write path takes its row locks in the one order of uploads/locks.py.

`locks.took` is called wherever a lock is taken (those the triggers take included, at
the status write), and reaches the fault point "lock"; a recorder installed there fails a
path that takes a row of an earlier kind (or of a lower team) after one of a later kind.
PostgreSQL's own view of the same orders, under threads that would deadlock otherwise:
tests/live/test_storm.py.
"""

import math
from datetime import timedelta

import pytest
from django.db.models.functions import Now

from tests.conftest import check_to_end, make_batch
from tests.factories import MembershipFactory, SubmissionFactory, bearer, submission_fields
from tests.faults import Aborted
from uploads import locks, services
from uploads.batches import service
from uploads.memories import client as api
from uploads.models import Batch, BatchRow, Event, Status, Submission
from uploads.sending import admission
from uploads.sending import sender as sending
from uploads.sending.queue import take_claim

# Quotas count by month, and "today" is a day: the clock is kept far from either end.
pytestmark = pytest.mark.usefixtures("mid_month", "commit_callbacks_at_once")


class Recorder:
    def __init__(self):
        self.taken = []

    def __call__(self, kind, team=None, key=None):
        self.taken.append((kind, team, key))

    def kinds(self):
        return [kind for kind, _, _ in self.taken]

    def check(self, *expected):
        """Fail if a row was locked after one of a later kind (or a later team); and unless
        each of `expected` kinds was taken (so that a path that records nothing fails)."""
        held, highest = set(), None
        for kind, team_id, key in self.taken:
            if (kind, team_id, key) in held:
                continue  # written again: held already
            position = (math.inf if team_id is None else team_id, locks.RANK[kind])
            assert highest is None or position >= highest, (
                f"{kind} of team {team_id} locked after {locks.ORDER[highest[1]]} of team "
                f"{highest[0]}: {self.kinds()}"
            )
            highest = position
            held.add((kind, team_id, key))
        assert set(expected) <= set(self.kinds()), self.kinds()


@pytest.fixture
def order(faults):
    return faults.at("lock", Recorder())


@pytest.fixture
def counted(team_a, alice):
    """A waiting submission that took a unit of its team's monthly quota."""
    team_a.monthly_quota = 10
    team_a.save()
    return services.submit(alice, fields(team_a))


def fields(team):
    return submission_fields(team, tags=["a"])


def test_the_recorder_fails_a_path_that_goes_back_to_an_earlier_kind(order):
    order("quota", 1, "m")
    order("lane", 1, (1, 2))
    with pytest.raises(AssertionError, match="lane of team 1 locked after quota"):
        order.check()


def test_submit_takes_the_lane_then_the_quota_then_the_tallies(order, team_a, alice):
    team_a.monthly_quota = 10
    team_a.save()
    services.submit(alice, fields(team_a))
    order.check("lane", "quota", "tally")
    assert order.kinds() == ["lane", "quota", "tally"]


@pytest.mark.parametrize("key", [None, "one"])
def test_an_api_create_counts_its_request_last(order, team_a, alice, client, clip_url, key):
    team_a.monthly_quota = 10
    team_a.save()
    headers = bearer(alice) | ({} if key is None else {"HTTP_IDEMPOTENCY_KEY": key})
    body = {"team": team_a.slug, "url": clip_url}
    made = client.post("/api/v1/submissions", body, content_type="application/json", **headers)
    assert made.status_code == 201, made.content
    order.check("lane", "quota", "tally", "token_minute")
    assert order.kinds() == ["lane", "quota", "tally", "token_minute"]


def test_cancel_gives_the_quota_back_after_the_lane(order, counted, alice):
    order.taken.clear()
    services.cancel(alice, counted)
    order.check("submission", "lane", "quota", "tally")
    assert admission.quota(counted.team).used == 0


def test_a_dead_link_failed_in_the_queue_gives_back_in_order(order, counted):
    order.taken.clear()
    counted.transition(Status.FAILED, kind=Event.Kind.REFUSED, only_from={Status.QUEUED})
    order.check("submission", "lane", "quota", "tally")


def test_the_claim_takes_the_team_before_the_status_write(order, counted):
    order.taken.clear()
    assert take_claim(counted.pk, 60) is not None
    order.check("submission", "team", "lane", "tally")


def test_recovery_takes_the_team_before_the_lane(order, counted):
    take_claim(counted.pk, 60)
    Submission.objects.filter(pk=counted.pk).update(lease_expires_at=Now() - timedelta(seconds=1))
    order.taken.clear()
    assert Submission.recover(counted.pk) == Status.QUEUED
    order.check("submission", "team", "lane", "tally")


@pytest.mark.parametrize(
    "fault",
    [api.RateLimited("0429", "busy"), api.NotSent("", "connection refused")],
    ids=["rate limited", "not sent"],
)
def test_a_setback_gives_the_turn_back_with_the_team_first(order, counted, fault, settings):
    settings.SEND_MAX_ATTEMPTS = 5
    claimed = take_claim(counted.pk, 60)
    order.taken.clear()
    sending._settle(claimed, claimed.claim, fault, claimed.team.account)
    order.check("submission", "team", "lane", "tally")
    counted.refresh_from_db()
    assert counted.status == Status.QUEUED


def test_the_departure_takes_the_claim_before_the_gate(order, counted, settings):
    claimed = take_claim(counted.pk, 60)
    order.taken.clear()
    upload = sending.build_upload_request(claimed)
    account = claimed.team.account
    assert sending._reserve_and_start(claimed, claimed.claim, upload, "", 5.0, account) == (
        True,
        True,
    )
    order.check("submission", "gate")


def test_a_callback_takes_the_submission_then_its_tallies(order, counted):
    Submission.objects.filter(pk=counted.pk).update(status=Status.PROCESSING, video_no="VI1")
    counted.refresh_from_db()
    order.taken.clear()
    assert counted.apply_api_status("PARSE", "VI1", source="poll") == "changed"
    order.check("submission", "tally")


def test_moving_to_the_front_goes_team_by_team(order, team_a, team_b, alice, manager):
    MembershipFactory(team=team_b, user=alice)
    # Ids interleaved across the two teams, the higher team's first.
    moved = [
        SubmissionFactory(team=team, submitter=alice) for team in (team_b, team_a, team_b, team_a)
    ]
    order.taken.clear()
    assert len(services.move_to_front(manager, moved)) == 4
    order.check("submission", "lane", "tally")


def test_the_admins_resend_takes_the_submission_then_its_lane(order, counted, superuser):
    Submission.objects.filter(pk=counted.pk).update(status=Status.FAILED)
    counted.refresh_from_db()
    order.taken.clear()
    services.resend(superuser, counted)
    order.check("submission", "lane", "tally")


def batch_of(client, user, team, clip_url, n):
    return check_to_end(
        make_batch(client, user, team, urls="\n".join(f"{clip_url}?{i}" for i in range(n)))
    )


def test_a_batchs_confirm_and_release_and_cancel_keep_the_order(
    order, client, alice, team_a, clip_url, settings
):
    settings.MAX_WAITING_PER_PERSON = 1
    batch = batch_of(client, alice, team_a, clip_url, 2)
    order.taken.clear()
    assert service.confirm(batch, alice)["held"] == 1
    order.check("lane", "quota", "tally")
    first = batch.submissions.get()
    services.cancel(alice, first)
    order.taken.clear()
    assert admission.release_held() == 1
    order.check("lane", "quota", "batch_row", "tally")
    service.request_cancel(batch, alice)
    order.taken.clear()
    assert service.cancel_waiting(batch.pk) == 1
    order.check("submission", "lane", "quota", "tally")


def test_the_claim_cancels_what_a_cancelling_batch_left_waiting(
    order, client, alice, team_a, clip_url
):
    batch = batch_of(client, alice, team_a, clip_url, 2)
    service.confirm(batch, alice)
    Batch.objects.filter(pk=batch.pk).update(cancel_requested_at=Now(), cancel_requested_by=alice)
    order.taken.clear()
    waiting = batch.submissions.order_by("pk").first()
    assert take_claim(waiting.pk, 60) is None
    order.check("submission", "lane", "quota", "tally")
    waiting.refresh_from_db()
    assert waiting.status == Status.CANCELLED
    assert waiting.events.last().actor == alice
    assert batch.rows.filter(state=BatchRow.State.QUEUED).count() == 2


def test_drift_names_every_count_that_differs_from_the_truth(counted, alice):
    from uploads import counters
    from uploads.models import Lane, QuotaMonth, Tag, Tally

    assert counters.drift() == []
    Lane.objects.update(waiting=5)
    Tally.objects.filter(status=Status.QUEUED).update(n=-1)
    Tag.objects.all().delete()
    QuotaMonth.objects.update(used=7)
    found = counters.drift()
    assert [line.split(" ")[0] for line in found] == ["lane", "tallies", "the", "quota"], found


def failing(times, sqlstate):
    from django.db import OperationalError

    calls = []

    @locks.retry_conflicts
    def work():
        calls.append(1)
        if len(calls) <= times:
            raise OperationalError("deadlock detected") from Aborted(sqlstate)
        return "done"

    return work, calls


@pytest.mark.django_db(transaction=True)
def test_a_transaction_aborted_by_a_deadlock_is_run_again_and_counted():
    from django.db import OperationalError

    before = locks.retries()
    work, calls = failing(2, "40P01")
    assert work() == "done" and len(calls) == 3
    assert locks.retries() == before + 2
    work, calls = failing(9, "40001")  # serialization: bounded
    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 1 + locks.CONFLICT_RETRIES
    work, calls = failing(1, "08006")  # a lost connection is not a conflict
    with pytest.raises(OperationalError):
        work()
    assert len(calls) == 1


def test_inside_a_callers_transaction_nothing_is_run_again(db):
    from django.db import OperationalError

    work, calls = failing(1, "40P01")
    with pytest.raises(OperationalError):
        work()  # the test's own transaction is open
    assert len(calls) == 1
