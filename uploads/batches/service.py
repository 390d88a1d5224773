"""What people do with a batch: make one, see how far it got, queue it, cancel what waits."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, F, OuterRef, Q
from django.db.models.functions import Now

from .. import faults, locks, services
from ..models import (
    FINAL_STATUSES,
    Batch,
    BatchRow,
    Event,
    Membership,
    Status,
    Submission,
    Team,
    TransitionError,
)
from ..selectors import teams_of
from ..sending import admission
from ..wake import start_batch_cancel, start_batch_check

State = BatchRow.State
# Rows looked up and written at a time when queueing.
CHUNK = 500


class NotConfirmable(Exception):
    """The batch is still being checked, or was queued already."""


def create(user, *, rows, source, shared, confirm_when_checked=False, last_write=None, **choices):
    """A batch of `rows` ((line, {field: text}) from reading.read_*), each with the `shared`
    values where it has none of its own; its check starts in the background.

    `confirm_when_checked`: its ready rows are queued as soon as the check ends, with
    the `choices` of `confirm` (confirm_public, send_again). `last_write` is called at the
    end of its transaction (the API counts its request there: uploads/api/throttling.py)."""
    with transaction.atomic():
        batch = Batch.objects.create(
            created_by=user,
            source=source.replace("\x00", "")[:255],
            shared=shared,
            row_count=len(rows),
            progress_at=Now(),
            confirm_when_checked=confirm_when_checked,
            **choices,
        )
        BatchRow.objects.bulk_create(
            (BatchRow(batch=batch, line=line, given={**shared, **own}) for line, own in rows),
            batch_size=1000,
        )
        transaction.on_commit(lambda: start_batch_check(batch.pk))
        if last_write is not None:
            last_write()
    return batch


def row_counts(batch):
    """{state: rows}, plus "checked" (all but those still to check) and "duplicates" (rows
    whose URL the team already has: skipped unless sent again)."""
    found = dict(
        batch.rows.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )
    counts = {state: found.get(state, 0) for state in State.values}
    counts["checked"] = batch.row_count - counts[State.NEW] - counts[State.VALID]
    counts["duplicates"] = batch.rows.filter(
        earlier__isnull=False, state__in=[State.READY, State.UNREACHABLE]
    ).count()
    counts["ready_new"] = (
        counts[State.READY] - batch.rows.filter(earlier__isnull=False, state=State.READY).count()
    )
    return counts


def would_queue(counts):
    """How many rows `confirm` would queue (or hold), for each way its two boxes are ticked:
    {"none": neither, "public": confirm_public, "again": send_again, "both": both}."""
    ready_again = counts[State.READY] - counts["ready_new"]
    unreachable_again = counts["duplicates"] - ready_again
    unreachable_new = counts[State.UNREACHABLE] - unreachable_again
    base = counts["ready_new"]
    return {
        "none": base,
        "public": base + unreachable_new,
        "again": base + ready_again,
        "both": base + unreachable_new + ready_again + unreachable_again,
    }


def submission_counts(batch):
    """{status: submissions} of a queued batch, plus "final" and "total"."""
    found = dict(
        batch.submissions.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    counts = {status: found.get(status, 0) for status in Status.values}
    counts["total"] = sum(found.values())
    counts["final"] = sum(counts[status] for status in FINAL_STATUSES)
    return counts


@locks.retry_conflicts
def confirm(batch, user, *, confirm_public=False, send_again=False):
    """Queue the batch's ready rows: with `confirm_public` those that could not be reached
    too (recorded on each), with `send_again` those whose URL the team already has.

    Only once, and only when every row is checked (NotConfirmable otherwise). Duplicates
    are looked for again: another batch or the form may have queued the same URL since
    the check. What is beyond the person's cap or the team's monthly quota is held
    (admission.admit, in this transaction), to be queued as room frees (HeldRows).
    Returns {"queued": n, "held": n, "duplicates": skipped, "not_in_team": skipped}.
    """
    counts = {"queued": 0, "held": 0, "duplicates": 0, "not_in_team": 0}
    with transaction.atomic():
        taken = Batch.objects.filter(pk=batch.pk, state=Batch.State.CHECKED).update(
            state=Batch.State.QUEUED,
            confirmed_at=Now(),
            confirm_public=confirm_public,
            send_again=send_again,
        )
        if not taken:
            raise NotConfirmable
        states = [State.READY, State.UNREACHABLE] if confirm_public else [State.READY]
        if confirm_public:
            batch.rows.filter(state=State.UNREACHABLE).update(confirm_public=True)
        teams = {team.pk for team in teams_of(user)}
        rows = batch.rows.filter(state__in=states).order_by("line")
        last_line = 0
        while chunk := list(rows.filter(line__gt=last_line)[:CHUNK]):
            last_line = chunk[-1].line
            queue = _to_queue(chunk, teams, send_again, counts)
            for team_id in sorted({row.team_id for row in queue}):
                of_team = [row for row in queue if row.team_id == team_id]
                team = Team.objects.get(pk=team_id)
                counts["queued"] += _admit_rows(user, batch, team, of_team)
            counts["held"] += len(queue)
        counts["held"] -= counts["queued"]
        Batch.objects.filter(pk=batch.pk).update(queued_count=counts["queued"])
    return counts


def confirm_if_asked(batch_id):
    """Queue a checked batch's ready rows if it was made with "confirm when checked";
    the counts of `confirm`, or None."""
    batch = Batch.objects.select_related("created_by").get(pk=batch_id)
    if not batch.confirm_when_checked:
        return None
    try:
        return confirm(
            batch,
            batch.created_by,
            confirm_public=batch.confirm_public,
            send_again=batch.send_again,
        )
    except NotConfirmable:
        return None  # queued already


def _admit_rows(user, batch, team, rows):
    """Queue the rows (one team's, in order) that fit under the cap and quota, hold the rest;
    returns how many were queued."""
    granted, month = admission.admit(team, user, len(rows), partial=True)
    queued, held = rows[:granted], rows[granted:]
    if queued:
        services.submit_rows(user, batch, queued, counted_in=month)
        BatchRow.objects.filter(pk__in=[row.pk for row in queued]).update(state=State.QUEUED)
    if held:
        BatchRow.objects.filter(pk__in=[row.pk for row in held]).update(state=State.HELD)
    return granted


class HeldRows:
    """Batches' held rows, for admission.release_held: oldest first (by batch, then line).

    Only those of people still active members of the row's team (an active team): the
    rows of someone who left stay held, as the form would refuse them."""

    def held(self):
        member = Membership.objects.filter(
            team=OuterRef("team_id"), user=OuterRef("batch__created_by_id")
        )
        return list(
            BatchRow.objects.filter(
                Exists(member),
                state=State.HELD,
                team__is_active=True,
                batch__created_by__is_active=True,
            )
            .order_by()
            .values_list("team_id", "batch__created_by_id")
            .annotate(n=Count("id"))
            .values_list("team_id", "batch__created_by_id", "n")
        )

    def release(self, team, person_id, n, counted_in):
        rows = list(
            BatchRow.objects.select_for_update(of=("self",))
            .filter(state=State.HELD, team=team, batch__created_by_id=person_id)
            .select_related("batch__created_by")
            .order_by("batch_id", "line")[:n]
        )
        locks.took("batch_row", team.pk, person_id)
        for batch_id in sorted({row.batch_id for row in rows}):
            of_batch = [row for row in rows if row.batch_id == batch_id]
            batch = of_batch[0].batch
            services.submit_rows(batch.created_by, batch, of_batch, counted_in=counted_in)
            BatchRow.objects.filter(pk__in=[row.pk for row in of_batch]).update(state=State.QUEUED)
            Batch.objects.filter(pk=batch_id).update(queued_count=F("queued_count") + len(of_batch))
        return len(rows)


held_rows = admission.holds_work(HeldRows())


def held_summary(batch):
    """[(team, held rows, room now, the team's quota)] for the batch's held rows, by team."""
    found = (
        batch.rows.filter(state=State.HELD)
        .order_by()
        .values_list("team_id")
        .annotate(n=Count("id"))
        .values_list("team_id", "n")
    )
    counts = dict(found)
    if not counts:
        return []
    teams = Team.objects.filter(pk__in=counts).order_by("name")
    return [
        (team, counts[team.pk], admission.room(team, batch.created_by), admission.quota(team))
        for team in teams
    ]


def _to_queue(chunk, teams, send_again, counts):
    """The rows of a chunk to queue, counting those left out."""
    earlier = {}
    for team_id in {row.team_id for row in chunk}:
        keys = [row.url_key for row in chunk if row.team_id == team_id]
        for key, submission in Submission.objects.earlier_of(team_id, keys).items():
            earlier[team_id, key] = submission
    queue = []
    for row in chunk:
        if row.team_id not in teams:
            counts["not_in_team"] += 1  # left the team (or it was closed) since
            continue
        found = earlier.get((row.team_id, row.url_key))
        if found is not None and not send_again:
            counts["duplicates"] += 1
            if row.earlier_id is None:
                BatchRow.objects.filter(pk=row.pk).update(earlier=found)
            continue
        queue.append(row)
    return queue


def request_cancel(batch, user):
    """Cancel the batch's waiting submissions, in the background (there may be thousands),
    and leave out its held rows; False when it is not queued or has none of either."""
    waiting = batch.submissions.filter(status=Status.QUEUED)
    if batch.state != Batch.State.QUEUED:
        return False
    # Held rows are left out at once: nothing of them was queued.
    dropped = batch.rows.filter(state=State.HELD).update(state=State.READY)
    if not waiting.exists():
        return bool(dropped)
    Batch.objects.filter(pk=batch.pk).update(
        cancel_requested_at=Now(),
        cancel_requested_by=user,
        cancel_finished_at=None,
        progress_at=Now(),
    )
    transaction.on_commit(lambda: start_batch_cancel(batch.pk))
    return True


# Cancelled between two notes of progress: a cancel whose worker died is started again
# once its progress is older than BATCH_CHECK_STALLED_SECONDS (resume_stalled_cancels).
PROGRESS_EVERY = 100


def cancel_waiting(batch_id):
    """Cancel each waiting submission of the batch through Submission.transition, as a person
    cancels one; those that moved on meanwhile are left as they are. Returns how many.

    Safe to run again, or twice at once: a cancel whose worker died is finished by the
    next run (resume_stalled_cancels), and until then the sender cancels, rather than
    sends, what it claims of the batch (Submission.take_claim)."""
    batch = Batch.objects.select_related("cancel_requested_by").get(pk=batch_id)
    cancelled = 0
    waiting = batch.submissions.filter(status=Status.QUEUED).only("pk").order_by("pk")
    for submission in waiting.iterator(chunk_size=CHUNK):
        try:
            submission.transition(
                Status.CANCELLED,
                kind=Event.Kind.CANCELLED,
                message=f"Cancelled with the rest of batch #{batch.pk}.",
                actor=batch.cancel_requested_by,
                only_from={Status.QUEUED},
            )
        except TransitionError:
            continue  # claimed for sending meanwhile
        cancelled += 1
        if cancelled % PROGRESS_EVERY == 0:
            Batch.objects.filter(pk=batch.pk).update(progress_at=Now())
            faults.point("batch.cancelling", batch=batch, cancelled=cancelled)
    Batch.objects.filter(pk=batch.pk).update(cancel_finished_at=Now(), progress_at=Now())
    return cancelled


def restart_stalled(batches, start):
    """Start again, with `start(batch_id)`, the background work of each of `batches` that has
    not moved on for BATCH_CHECK_STALLED_SECONDS: the worker running it died (its task stays
    "running" for ever). A run already waiting is not doubled, and what was done stays done.
    A periodic step; returns how many were started again."""
    stalled = batches.filter(
        progress_at__lt=Now() - timedelta(seconds=settings.BATCH_CHECK_STALLED_SECONDS)
    )
    restarted = 0
    for batch_id in stalled.values_list("pk", flat=True):
        # Counted as progress, so that the next pass leaves it the time to start.
        Batch.objects.filter(pk=batch_id).update(progress_at=Now())
        start(batch_id)
        restarted += 1
    return restarted


def resume_stalled_cancels():
    """Cancels of a batch's waiting submissions whose worker died, queued again."""
    unfinished = Batch.objects.filter(
        cancel_requested_at__isnull=False, cancel_finished_at__isnull=True
    )
    return restart_stalled(unfinished, start_batch_cancel)


def rows_to_fix(batch):
    """The refused rows and those not reached, as given (dicts by column) with their problem:
    the CSV a person fixes and uploads again."""
    rows = batch.rows.filter(state__in=[State.REFUSED, State.UNREACHABLE]).order_by("line")
    for given, problem in rows.values_list("given", "problem").iterator(chunk_size=2000):
        yield {**given, "problem": problem}


def shown_rows(batch, show):
    """The rows a filter of the batch's page shows (SHOW)."""
    return batch.rows.filter(SHOW[show][1]).select_related("team", "submission")


# The batch page's row filters: name -> (label, condition).
SHOW = {
    "all": ("All", Q()),
    "refused": ("Refused", Q(state=State.REFUSED)),
    "unreachable": ("Not reached", Q(state=State.UNREACHABLE)),
    "duplicates": ("Already submitted", Q(earlier__isnull=False) & ~Q(state=State.REPEATED)),
    "repeated": ("Repeated", Q(state=State.REPEATED)),
    "ready": ("Ready", Q(state=State.READY)),
    "queued": ("Queued", Q(state=State.QUEUED)),
}
