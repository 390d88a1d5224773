"""Never twice, never over the rate: with workers that race, stall, and read other clocks.

Real worker processes against the sandbox over real HTTP. Wake-ups are
enqueued by hand to run at one instant, so the workers really race for the
same slot and the same submission instead of taking turns.
"""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tests.conftest import open_gate, wait_for
from tests.factories import SubmissionFactory
from tests.faults import pausing
from uploads import periodic
from uploads.memories.sandbox import Sandbox
from uploads.models import Event, Status, Submission, UploadGate, database_now
from uploads.sending import sender as sending
from uploads.sending.queue import take_claim
from uploads.tasks import send_next_submission
from uploads.urlcheck import probe

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 1.0  # seconds a stalled worker's claim lasts in these tests


def queue_many(team, user, n):
    return [SubmissionFactory(team=team, submitter=user) for _ in range(n)]


def wake_all_at_once(n, delay=3.0):
    """n wake-ups due at one instant, a little after the workers are up: they race."""
    at = timezone.now() + timedelta(seconds=delay)
    for _ in range(n):
        send_next_submission.using(run_after=at).enqueue()


def settled():
    return not Submission.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).exists()


def workers_that_ran_tasks():
    return {w for ids in DBTaskResult.objects.values_list("worker_ids", flat=True) for w in ids}


def test_racing_workers_claim_and_send_each_submission_once(
    sandbox, settings, alice, team_a, start_worker
):
    # The gate opens every millisecond: only the claim keeps two workers off one submission.
    settings.MEMORIES_UPLOADS_PER_MINUTE = 60_000
    sandbox.uploads_per_interval = 10_000
    submissions = queue_many(team_a, alice, 30)
    wake_all_at_once(30)
    for _ in range(3):
        # Each worker waits a moment between choosing the next in line and
        # claiming it: racing workers choose the same one.
        start_worker(**pausing("send.before_claim", seconds=0.2))
    assert wait_for(settled, timeout=40)
    assert len(workers_that_ran_tasks()) >= 2  # they raced, not took turns
    for submission in submissions:
        # A send that memories.ai did not take (on a loaded machine, a timeout) goes back
        # to the queue and is claimed again; a second claim without a way back is the race.
        events = list(submission.events.order_by("id").values_list("kind", "to_status"))
        claims = sum(kind == Event.Kind.CLAIMED for kind, _ in events)
        returns = sum(kind != Event.Kind.CREATED and to == Status.QUEUED for kind, to in events)
        assert claims == 1 + returns, f"{submission.pk} claimed {claims} times: {events}"
    sent_urls = sorted(record.fields["url"][0] for record in sandbox.uploads)
    assert sent_urls == sorted(s.url for s in submissions)


def test_racing_workers_never_exceed_the_rate(sandbox, settings, alice, team_a, start_worker):
    # The gate allows 10 per second; the sandbox refuses an 11th within any second.
    settings.MEMORIES_UPLOADS_PER_MINUTE = 600
    sandbox.uploads_per_interval, sandbox.rate_interval = 11, 1.0
    submissions = queue_many(team_a, alice, 25)
    wake_all_at_once(30)
    for _ in range(3):
        start_worker()
    assert wait_for(settled, timeout=40)
    assert len(workers_that_ran_tasks()) >= 2
    assert sandbox.count("0429") == 0
    assert sandbox.max_accepted_in_window(1.0) <= 11
    assert sorted(r.fields["url"][0] for r in sandbox.accepted) == sorted(
        s.url for s in submissions
    )


def test_a_worker_with_a_fast_clock_takes_no_early_slot(
    sandbox, settings, alice, team_a, start_worker
):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 20  # one slot every 3.03 s
    sandbox.uploads_per_interval, sandbox.rate_interval = 1, 3.0
    queue_many(team_a, alice, 3)
    send_next_submission.enqueue()
    start_worker()
    assert wait_for(lambda: len(sandbox.accepted) == 1)
    # A worker whose clock runs 31 s fast would see the next slot as long open.
    start_worker(clock_skew=31)
    wake_all_at_once(6, delay=0)
    assert wait_for(lambda: len(sandbox.accepted) == 3, timeout=30)
    assert len(workers_that_ran_tasks()) == 2
    assert sandbox.count("0429") == 0
    assert sandbox.max_accepted_in_window(3.0) <= 1


def stalled_worker(start_worker, point, leases=3):
    """A worker that stalls (does not die) at the fault `point` for `leases` leases."""
    return start_worker(**pausing(point, seconds=LEASE * leases), SEND_LEASE_SECONDS=LEASE)


def recovered():
    return periodic.recover_abandoned_sends() == 1


