"""Submissions and their state machine.

Every change of a submission's status goes through one method here (`_write_move`),
inside a transaction, refusing a move from the wrong state and writing one event.
Who else hears of the change (the notifications' outbox) subscribes to
`signals.status_changed` from AppConfig.ready, and writes in the same transaction.
"""

import time
from datetime import timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Min, Q
from django.db.models.functions import Greatest, Now
from django.urls import reverse
from django.utils import timezone

from .. import locks
from . import signals
from .counters import Lane, QuotaMonth
from .events import Event
from .queries import SecondsBetween, database_now, local_time, lock_lane, lock_lanes, lock_team
from .statuses import (
    ALLOWED_MOVES,
    API_STATUS_TO_STATUS,
    FINAL_STATUSES,
    NOT_A_DUPLICATE_STATUSES,
    UNSENT_ENDS,
    CallbackLimitReached,
    ClaimLost,
    Status,
    TransitionError,
)
from .teams import Membership, Team
from .video_requests import VideoRequest


class SubmissionQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.is_superuser:
            return self
        # By the ids of one's teams (one small query), not a join: with one team, the
        # database reads the team's rows in the list's order from an index and stops at
        # the end of the page, however long the team's history.
        team_ids = Membership.objects.filter(user=user).values_list("team_id", flat=True)
        return self.filter(team_id__in=list(team_ids))

    def ready_to_send(self):
        return self.filter(status=Status.QUEUED).filter(
            Q(not_before__isnull=True) | Q(not_before__lte=Now())
        )

    def earlier_of(self, team_id, keys):
        """{url key: the latest submission} of these keys already submitted to the team that
        count as duplicates (NOT_A_DUPLICATE_STATUSES do not). One query on the team's index."""
        found = {}
        earlier = (
            self.filter(team_id=team_id, url_key__in=list(keys))
            .exclude(status__in=NOT_A_DUPLICATE_STATUSES)
            .only("id", "url_key", "status", "created_at")
            .order_by("created_at", "id")
        )
        for submission in earlier:
            found[submission.url_key] = submission
        return found

    def next_retry_at(self):
        """When (on this host's clock) the earliest one waiting out a backoff becomes ready."""
        at = self.filter(status=Status.QUEUED, not_before__gt=Now()).aggregate(
            at=Min("not_before")
        )["at"]
        return local_time(at)


