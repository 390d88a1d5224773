"""The waiting line: fair order between teams and between a team's people, places, send times.

Each memories.ai account has a line of its own (its teams send through its own
gate, in parallel with other accounts). Within it, teams take turns
(round-robin), the team served longest ago first. Within a
team, what a manager moved to the front goes first (in the order it was
moved); then turns go round the team's people the same way, the person served
longest ago first, and each person's own submissions go oldest first. So a
team that queued 500 URLs does not make a team that queued one wait behind all
500, and neither does a teammate.

Everything here reads the per-person counts the database keeps (`Lane`, kept
by triggers: uploads/counters.py) and a few index reads, never the whole queue:
a page's places cost the same handful of queries with 50 or 50,000 waiting.
"""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Case, F, OuterRef, Q, Subquery, Value, When, Window
from django.db.models.functions import Now, RowNumber
from django.utils import timezone

from .. import locks
from ..models import (
    Batch,
    Event,
    Lane,
    MemoriesAccount,
    Status,
    Submission,
    Team,
    UploadGate,
    database_now,
    ids_of_each,
    lock_team,
)


@dataclass
class TeamLine:
    """One team's part of the queue: what is at its front, and its people in turn order."""

    team_id: int
    front: int = 0  # moved to the front by a manager
    people: list = field(default_factory=list)  # [(submitter id, waiting in their turns)]

    @property
    def total(self):
        return self.front + sum(n for _, n in self.people)

    def index_in_team(self, submitter_id, rank, fronted):
        """0-based position in the team's own order of the `rank`-th (0-based) submission
        of this person, or of the team's front."""
        if fronted:
            return rank
        before, reached = self.front, False
        for person, n in self.people:
            before += min(n, rank)  # their earlier rounds
            reached = reached or person == submitter_id
            if not reached and n > rank:
                before += 1  # their turn in this round comes first
        return before


def line(account=None):
    """The account's teams with waiting submissions, in the order their turns come.

    `account`: an account or its id (None: the default account).
    """
    account_id = account if isinstance(account, int) else _account_id(account)
    teams = {}
    lanes = (
        Lane.objects.filter(Q(waiting__gt=0) | Q(fronted__gt=0), team__account_id=account_id)
        .order_by(F("last_turn").asc(nulls_first=True), "id")
        .values_list("team_id", "submitter_id", "waiting", "fronted")
    )
    for team_id, submitter_id, waiting, fronted in lanes:
        team = teams.setdefault(team_id, TeamLine(team_id))
        team.front += fronted
        if waiting:
            team.people.append((submitter_id, waiting))
    if not teams:
        return []
    oldest = (
        Submission.objects.filter(team=OuterRef("pk"), status=Status.QUEUED)
        .order_by("created_at")
        .values("created_at")[:1]
    )
    order = (
        Team.objects.filter(pk__in=list(teams))
        .annotate(oldest=Subquery(oldest))
        .order_by(F("last_sent_at").asc(nulls_first=True), "oldest", "pk")
        .values_list("pk", flat=True)
    )
    return [teams[pk] for pk in order]


def _account_id(account):
    return (account or MemoriesAccount.default()).pk


def next_in_line(account=None):
    """The pk of the account's submission to send next, or None.

    The first of its line that is ready (not waiting out a retry's backoff).
    """
    ready = Submission.objects.ready_to_send()
    for team in line(account):
        if team.front:
            pk = _first(
                ready.filter(team_id=team.team_id, fronted_at__isnull=False),
                "fronted_at",
                "created_at",
                "id",
            )
            if pk is not None:
                return pk
        for submitter_id, _ in team.people:
            own = ready.filter(
                team_id=team.team_id, submitter_id=submitter_id, fronted_at__isnull=True
            )
            pk = _first(own, "created_at", "id")
            if pk is not None:
                return pk
    return None


def _first(queryset, *order):
    return queryset.order_by(*order).values_list("pk", flat=True).first()