def test_a_worker_stalled_past_its_lease_before_sending_sends_nothing(
    sandbox, alice, team_a, start_worker
):
    [submission] = queue_many(team_a, alice, 1)
    send_next_submission.enqueue()
    stalled_worker(start_worker, "send.before_request")
    assert wait_for(lambda: Submission.objects.get().status == Status.SENDING)
    assert wait_for(recovered, timeout=5)  # its lease ran out: back in the queue
    assert Submission.objects.get().status == Status.QUEUED
    start_worker()
    periodic.ensure_sender_awake()
    assert wait_for(lambda: len(sandbox.accepted) == 1)
    # The stalled worker wakes up, finds its claim gone, and stops.
    assert wait_for(
        lambda: DBTaskResult.objects.filter(return_value=f"claim lost {submission.pk}").exists()
    )
    assert len(sandbox.uploads) == 1
    # The other worker records memories.ai's answer a moment after the sandbox took it.
    assert wait_for(lambda: Submission.objects.get().status == Status.PROCESSING)
    submission.refresh_from_db()
    assert submission.claim == 2


def test_a_stalled_worker_that_finds_the_account_busy_and_its_claim_gone_just_stops(
    sandbox, settings, alice, team_a, start_worker
):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 12  # the account is busy 5 s after each upload
    [submission] = queue_many(team_a, alice, 1)
    send_next_submission.enqueue()
    stalled_worker(start_worker, "send.before_request", leases=6)
    assert wait_for(lambda: Submission.objects.get().status == Status.SENDING)
    assert wait_for(recovered, timeout=5)
    start_worker()
    periodic.ensure_sender_awake()
    assert wait_for(lambda: len(sandbox.accepted) == 1)
    # It wakes within the 5 s after that upload: the account is busy, and its claim is gone.
    assert wait_for(
        lambda: DBTaskResult.objects.filter(return_value=f"claim lost {submission.pk}").exists()
    )
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
    assert len(sandbox.uploads) == 1


def test_an_answer_after_the_lease_keeps_its_video_number_and_moves_on(
    sandbox, alice, team_a, start_worker
):
    [submission] = queue_many(team_a, alice, 1)
    send_next_submission.enqueue()
    stalled_worker(start_worker, "send.after_request")
    assert wait_for(lambda: len(sandbox.accepted) == 1)
    assert wait_for(recovered, timeout=5)  # the request had left: set aside for review
    assert Submission.objects.get().status == Status.NEEDS_REVIEW
    start_worker()
    periodic.ensure_sender_awake()
    assert wait_for(lambda: Submission.objects.get().status == Status.PROCESSING)
    submission.refresh_from_db()
    assert submission.video_no == sandbox.accepted[0].video_no
    assert submission.next_poll_at is not None
    late = submission.events.filter(kind=Event.Kind.ACCEPTED).get()
    assert "after the send's lease ran out" in late.message
    assert (late.from_status, late.to_status) == (Status.NEEDS_REVIEW, Status.PROCESSING)
    assert len(sandbox.uploads) == 1


def test_a_worker_that_took_its_slot_then_stalled_does_not_send_after_another(
    sandbox, settings, alice, team_a, start_worker
):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 60  # a slot a second
    sandbox.uploads_per_interval, sandbox.rate_interval = 1, 1.0
    first, second = queue_many(team_a, alice, 2)
    send_next_submission.enqueue()
    start_worker(**pausing("send.before_request", seconds=1.6))
    assert wait_for(lambda: Submission.objects.get(pk=first.pk).status == Status.SENDING)
    # Meanwhile another worker takes the next slot and sends the second.
    start_worker()
    wake_all_at_once(2, delay=0)
    assert wait_for(
        lambda: DBTaskResult.objects.filter(return_value=f"gate busy {first.pk}").exists()
    )
    assert wait_for(lambda: len(sandbox.accepted) == 2)
    assert sandbox.count("0429") == 0
    assert sandbox.max_accepted_in_window(1.0) <= 1
    assert [r.fields["url"][0] for r in sandbox.accepted] == [second.url, first.url]
    assert first.events.filter(
        kind=Event.Kind.RETRY, message__contains="Another upload was under way"
    ).exists()


def test_no_request_leaves_while_another_is_under_way(
    sandbox, settings, alice, team_a, start_worker
):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 120  # a slot every half second
    sandbox.set_fault("slow", times=1, seconds=1.5)  # judged at once, answered 1.5 s later
    queue_many(team_a, alice, 2)
    wake_all_at_once(4, delay=0)
    start_worker()
    start_worker()
    assert wait_for(lambda: len(sandbox.accepted) == 2, timeout=20)
    first, second = sorted(sandbox.accepted, key=lambda record: record.received_at)
    # The second left an interval after the first's answer, not after its departure.
    assert second.received_at - first.received_at >= 1.5 + 0.5