class Submission(VideoRequest):
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="submissions")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions"
    )
    # Where it stands.
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    api_status = models.CharField("memories.ai status", max_length=16, blank=True)
    video_no = models.CharField("video number", max_length=64, blank=True, db_index=True)
    unique_id = models.CharField(
        "sent to scope", max_length=128, blank=True, help_text="The scope it was sent to."
    )
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    # The claim number: one more at every claim. Each step of a send is
    # conditional on it, so a worker whose claim was taken away changes nothing.
    claim = models.PositiveIntegerField("claim number", default=0, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The team's turn before this claim took it, given back after a setback.
    team_turn_before = models.DateTimeField(null=True, blank=True, editable=False)
    # The submitter's turn in the team (Lane.last_turn) before this claim took it.
    lane_turn_before = models.BigIntegerField(null=True, blank=True, editable=False)
    # When a manager moved it to the front of its team's line (ahead of the people's turns).
    fronted_at = models.DateTimeField("moved to the front", null=True, blank=True, editable=False)
    # The month (its first day, in the portal's time zone) whose quota it counts in;
    # cleared when it is given back.
    counted_in = models.DateField(null=True, blank=True, editable=False)
    callback_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    # Callbacks counted in the current hour (hours since the epoch), for the
    # per-token abuse limit: kept in the row so counting costs one UPDATE.
    callback_hour = models.PositiveIntegerField(default=0, editable=False)
    callback_calls = models.PositiveIntegerField(default=0, editable=False)
    # When a waiting submission may be tried again (after a retry-safe failure).
    not_before = models.DateTimeField(null=True, blank=True)
    # Set when a worker claims it; a submission left "sending" past it is recovered.
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    request_started_at = models.DateTimeField(null=True, blank=True)
    # When to ask memories.ai for the status again (for when callbacks never come).
    next_poll_at = models.DateTimeField(null=True, blank=True, db_index=True)
    # When list_videos last returned this video: polling gives up on one it stopped listing.
    listed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Set when it came from a "Submit many" batch (its row holds the line it came from).
    batch = models.ForeignKey(
        "Batch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="submissions",
        db_index=False,  # the (batch, status) index below serves it
    )
    batch_row = models.OneToOneField(
        "BatchRow", on_delete=models.PROTECT, null=True, blank=True, related_name="submission"
    )

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["submitter", "created_at"]),
            # The dashboards' aggregates (counts by status, the median time to
            # PARSE, the per-member breakdown) read only these indexes, never the
            # table: their cost stays small however many submissions a team has.
            # The first also gives a team's list by status in the list's own order
            # (created_at, id: a page is read in order and the scan stops), and
            # serves the queue (a team's waiting ones, oldest first).
            models.Index(
                fields=["team", "status", "created_at", "id", "finished_at", "submitter"],
                name="sub_team_status_covering",
            ),
            models.Index(
                fields=["submitter", "team", "status", "created_at", "finished_at"],
                name="sub_submitter_covering",
            ),
            # A team's submissions by day (the chart), and a team's list in its order.
            models.Index(
                fields=["team", "created_at", "id", "status"], name="sub_team_created_status"
            ),
            # Duplicate warnings: has this team this URL already, and how did it end?
            models.Index(fields=["team", "url_key", "status"], name="sub_team_url_key"),
            # A batch's counts by status, and its waiting ones to cancel.
            models.Index(fields=["batch", "status"], name="sub_batch_status"),
            # The median time to Done, for a team and for a person: the durations are
            # read in order from these indexes (of the expression), never sorted; with
            # the two times in them, the rows themselves are never read.
            models.Index(
                "team",
                "status",
                SecondsBetween("created_at", "finished_at"),
                "created_at",
                "finished_at",
                name="sub_team_duration",
            ),  # fmt: skip
            models.Index(
                "submitter",
                "team",
                "status",
                SecondsBetween("created_at", "finished_at"),
                "created_at",
                "finished_at",
                name="sub_submitter_duration",
            ),  # fmt: skip
            # Each person's waiting ones in a team, oldest first (their own line), and
            # those moved to a team's front, in the order they were moved.
            models.Index(
                fields=["team", "submitter", "created_at", "id"],
                condition=Q(status="queued", fronted_at__isnull=True),
                name="sub_waiting_lane",
            ),
            models.Index(
                fields=["team", "fronted_at", "created_at", "id"],
                condition=Q(status="queued", fronted_at__isnull=False),
                name="sub_waiting_front",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.url[:60]}"

    def get_absolute_url(self):
        return reverse("submission_detail", args=[self.pk])

    @property
    def is_web_url(self):
        """An http(s) link, shown as a link and previewed (never another scheme)."""
        return self.url.lower().startswith(("http://", "https://"))

    @property
    def is_final(self):
        return self.status in FINAL_STATUSES

    # --- the one way to change status --------------------------------------
    #
    # Every status write goes through `_write_move` with the row locked: the
    # claim, a send's outcome, a callback, a poll, recovery, cancelling and the
    # admin's actions. It checks ALLOWED_MOVES, sets what the new status needs
    # and writes one event. Times that decide what happens next (leases, poll
    # times, retry times) come from the database's clock, never from the clock
    # of whichever host runs the code.

    @locks.retry_conflicts
    def transition(
        self,
        to,
        *,
        kind,
        message="",
        actor=None,
        data=None,
        claim=None,
        only_from=None,
        give_back_turn=False,
        **fields,
    ):
        """Move to `to`, refusing moves the status model does not allow.

        `claim`: the move is a step of the send that holds this claim number;
        ClaimLost if the send no longer holds it (recovered, settled, claimed
        again). `only_from`: refuse unless the current status is one of these.
        `give_back_turn`: a setback that was not the team's doing (give_back_turn).
        Locks the row and decides on what it finds there. Returns the event.
        """
        with transaction.atomic():
            current = Submission.objects.select_for_update(no_key=True).get(pk=self.pk)
            locks.took("submission", current.team_id, current.pk)
            if claim is not None and not current.holds(claim):
                raise ClaimLost(f"Submission {self.pk}: claim {claim} is no longer held.")
            if only_from is not None and current.status not in only_from:
                raise TransitionError(
                    f"Submission {self.pk} is {current.get_status_display()}, not "
                    + " or ".join(Status(s).label for s in only_from)
                    + "."
                )
            if give_back_turn:
                # The team before the status write, which takes the lane (uploads/locks.py).
                lock_team(current.team_id)
            event = current._write_move(
                to, kind=kind, message=message, actor=actor, data=data, **fields
            )
            if give_back_turn:
                current.give_back_turn()
        self.refresh_from_db()
        return event

    def holds(self, claim):
        """True while the send with this claim number is still the one under way."""
        return self.status == Status.SENDING and self.claim == claim

    def _write_move(self, to, *, kind, message="", actor=None, data=None, **fields):
        """Write a move of this (locked, freshly read) row and its event. The one writer."""
        if to not in ALLOWED_MOVES[self.status]:
            raise TransitionError(
                f"Submission {self.pk}: {self.get_status_display()} → "
                f"{Status(to).label} is not allowed."
            )
        changes = {**self._needs(to), "status": to, "updated_at": Now(), **fields}
        if self.status == Status.QUEUED and to in UNSENT_ENDS and self.counted_in:
            # It never left: its unit of the team's monthly quota comes back. The lane
            # first, then the quota row (uploads/locks.py), as admission takes them: the
            # status write below would take the lane only after the quota row.
            lock_lane(self.team_id, self.submitter_id)
            changes["counted_in"] = None
            QuotaMonth.objects.filter(team_id=self.team_id, month=self.counted_in).update(
                used=F("used") - 1
            )
            locks.took("quota", self.team_id, self.counted_in)
        Submission.objects.filter(pk=self.pk).update(**changes)
        self._took_by_triggers(to)
        # Who is told of it, written in this same transaction (after the row's own write,
        # so a batch sees this row in its new status): the receivers connected in
        # AppConfig.ready (the notifications' outbox).
        signals.status_changed.send(Submission, submission=self, to=to, message=message)
        return self.events.create(
            kind=kind,
            from_status=self.status,
            to_status=to,
            message=message,
            actor=actor,
            data=data or {},
        )

    def _took_by_triggers(self, to):
        """The locks a status write takes through the triggers (uploads/counters.py)."""
        if Status.QUEUED in (self.status, to):
            locks.took("lane", self.team_id, (self.team_id, self.submitter_id))
        locks.took("tally", self.team_id, (self.team_id, self.submitter_id))

    def _needs(self, to):
        """What a status needs besides itself, in database-clock times."""
        needs = {}
        if to != Status.SENDING:
            needs["lease_expires_at"] = None
        if to == Status.QUEUED:
            needs["request_started_at"] = None
        if to == Status.PROCESSING:
            # Every way into processing is polled until final: callbacks may never come.
            needs["next_poll_at"] = Now() + timedelta(seconds=settings.POLL_MIN_INTERVAL_SECONDS)
        elif to in FINAL_STATUSES:
            needs["next_poll_at"] = None
        needs["finished_at"] = Now() if to in FINAL_STATUSES else None
        return needs

    def record(self, kind, message="", *, actor=None, data=None):
        """An event that changes no status."""
        return self.events.create(
            kind=kind,
            from_status=self.status,
            to_status=self.status,
            message=message,
            actor=actor,
            data=data or {},
        )

    # --- the worker's side ---------------------------------------------------

    def give_back_turn(self):
        """A setback that was not the team's doing: its turn in the round-robin comes back,
        and the submitter's turn within the team.

        Only if no other send of the team was claimed since (that one used a turn of its own).
        """
        given_back = Team.objects.filter(pk=self.team_id, last_sent_at=self.claimed_at).update(
            last_sent_at=self.team_turn_before
        )
        locks.took("team", self.team_id, self.team_id)
        if given_back and self.fronted_at is None:
            Lane.objects.filter(team_id=self.team_id, submitter_id=self.submitter_id).update(
                last_turn=self.lane_turn_before
            )
            locks.took("lane", self.team_id, (self.team_id, self.submitter_id))

    @classmethod
    @locks.retry_conflicts
    def move_to_front(cls, pks, *, actor):
        """Move these waiting submissions to the front of their team's line; returns them.

        Ahead of the people's turns, behind what was moved before (in the order
        they were moved; those moved together in their own order). Each gets an
        event on its timeline. Ones no longer waiting, or already at the front,
        are left as they are.
        """
        pks = list(pks)
        moved = []
        with transaction.atomic():
            now = database_now()
            teams = cls.objects.filter(pk__in=pks).order_by("team_id").values_list("team_id")
            # Team by team, each team's submissions and then their lanes (uploads/locks.py).
            for team_id in sorted({team_id for (team_id,) in teams.distinct()}):
                moved += cls._move_team_to_front(team_id, pks, now, actor)
        moved.sort(key=lambda s: (s.created_at, s.pk))
        return moved

    @classmethod
    def _move_team_to_front(cls, team_id, pks, now, actor):
        moved = list(
            cls.objects.select_for_update(no_key=True)
            .filter(pk__in=pks, team_id=team_id, status=Status.QUEUED, fronted_at__isnull=True)
            .order_by("pk")
        )
        for submission in moved:
            locks.took("submission", team_id, submission.pk)
        lock_lanes((team_id, s.submitter_id) for s in moved)
        moved.sort(key=lambda s: (s.created_at, s.pk))
        cls.objects.filter(pk__in=[s.pk for s in moved]).update(fronted_at=now, updated_at=Now())
        for submission in moved:
            locks.took("tally", team_id, (team_id, submission.submitter_id))
            submission.fronted_at = now
            submission.record(
                Event.Kind.MOVED,
                "Moved to the front of the team’s line, ahead of the people’s turns.",
                actor=actor,
            )
        return moved

    def start_request(self, claim, *, unique_id, lease_seconds, token_hash=None):
        """Just before the request leaves: True if this send still holds its claim.

        From here on its outcome may be unknown, so recovery will not resend it.
        The lease is renewed for the request's whole deadline; a claim whose
        lease ran out (a stalled worker) is not renewed: it sends nothing.
        """
        fields = {
            "request_started_at": Now(),
            "unique_id": unique_id,
            "lease_expires_at": Now() + timedelta(seconds=lease_seconds),
            "updated_at": Now(),
        }
        if token_hash is not None:
            fields["callback_token_hash"] = token_hash
        started = Submission.objects.filter(
            pk=self.pk, status=Status.SENDING, claim=claim, lease_expires_at__gt=Now()
        ).update(**fields)
        if started:
            self.unique_id = unique_id
            if token_hash is not None:
                self.callback_token_hash = token_hash
        return bool(started)

    @locks.retry_conflicts
    def mark_accepted(self, *, video_no, api_status, message, claim=None):
        """memories.ai took it: keep its video number and move on.

        The answer may come after a callback moved it on (kept as it is), or
        after this send's lease ran out and recovery set it aside for review
        (memories.ai has the video: it moves on, with an event saying so). An
        answer to an older claim that a person sent again is only recorded.
        """
        target = API_STATUS_TO_STATUS.get(api_status, Status.PROCESSING)
        data = {"video_no": video_no, "api_status": api_status}
        with transaction.atomic():
            current = Submission.objects.select_for_update(no_key=True).get(pk=self.pk)
            locks.took("submission", current.team_id, current.pk)
            if claim is not None and current.claim != claim:
                current.record(
                    Event.Kind.ACCEPTED,
                    f"{message} The answer to attempt {claim} came after it was sent again; "
                    "nothing changed.",
                    data=data,
                )
                self.refresh_from_db()
                return
            fields = {"sent_at": Now()}
            if not current.video_no:
                fields["video_no"] = video_no
            if current.status == Status.NEEDS_REVIEW:
                message += " The answer came after the send's lease ran out; memories.ai has it."
            if current.status in (Status.SENDING, Status.NEEDS_REVIEW):
                fields["api_status"] = api_status
                current._write_move(target, kind=Event.Kind.ACCEPTED, message=message, data=data,
                                    **fields)  # fmt: skip
            else:
                Submission.objects.filter(pk=self.pk).update(updated_at=Now(), **fields)
                current.record(Event.Kind.ACCEPTED, message, data=data)
        self.refresh_from_db()

    @classmethod
    @locks.retry_conflicts
    def recover(cls, pk):
        """A send whose lease ran out: decided under the row lock, on the row as it is now.

        If its request had not left, nothing left: back to the queue, the
        attempt not counted. If it had, memories.ai may have it: a person
        decides (a callback, a late answer or a poll may still settle it).
        Returns the new status, or None when it moved on meanwhile.
        """
        with transaction.atomic():
            current = (
                cls.objects.select_for_update(no_key=True)
                .filter(pk=pk, status=Status.SENDING, lease_expires_at__lt=Now())
                .first()
            )
            if current is None:
                return None
            locks.took("submission", current.team_id, current.pk)
            if current.request_started_at is None:
                # The team before the status write, which takes the lane (uploads/locks.py).
                lock_team(current.team_id)
                current._write_move(
                    Status.QUEUED,
                    kind=Event.Kind.RECOVERED,
                    message="The worker stopped before sending; back in the queue.",
                    attempts=Greatest(F("attempts") - 1, 0),
                )
                current.give_back_turn()
                return Status.QUEUED
            current._write_move(
                Status.NEEDS_REVIEW,
                kind=Event.Kind.RECOVERED,
                message="The worker stopped after the request left; memories.ai may have it. "
                "Not resent automatically.",
                error_message="The worker stopped while sending.",
            )
            return Status.NEEDS_REVIEW

    # --- memories.ai's side ---------------------------------------------------

    @classmethod
    def take_callback(cls, token_hash, limit):
        """Count a callback for this token and lock its submission (in a transaction).

        Returns the locked submission; None for an unknown token; raises
        CallbackLimitReached once `limit` callbacks came this hour.
        """
        hour = int(time.time() // 3600)
        fields = ["id", "team_id", "status", "video_no", "callback_token_hash"]
        # Plain SQL, one statement that counts, locks and reads (RETURNING: SQLite
        # 3.35+ and PostgreSQL): this runs for every callback, and building it
        # through the ORM cost more than running it.
        table = connection.ops.quote_name(cls._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                # Only the quoted table name is interpolated; values are parameters.
                f"UPDATE {table} SET callback_calls = CASE WHEN callback_hour = %s "  # noqa: S608
                "THEN callback_calls + 1 ELSE 1 END, callback_hour = %s "
                "WHERE callback_token_hash = %s "
                "AND NOT (callback_hour = %s AND callback_calls >= %s) "
                f"RETURNING {', '.join(fields)}",
                [hour, hour, token_hash, hour, limit],
            )
            row = cursor.fetchone()
        if row is not None:
            found = cls.from_db(connection.alias, fields, row)
            locks.took("submission", found.team_id, found.pk)
            return found
        if cls.objects.filter(callback_token_hash=token_hash).exists():
            raise CallbackLimitReached
        return None

    @locks.retry_conflicts
    def apply_api_status(self, api_status, video_no, *, source, actor=None, locked=False):
        """Apply a status that memories.ai reported (callback or poll).

        Idempotent: a repeat is counted on the event it repeats; a final status
        is never overwritten; a differing video number is refused.
        Returns "changed", "repeat" or "ignored" (with a reason), or raises
        ValueError for a video number conflict.
        """
        target = API_STATUS_TO_STATUS[api_status]
        # `locked`: the caller's transaction holds the row lock and self is fresh
        # (take_callback); no savepoint of our own is needed inside it.
        with transaction.atomic(savepoint=not locked):
            # Only the fields decided on: callbacks are the portal's busiest path.
            current = (
                self
                if locked
                else Submission.objects.select_for_update(no_key=True)
                .only("id", "team", "status", "video_no")
                .get(pk=self.pk)
            )
            locks.took("submission", current.team_id, current.pk)
            if video_no and current.video_no and video_no != current.video_no:
                raise ValueError(
                    f"video number {video_no} does not match {current.video_no} on record"
                )
            kind = Event.Kind.CALLBACK if source == "callback" else Event.Kind.POLLED
            data = {"api_status": api_status, "video_no": video_no}
            if target not in ALLOWED_MOVES[current.status]:
                # Nothing to move (a repeat, or a final status already reached):
                # count it on the event it repeats, or note it once.
                if Event.count_repeat(current.pk, kind, api_status):
                    return "repeat"
                current.record(
                    kind,
                    f"memories.ai says {api_status}; stays {current.get_status_display()}.",
                    actor=actor,
                    data=data,
                )
                return "ignored"
            fields = {"api_status": api_status}
            if video_no and not current.video_no:
                fields["video_no"] = video_no
            current._write_move(
                target,
                kind=kind,
                message=f"memories.ai says {api_status}.",
                actor=actor,
                data=data,
                **fields,
            )
        self.status = target
        for name, value in fields.items():
            setattr(self, name, value)
        return "changed"