def next_of_team(team, limit):
    """The next `limit` waiting submissions of a team, in the order it will send them."""
    teams = line(team.account_id)
    mine = next((t for t in teams if t.team_id == team.pk), None)
    if mine is None:
        return [], teams
    front = min(mine.front, limit)
    taken = dict.fromkeys((p for p, _ in mine.people), 0)
    count, rank = front, 0
    while count < limit and any(n > rank for _, n in mine.people):
        for person, n in mine.people:
            if n > rank and count < limit:
                taken[person] += 1
                count += 1
        rank += 1
    waiting = Submission.objects.filter(team=team, status=Status.QUEUED)
    fronted = waiting.filter(fronted_at__isnull=False)
    firsts = [fronted.order_by("fronted_at", "created_at", "id")[:front]] if front else []
    for person, n in taken.items():
        if n:
            own = waiting.filter(submitter_id=person, fronted_at__isnull=True)
            firsts.append(own.order_by("created_at", "id")[:n])
    ids = ids_of_each(*firsts)
    return list(Submission.objects.filter(pk__in=ids).select_related("team", "submitter")), teams


def places(submissions, teams=None):
    """{pk: (place, estimated send time or None)} for those of the submissions that wait.

    `submissions`: ids, or submissions as loaded (their status, team, submitter,
    front and creation time are read from them). `teams`: the line, if the
    caller has it already (then every shown submission is of its account).
    Each account's line and pace are its own.

    In round-robin order, the submission at 0-based position k of its team's
    own order comes after min(n, k) submissions of every team with n waiting,
    plus one of each team whose turn comes before its own and that has more
    than k waiting; a team's own order is made of its people's lines the same way.
    """
    shown = _shown(submissions)
    if not shown:
        return {}
    ranks = _ranks(shown)
    # Each shown team's account and its gate, in one query.
    accounts = {
        team.pk: team.account
        for team in Team.objects.filter(pk__in={row[1] for row in shown}).select_related(
            "account__gate"
        )
    }
    result = {}
    for account in {a.pk: a for a in accounts.values()}.values():
        mine = [row for row in shown if accounts[row[1]].pk == account.pk]
        result.update(_places_in(account, mine, ranks, teams))
    return result


def _places_in(account, shown, ranks, teams=None):
    """places() for submissions of one account."""
    teams = line(account.pk) if teams is None else teams
    turn = {t.team_id: i for i, t in enumerate(teams)}
    totals = [t.total for t in teams]
    gate = getattr(account, "gate", None) or UploadGate.get(account)
    start = max(gate.next_allowed_at, timezone.now())
    interval = UploadGate.interval(account)
    result = {}
    for pk, team_id, submitter_id, fronted_at, _ in shown:
        if team_id not in turn or pk not in ranks:
            continue  # sent or cancelled since the page read it
        t = turn[team_id]
        k = teams[t].index_in_team(submitter_id, ranks[pk] - 1, fronted_at is not None)
        before = sum(min(n, k) for n in totals) + sum(1 for n in totals[:t] if n > k)
        result[pk] = (before + 1, None if gate.paused else start + interval * before)
    return result


def _shown(submissions):
    """(pk, team, submitter, fronted_at, created_at) of the waiting ones among `submissions`."""
    items = list(submissions)
    if items and isinstance(items[0], Submission):
        return [
            (s.pk, s.team_id, s.submitter_id, s.fronted_at, s.created_at)
            for s in items
            if s.status == Status.QUEUED
        ]
    if not items:
        return []
    return list(
        Submission.objects.filter(pk__in=items, status=Status.QUEUED).values_list(
            "pk", "team_id", "submitter_id", "fronted_at", "created_at"
        )
    )


