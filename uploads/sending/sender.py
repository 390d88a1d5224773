"""Sending waiting submissions to memories.ai, one per upload slot of their account.

The queue's order and the upload rate gates (one per memories.ai account) live
in the portal's own tables; the task backend only carries wake-ups ("send the
next waiting submission", of whichever account's gate is open).
"""

import logging
import random
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest, Now
from django.urls import reverse
from django.utils import timezone

from .. import faults, locks, metrics
from ..memories import client as api
from ..models import (
    ClaimLost,
    Event,
    Lane,
    MemoriesAccount,
    Status,
    Submission,
    TransitionError,
    UploadGate,
    hash_token,
    new_callback_token,
)
from ..urlcheck import policy as url_policy
from ..urlcheck import probe
from ..urlcheck.findings import UrlCheck
from .accounts import (  # noqa: F401 (pages and tests read them here too)
    SendingNotConfigured,
    checked_configuration,
    get_client,
    lease_seconds,
    request_deadline,
    sending_problem,
    sending_problems,
)
from .polling import wait_for_list_slot
from .queue import next_in_line, take_claim

logger = logging.getLogger(__name__)


def test_connection(account):
    """Ask memories.ai for one video of the account (list_videos, never an upload): a
    sentence saying whether the address and key work. Waits for the account's list slot,
    like polling."""
    try:
        client = get_client(account)
    except SendingNotConfigured as exc:
        return False, str(exc)
    team = account.teams.order_by("pk").first()
    scope = team.unique_id if team else "default"
    wait_for_list_slot(account)
    try:
        videos = client.list_videos(scope, [], size=1)
    except api.MemoriesError as exc:
        code = f" ({exc.code})" if exc.code else ""
        return False, f"“{account}”: memories.ai answered{code}: {exc.message}"
    return True, (
        f"“{account}”: memories.ai answered with key {account.key_hint} "
        f"(scope “{scope}”: {len(videos)} video(s) on the first page of one)."
    )


def callback_url(token):
    return settings.PUBLIC_BASE_URL + reverse("memories_callback", args=[token])


def build_upload_request(submission, callback=""):
    return api.UploadRequest(
        url=submission.url,
        unique_id=submission.team.unique_id,
        callback=callback,
        datetime_taken=(
            timezone.localtime(submission.datetime_taken).strftime("%Y-%m-%d %H:%M:%S")
            if submission.datetime_taken
            else ""
        ),
        camera_model=submission.camera_model,
        # Fixed-point: str() writes a tiny Decimal as "1E-7", which memories.ai refuses.
        latitude="" if submission.latitude is None else format(submission.latitude, "f"),
        longitude="" if submission.longitude is None else format(submission.longitude, "f"),
        tags=list(submission.tags),
        retain_original_video=submission.retain_original_video,
        video_transcription_prompt=submission.video_transcription_prompt,
    )


def departure_window(deadline):
    """How long after its departure is reserved a request may still leave: a worker held up
    longer sends nothing (the lease outlasts the deadline by more than this)."""
    return min(2.0, (lease_seconds() - deadline) / 2)


def retry_delay(attempt):
    """Exponential backoff with jitter, for retry-safe failures."""
    base = settings.SEND_RETRY_BASE_SECONDS * (2 ** max(attempt - 1, 0))
    delay = min(base, settings.SEND_RETRY_MAX_SECONDS)
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))


def send_next(after_claim=None):
    """Send one waiting submission through the first account whose gate allows; say what
    happened.

    Each account has its own gate, so accounts send in parallel: one request at a
    time per worker, and `after_claim(when)` (the task's wake-up of another worker)
    is called once a send is claimed, before its request leaves, with when the next
    slot of any account opens: a slow or stalled request on one account never
    holds another's turn.

    Returns (outcome, run_again_at): when to wake up next, or None.
    """
    outcomes = []
    for account in accounts_with_work():
        outcome, sent = send_next_for(account, after_claim)
        outcomes.append((account, outcome))
        if sent:
            break
    if len(outcomes) == 1:
        return outcomes[0][1], next_wake_at()
    said = " / ".join(f"{account}: {outcome}" for account, outcome in outcomes)
    return said or "idle", next_wake_at()