def test_a_worker_held_up_before_its_request_leaves_does_not_send_late(
    sandbox, settings, alice, team_a, start_worker
):
    settings.SEND_RETRY_BASE_SECONDS = 60  # no retry during the test
    [submission] = queue_many(team_a, alice, 1)
    send_next_submission.enqueue()
    # Lease 10 s, deadline 7 s: the request must leave within 1.5 s of its reservation.
    start_worker(**pausing("send.before_leaving", seconds=2), SEND_LEASE_SECONDS=10)
    assert wait_for(lambda: submission.events.filter(kind=Event.Kind.RETRY).exists(), timeout=20)
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    assert "could not leave in time" in submission.events.last().message
    assert len(sandbox.uploads) == 0


def test_a_trickling_answer_ends_at_the_deadline_as_an_unknown_outcome(
    sandbox, settings, alice, team_a
):
    settings.MEMORIES_CONNECT_TIMEOUT, settings.MEMORIES_READ_TIMEOUT = 0.5, 1.5
    settings.SEND_LEASE_SECONDS = 10
    assert sending.request_deadline() == 2.0
    sandbox.set_fault("trickle", times=1, seconds_per_byte=0.5)  # each read well in time
    [submission] = queue_many(team_a, alice, 1)
    sender = threading.Thread(target=sending.send_next, daemon=True)
    sender.start()
    sender.join(timeout=15)  # the whole answer would take over a minute
    assert not sender.is_alive()
    submission.refresh_from_db()
    assert submission.status == Status.NEEDS_REVIEW
    assert "did not finish answering within 2 s" in submission.error_message
    assert len(sandbox.uploads) == 1


def test_a_rate_limit_answer_never_opens_the_gate_sooner(sandbox, settings, alice, team_a):
    settings.MEMORIES_UPLOADS_PER_MINUTE = 1
    settings.SEND_RETRY_BASE_SECONDS = 30  # under the 60.6 s interval
    sandbox.set_fault("rate_limit", times=1)
    queue_many(team_a, alice, 1)
    open_gate()
    sending.send_next()
    wait = UploadGate.get().next_allowed_at - database_now()
    assert wait > UploadGate.interval() - timedelta(seconds=2)


def test_a_recheck_fails_only_a_submission_that_still_waits(
    sandbox, settings, alice, team_a, video_server, monkeypatch
):
    settings.URL_RECHECK_AFTER_SECONDS = 0
    submission = SubmissionFactory(
        team=team_a, submitter=alice, url=video_server.url + "/expiring.mp4"
    )
    real_recheck = probe.recheck_url

    def claimed_meanwhile(url, **options):
        take_claim(submission.pk, lease_seconds=60)  # another worker, mid-check
        return real_recheck(url, **options)

    monkeypatch.setattr(probe, "recheck_url", claimed_meanwhile)
    monkeypatch.setattr(video_server, "expired", True)
    sending.drop_dead_links()
    submission.refresh_from_db()
    assert submission.status == Status.SENDING
    assert not submission.events.filter(kind=Event.Kind.REFUSED).exists()


def test_a_team_set_back_by_a_rate_limit_keeps_its_turn(sandbox, alice, outsider, team_a, team_b):
    queue_many(team_a, alice, 2)
    [b_item] = queue_many(team_b, outsider, 1)
    open_gate()
    sending.send_next()  # A's turn
    sandbox.set_fault("rate_limit", times=1)
    open_gate()
    sending.send_next()  # B's turn, answered 0429
    b_item.refresh_from_db()
    assert b_item.status == Status.QUEUED
    open_gate()
    sending.send_next()  # still B's turn
    b_item.refresh_from_db()
    assert b_item.status == Status.PROCESSING


def test_a_callback_during_a_send_that_then_times_out_leaves_it_polled(
    settings, alice, team_a, live_server
):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SEND_HOLD_SECONDS = 0
    settings.MEMORIES_READ_TIMEOUT = 1.0
    with Sandbox(callback_delay=0.05, parse_delay=60) as sb:
        settings.MEMORIES_API_BASE_URL, settings.MEMORIES_API_KEY = sb.url, sb.api_key
        sb.set_fault("slow", times=1, seconds=3)  # the UNPARSE callback comes first
        [submission] = queue_many(team_a, alice, 1)
        sending.send_next()
        submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert submission.next_poll_at is not None
    assert submission.events.filter(
        kind=Event.Kind.NOTE, message__contains="lost its claim"
    ).exists()


def test_every_way_into_processing_is_polled(sent):
    submission, _ = sent
    Submission.objects.filter(pk=submission.pk).update(
        status=Status.NEEDS_REVIEW, next_poll_at=None
    )
    submission.refresh_from_db()
    assert submission.apply_api_status("UNPARSE", submission.video_no, source="callback")
    submission.refresh_from_db()
    assert submission.status == Status.PROCESSING
    assert submission.next_poll_at is not None