def _ranks(shown):
    """{pk: 1-based place in its person's line (or its team's front)}, in one query.

    A window over only the lines the shown submissions are in, each read up to
    the last shown one (an index range): its cost is that of those lines, never
    of the whole queue.
    """
    last = {}
    for pk, team_id, submitter_id, fronted_at, created_at in shown:
        key = (team_id, None if fronted_at else submitter_id)
        at = (fronted_at, created_at, pk) if fronted_at else (created_at, pk)
        last[key] = max(last.get(key, at), at)
    reach = Q(pk__in=[])
    for (team_id, submitter_id), at in last.items():
        if submitter_id is None:
            fronted_at, created_at, pk = at
            reach |= Q(team_id=team_id, fronted_at__isnull=False) & (
                Q(fronted_at__lt=fronted_at)
                | Q(fronted_at=fronted_at, created_at__lt=created_at)
                | Q(fronted_at=fronted_at, created_at=created_at, id__lte=pk)
            )
        else:
            created_at, pk = at
            reach |= Q(team_id=team_id, submitter_id=submitter_id, fronted_at__isnull=True) & (
                Q(created_at__lt=created_at) | Q(created_at=created_at, id__lte=pk)
            )
    numbered = (
        Submission.objects.filter(reach, status=Status.QUEUED)
        .order_by()
        .annotate(
            line_rank=Window(
                RowNumber(),
                partition_by=[
                    F("team_id"),
                    Case(When(fronted_at__isnull=True, then=F("submitter_id")), default=Value(0)),
                ],
                order_by=[F("fronted_at").asc(), F("created_at").asc(), F("id").asc()],
            )
        )
        .values_list("id", "line_rank")
    )
    sql, params = numbered.query.sql_with_params()
    ids = [row[0] for row in shown]
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        # Only the shown ones come back (filtering inside would change the numbering).
        cursor.execute(
            f"SELECT numbered.id, numbered.line_rank FROM ({sql}) numbered "  # noqa: S608
            f"WHERE numbered.id IN ({marks})",
            [*params, *ids],
        )
        return dict(cursor.fetchall())


# --- taking a turn -------------------------------------------------------------------
#
# A claim takes the team's turn and the person's turn in the team, remembered on the
# submission; a setback that was not the team's doing gives them back
# (Submission.give_back_turn, from the status write that records the setback).


@locks.retry_conflicts
def take_claim(pk, lease_seconds):
    """Claim this waiting submission for sending (the submission, its team read with it);
    None if it is no longer waiting.

    The claim number goes up by one: every later step of this send is
    conditional on it. The team's turn is taken, and the submitter's turn
    within the team (unless a manager moved it to the front, which goes
    ahead of the people's turns); both are remembered so that a setback
    can give them back.
    """
    with transaction.atomic():
        current = (
            Submission.objects.ready_to_send().select_for_update(no_key=True).filter(pk=pk).first()
        )
        if current is None:
            return None  # another worker took it, or it was cancelled
        locks.took("submission", current.team_id, current.pk)
        if current.batch_id and (cancelling := Batch.cancelling(current.batch_id)):
            # Its batch's waiting ones are being cancelled (perhaps by a worker that
            # died): the person asked for it not to be sent.
            current._write_move(
                Status.CANCELLED,
                kind=Event.Kind.CANCELLED,
                message=f"Cancelled with the rest of batch #{cancelling.pk}.",
                actor=cancelling.cancel_requested_by,
            )
            return None
        now = database_now()
        team = lock_team(current.team_id)
        takes_lane_turn = current.fronted_at is None
        lane_turn_before = next_turn = None
        if takes_lane_turn:
            # The team's row lock keeps its turn numbers in order.
            turns = dict(
                Lane.objects.filter(team_id=team.pk).values_list("submitter_id", "last_turn")
            )
            lane_turn_before = turns.get(current.submitter_id)
            next_turn = max((t for t in turns.values() if t is not None), default=0) + 1
        current._write_move(
            Status.SENDING,
            kind=Event.Kind.CLAIMED,
            message=f"Attempt {current.attempts + 1}.",
            claim=F("claim") + 1,
            attempts=F("attempts") + 1,
            claimed_at=now,
            team_turn_before=team.last_sent_at,
            lane_turn_before=lane_turn_before,
            lease_expires_at=Now() + timedelta(seconds=lease_seconds),
            request_started_at=None,
        )
        Team.objects.filter(pk=team.pk).update(last_sent_at=now)
        if takes_lane_turn:
            Lane.objects.filter(team_id=team.pk, submitter_id=current.submitter_id).update(
                last_turn=next_turn
            )
            locks.took("lane", team.pk, (team.pk, current.submitter_id))
    return Submission.objects.select_related("team").get(pk=pk)