def accounts_with_work():
    """The accounts whose teams have submissions waiting, with their gates: the one whose
    slot opens first first. Each carries `opens_in`, how long until its slot opens by the
    database's clock (None: it has no gate yet), read in this one query."""
    waiting = Lane.objects.filter(Q(waiting__gt=0) | Q(fronted__gt=0)).values("team__account_id")
    accounts = list(
        MemoriesAccount.objects.filter(pk__in=waiting)
        .select_related("gate")
        .annotate(opens=Greatest("gate__next_allowed_at", "gate__free_at"), db_now=Now())
        .order_by(F("opens").asc(nulls_first=True), "pk")
    )
    for account in accounts:
        account.opens_in = None if account.opens is None else account.opens - account.db_now
    return accounts


def next_wake_at():
    """When a sender should next wake up: the earliest moment an account with ready work
    may send (its next slot, or its earliest retry), or None when nothing waits."""
    moments = []
    for account in accounts_with_work():
        if account.opens_in is not None and account.gate.paused:
            continue
        if ready(account).exists():
            moments.append(timezone.now() + max(account.opens_in or timedelta(0), timedelta(0)))
        elif retry := Submission.objects.filter(team__account=account).next_retry_at():
            moments.append(retry)
    return min(moments, default=None)


def ready(account):
    return Submission.objects.ready_to_send().filter(team__account=account)


def send_next_for(account, after_claim=None):
    """Send the account's next waiting submission if its gate allows: (outcome, sent).

    `account` as accounts_with_work gives it (with its gate and `opens_in`).
    """
    try:
        client = get_client(account)
    except SendingNotConfigured as exc:
        UploadGate.pause(str(exc), account)
        return "not configured", False
    if UploadGate.of(account).paused:  # as read a moment ago; the slot's update checks again
        return "paused", False
    if not ready(account).exists():
        return "idle", False
    # Taken up to SEND_HOLD_SECONDS early: wake-ups come that much early (a
    # worker picks up a task only as often as it polls), and the claim and the
    # request are ready when the slot opens.
    early = timedelta(seconds=settings.SEND_HOLD_SECONDS)
    if getattr(account, "opens_in", None) is not None and account.opens_in > early:
        return "waiting for the gate", False  # as read a moment ago: no need to ask again
    drop_dead_links(account)
    if not ready(account).exists():
        return "idle", False
    taken, when = UploadGate.take_slot(account, early=early)
    if not taken:
        return "waiting for the gate", False
    submission = claim_next_in_line(account)
    if submission is None:
        return "idle", False
    woken = None
    if after_claim is not None:
        after_claim(next_wake_at())
        woken = lambda: after_claim(next_wake_at())  # noqa: E731
    outcome = send(submission, client, leaves_at=when, account=account, answered=woken)
    return f"{outcome} {submission.pk}", True


def claim_next_in_line(account=None):
    """Claim the account's next waiting submission in fair order for sending, or None."""
    account = account or MemoriesAccount.default()
    while (candidate := next_in_line(account)) is not None:
        faults.point("send.before_claim", candidate=candidate)
        submission = take_claim(candidate, lease_seconds())
        if submission is not None:
            return submission
        # Another worker took it first: look again.
    return None


def _depart(submission, claim, upload, token, deadline, leaves_at, account):
    """Reserve the account and start the claimed request, both or neither: (free, started).

    Waits for `leaves_at` (the slot it took); if the account is still busy then,
    waits for it a little longer (this host's clock and the database's differ
    by a query's time), never past SEND_HOLD_SECONDS.
    """
    give_up_at = (leaves_at or timezone.now()) + timedelta(seconds=settings.SEND_HOLD_SECONDS)
    if leaves_at is not None:
        wait_until(leaves_at)
    while True:
        free, started = _reserve_and_start(submission, claim, upload, token, deadline, account)
        if free:
            return free, started
        free_at = UploadGate.account_free_at(account)
        if free_at > give_up_at:
            return False, False
        wait_until(free_at)


@locks.retry_conflicts
def _reserve_and_start(submission, claim, upload, token, deadline, account):
    """The claim, and the account's turn to send, both still held: or neither is taken.
    The submission's row before the gate's (uploads/locks.py). Returns (free, started);
    a claim found lost counts as free (nothing waits for the account then)."""
    with transaction.atomic():
        started = submission.start_request(
            claim,
            unique_id=upload.unique_id,
            lease_seconds=lease_seconds(),
            token_hash=hash_token(token) if token else None,
        )
        locks.took("submission", submission.team_id, submission.pk)
        if not started:
            return True, False
        free = UploadGate.reserve_departure(deadline, account)
        locks.took("gate")
        if not free:
            transaction.set_rollback(True)
        return free, free


