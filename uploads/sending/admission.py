"""Who may queue how much, now: each person's cap on waiting submissions, each team's quota.

- A person may have at most MAX_WAITING_PER_PERSON submissions waiting in a
  team (a team may set its own, `Team.max_waiting_per_person`).
- A team may queue at most `Team.monthly_quota` submissions a calendar month,
  in the portal's TIME_ZONE. A submission counts when it is queued and is
  given back if it leaves the queue unsent (cancelled, or its link died while
  it waited: `Submission._write_move`).

`admit` decides both under locks, inside the caller's transaction: the
person's lane row, then the team's counter row for the month (the lock order
of uploads/locks.py). Two submissions at once cannot both take the last
unit or the last place. The single-submission path refuses what does not
fit; work that can wait (a batch's rows) takes what fits now and is held for
the rest: `release_held` lets it in as room frees, through the sources that
`holds_work` registers.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, time

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .. import faults, locks
from ..models import Lane, QuotaMonth, Team

logger = logging.getLogger(__name__)


class Refused(Exception):
    """This cannot be queued now; the message says why (and until when)."""


@dataclass
class Quota:
    """A team's uploads this month."""

    limit: int | None  # None: no limit
    used: int
    month: date  # its first day
    resets_at: datetime

    @property
    def left(self):
        return None if self.limit is None else max(self.limit - self.used, 0)


def cap_for(team):
    """How many submissions one person may have waiting in this team."""
    if team.max_waiting_per_person is not None:
        return team.max_waiting_per_person
    return settings.MAX_WAITING_PER_PERSON


def this_month():
    """The current month's first day, in the portal's time zone."""
    return timezone.localdate(timezone=timezone.get_default_timezone()).replace(day=1)


def resets_at(month):
    """When the month after `month` begins, in the portal's time zone."""
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return timezone.make_aware(
        datetime.combine(following, time.min), timezone.get_default_timezone()
    )


def waiting_of(team, person):
    lane = Lane.objects.filter(team=team, submitter=person).first()
    return lane.queued if lane else 0


def room(team, person):
    """How many more submissions this person may queue in this team now (cap only)."""
    return max(cap_for(team) - waiting_of(team, person), 0)


def quota(team):
    """This month's quota of a team: used, left, and when it resets."""
    month = this_month()
    used = QuotaMonth.objects.filter(team=team, month=month).values_list("used", flat=True).first()
    return Quota(team.monthly_quota, used or 0, month, resets_at(month))


def why_not(team, person):
    """Why this person cannot queue one more in this team now, or "" (no locks: a hint
    for forms; `admit` decides)."""
    waiting, cap = waiting_of(team, person), cap_for(team)
    if waiting >= cap:
        return cap_message(team, waiting, cap)
    current = quota(team)
    if current.left == 0:
        return quota_message(team, current)
    return ""


def cap_message(team, waiting, cap):
    return (
        f"You have {waiting:,} submissions waiting in {team.name}, the most one person may "
        f"have waiting there ({cap:,}). Submit more once some of them have been sent."
    )


def quota_message(team, current):
    # In the person's zone (the request's), as the dashboard shows the same moment.
    resets = timezone.localtime(current.resets_at)
    return (
        f"{team.name} has used all {current.limit:,} uploads of its quota for "
        f"{current.month:%B %Y}. New submissions can be queued again from "
        f"{resets:%-d %B %Y, %H:%M} {resets.tzname()}. Everything already queued "
        "stays queued."
    )


def admit(team, person, wanted, *, partial=False):
    """Take room for `wanted` new submissions of `person` in `team`; returns (granted, month).

    Must run inside the transaction that then queues them, with `counted_in=month`.
    All or nothing (Refused with the reason), or with `partial` as many as fit now
    (perhaps none). The locks are held until that transaction ends.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("admit() must run inside the transaction that queues the work.")
    person_id = getattr(person, "pk", person)
    lane = _locked(Lane, team_id=team.pk, submitter_id=person_id)
    locks.took("lane", team.pk, (team.pk, person_id))
    cap = cap_for(team)
    fits = max(cap - lane.queued, 0)
    month = this_month()
    counter = _locked(QuotaMonth, team_id=team.pk, month=month)
    locks.took("quota", team.pk, month)
    faults.point("admission.between_read_and_write", team=team, month=month)
    limit = team.monthly_quota
    if limit is not None:
        fits = min(fits, max(limit - counter.used, 0))
    granted = min(wanted, fits)
    if granted < wanted and not partial:
        if lane.queued + wanted > cap:
            raise Refused(cap_message(team, lane.queued, cap))
        raise Refused(quota_message(team, Quota(limit, counter.used, month, resets_at(month))))
    if granted:
        QuotaMonth.objects.filter(pk=counter.pk).update(used=F("used") + granted)
    return granted, month


@locks.retry_conflicts
def _release(source, team_id, person_id, count):
    """One person's held work in one team, as much as fits now, in one transaction."""
    with transaction.atomic():
        team = Team.objects.get(pk=team_id)
        granted, month = admit(team, person_id, count, partial=True)
        if not granted:
            return 0
        made = source.release(team, person_id, granted, month)
        if made < granted:  # some went meanwhile: their units come back
            QuotaMonth.objects.filter(team=team, month=month).update(
                used=F("used") - (granted - made)
            )
        faults.point("admission.releasing", team=team, person=person_id, made=made)
    return made


def _locked(model, **key):
    """The row with this key, created if missing, locked until the transaction ends."""
    model.objects.bulk_create([model(**key)], ignore_conflicts=True)
    return model.objects.select_for_update(no_key=True).get(**key)


# --- held work: let it in as room frees ----------------------------------------------------

_sources = []


def holds_work(source):
    """Register a source of held work (e.g. a batch's rows beyond the cap or the quota).

    `source.held()`: (team id, person id, how many) for each person with held work;
    `source.release(team, person, n, counted_in)`: queue up to n of it now, inside
    the caller's transaction, each with counted_in; returns how many it queued.
    """
    if source not in _sources:
        _sources.append(source)
    return source


def release_held():
    """Queue held work that now fits (a periodic step). Returns how many were queued."""
    released = 0
    for source in list(_sources):
        for team_id, person_id, count in source.held():
            released += _release(source, team_id, person_id, count)
    if released:
        logger.info("released %s held submission(s) into the queue", released)
    return released