def wait_until(moment):
    """Sleep until `moment` (this host's clock); it is never more than SEND_HOLD_SECONDS away."""
    time.sleep(max((moment - timezone.now()).total_seconds(), 0))


def needs_recheck(submission, now):
    """Waited long enough since its URL was last checked that the link may have died."""
    if submission.confirm_public:
        return False  # the portal could not reach it in the first place
    check = UrlCheck.from_json(submission.url_check)
    last = check.last_checked_at if check else submission.created_at
    return (now - last).total_seconds() > settings.URL_RECHECK_AFTER_SECONDS


def drop_dead_links(account=None, limit=5):
    """Re-check the account's next in line if it waited long; fail it if its link died
    meanwhile.

    Done before an upload slot is taken, so a dead link costs no slot.
    """
    account = account or MemoriesAccount.default()
    for _ in range(limit):
        pk = next_in_line(account)
        if pk is None:
            return
        submission = Submission.objects.select_related("team").get(pk=pk)
        now = timezone.now()
        if not needs_recheck(submission, now):
            return
        try:
            probe.recheck_url(submission.url, **url_policy.probe_options(submission.team))
        except probe.ProbeError as exc:
            try:
                # Only while it still waits: another worker may have claimed
                # and sent it during the check.
                submission.transition(
                    Status.FAILED,
                    kind=Event.Kind.REFUSED,
                    message=f"The link stopped working while it waited: {exc.message}",
                    error_message=f"The link stopped working while it waited: {exc.message}",
                    data={"cause": "link_died"},
                    only_from={Status.QUEUED},
                )
            except TransitionError:
                return  # cancelled or claimed meanwhile
            continue
        check = UrlCheck.from_json(submission.url_check) or UrlCheck(
            checked_at=submission.created_at
        )
        Submission.objects.filter(pk=pk).update(url_check=check.rechecked(now).to_json())
        return


def send(submission, client, leaves_at=None, account=None, answered=None):
    """Send one claimed submission and record what came of it.

    `answered()`, if given, is called as soon as the answer is in (the account's next
    slot is then known), before the answer is recorded: another worker can prepare the
    account's next send meanwhile.

    Returns "sent", "claim lost" or "gate busy" (the last two sent nothing).

    Every step is conditional on the claim: a worker that stalled past its
    lease finds the claim gone and sends nothing, and an answer that comes
    after the lease ran out changes only what it may (see mark_accepted).
    """
    claim = submission.claim
    account = account or submission.team.account
    token = new_callback_token() if settings.PUBLIC_BASE_URL else ""
    upload = build_upload_request(submission, callback_url(token) if token else "")
    faults.point("send.before_request", submission=submission)
    deadline = request_deadline()
    free, started = _depart(submission, claim, upload, token, deadline, leaves_at, account)
    if not free:
        # Took its slot, then was held up while another request left: not now.
        try:
            _back_in_line(
                submission,
                claim,
                Event.Kind.RETRY,
                "Another upload was under way when this one was about to leave; "
                "it keeps its place.",
            )
        except ClaimLost:
            return "claim lost"  # held up past its lease too: recovery put it back
        return "gate busy"
    if not started:
        logger.warning(
            "submission=%s claim=%s lost before its request left; not sent", submission.pk, claim
        )
        return "claim lost"
    outcome = None
    try:
        # A worker held up between here and the request's leaving sends nothing late.
        leave_by = time.monotonic() + departure_window(deadline)
        faults.point("send.before_leaving", submission=submission)
        accepted = client.upload_url(upload, leave_by=leave_by)
    except api.MemoriesError as exc:
        outcome = exc
    finally:
        UploadGate.answered(account)
    if answered is not None:
        answered()
    metrics.upload_outcome(str(account), _outcome_label(outcome))
    faults.point("send.after_request", submission=submission)
    try:
        if outcome is None:
            UploadGate.reset_streak(account)
            submission.mark_accepted(
                video_no=accepted.video_no,
                api_status=accepted.video_status,
                message=f"Accepted as {accepted.video_no} in scope “{upload.unique_id}”.",
                claim=claim,
            )
        else:
            _settle(submission, claim, outcome, account)
    except ClaimLost:
        submission.record(
            Event.Kind.NOTE,
            f"The answer to attempt {submission.attempts} came after this send lost its claim "
            f"(its lease ran out, or a callback moved it on); it changed nothing: "
            f"{outcome.message}",
        )
    submission.refresh_from_db(fields=["status"])
    logger.info(
        "submission=%s team=%s status=%s", submission.pk, submission.team_id, submission.status
    )
    return "sent"


def _outcome_label(exc):
    """What came of an upload, as /metrics counts it (the order matters: subclasses first)."""
    if exc is None:
        return "accepted"
    for kind, label in [
        (api.RateLimited, "rate_limited"),
        (api.NotSent, "not_sent"),
        (api.InvalidRequest, "refused"),
        (api.AccountProblem, "refused"),
    ]:
        if isinstance(exc, kind):
            return label
    return "unknown"


def _settle(submission, claim, exc, account):
    """Record a send that memories.ai did not accept. ClaimLost if the send lost its claim."""
    if isinstance(exc, api.RateLimited):
        # Not the submission's fault: back to the head of its line, and the
        # account's gate waits longer each time memories.ai says it is busy.
        delay = retry_delay(UploadGate.get(account).rate_limited_streak + 1)
        UploadGate.push_back(delay, account)
        _back_in_line(
            submission,
            claim,
            Event.Kind.RETRY,
            f"memories.ai is busy ({exc.code}); trying again in {delay.total_seconds():.0f} s.",
        )
    elif isinstance(exc, api.NotSent):
        _retry_or_fail(submission, claim, exc)
    elif isinstance(exc, api.InvalidRequest):
        submission.transition(
            Status.FAILED,
            kind=Event.Kind.REFUSED,
            message=exc.message,
            error_code=exc.code,
            error_message=exc.message,
            data={"code": exc.code, "cause": "refused"},
            claim=claim,
        )
    elif isinstance(exc, api.AccountProblem):
        _account_refused(submission, claim, exc, account)
    else:
        submission.transition(
            Status.NEEDS_REVIEW,
            kind=Event.Kind.UNKNOWN,
            message=f"{exc.message} memories.ai may have taken it; it is not resent "
            "automatically. A callback will settle it, or an administrator decides.",
            error_message=exc.message,
            claim=claim,
        )


def _account_refused(submission, claim, exc, account):
    """Every other submission of the account would fail the same way: stop the account
    (its teams only; other accounts go on). A refused key gives way to the account's
    second key instead, if it has one (rotation without downtime)."""
    if is_key_refused(exc) and account.use_second_key():
        _back_in_line(
            submission,
            claim,
            Event.Kind.RETRY,
            f"memories.ai refused the account’s key ({exc.code}); the account now uses its "
            "second key. It keeps its place.",
            data={"code": exc.code},
        )
        return
    if isinstance(exc, api.Misconfigured):
        UploadGate.pause(f"Sending is paused: {exc.message}", account)
    else:
        UploadGate.pause(
            f"memories.ai refused the account “{account}” ({exc.code}): {exc.message}", account
        )
    _back_in_line(
        submission,
        claim,
        Event.Kind.REFUSED,
        f"Sending paused: {exc.message}{f' ({exc.code})' if exc.code else ''}. It keeps its place.",
        data={"code": exc.code},
    )


def is_key_refused(exc):
    return str(exc.code) in ("0401", "401")


def _back_in_line(submission, claim, kind, message, data=None):
    """Not sent, through no fault of its own: back to its place, the attempt not counted,
    and its team keeps its turn."""
    submission.transition(
        Status.QUEUED,
        kind=kind,
        message=message,
        attempts=F("attempts") - 1,
        data=data,
        claim=claim,
        give_back_turn=True,
    )


def _retry_or_fail(submission, claim, exc):
    if submission.attempts >= settings.SEND_MAX_ATTEMPTS:
        submission.transition(
            Status.FAILED,
            kind=Event.Kind.REFUSED,
            message=f"{exc.message} Gave up after {submission.attempts} attempts.",
            error_code=exc.code,
            error_message=exc.message,
            data={"cause": "gave_up"},
            claim=claim,
        )
        return
    delay = retry_delay(submission.attempts)
    submission.transition(
        Status.QUEUED,
        kind=Event.Kind.RETRY,
        message=f"{exc.message} Not taken; trying again in {int(delay.total_seconds())} s.",
        not_before=Now() + delay,
        claim=claim,
        give_back_turn=True,
    )
