"""A batch's background check: each row through the submission form's own rules, then its
link through the pages' own URL check (uploads/submitting.py), at most
BATCH_CHECK_CONCURRENCY links at once.

The `check_batch` task (on the batches queue, never the sender's) runs `check_step`,
which works for about BATCH_CHECK_STEP_SECONDS and then leaves the rest to the next
step, queued behind whatever else waits: batches take turns, and cancelling one does
not wait behind another's ten thousand checks.

The links are checked by threads inside the task: checking a link is waiting on the
network, so one process waits on N links at once for the price of one, the bound is
exact (the pool's size), and only the task's own thread touches the database.
"""

import logging
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models.functions import Now
from django.forms.utils import pretty_name
from django.utils import timezone

from .. import metrics
from ..forms import SubmissionForm
from ..models import Batch, BatchRow, Submission, Team
from ..selectors import teams_of
from ..submitting import LinkProblem, check_link
from ..urlcheck import identity
from ..urlcheck.findings import UrlCheck
from .reading import EXTRA_CELLS

logger = logging.getLogger(__name__)

State = BatchRow.State
# Rows read and validated at a time: one query for their earlier submissions per team.
CHUNK = 200
# What a cell may say for "keep the original video" (a checkbox on the form).
YES = frozenset({"yes", "y", "true", "1", "x", "on"})
NO = frozenset({"no", "n", "false", "0", "off"})


UNCHECKABLE = "This row could not be checked (the portal failed on it): it is left out."


class RowProblem(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass
class _Person:
    """Whose batch it is: their teams, found by any name a cell may use."""

    user: object
    teams: list[Team] = field(default_factory=list)
    team_by_name: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, user):
        teams = list(teams_of(user))
        by_name = {}
        for team in teams:
            for name in (team.unique_id, team.slug, team.name, str(team.pk)):
                by_name[name.casefold()] = str(team.pk)
        return cls(user, teams, by_name)


def check_step(batch_id, *, seconds=None):
    """Check the batch's rows for about `seconds`; True while some are left to check."""
    batch = Batch.objects.filter(pk=batch_id, state=Batch.State.CHECKING).first()
    if batch is None:
        return False
    seconds = settings.BATCH_CHECK_STEP_SECONDS if seconds is None else seconds
    until = time.monotonic() + seconds
    Batch.objects.filter(pk=batch_id).update(progress_at=Now())
    _check_links(_rows_to_check(batch, until), until)
    if batch.rows.filter(state__in=[State.NEW, State.VALID]).exists():
        Batch.objects.filter(pk=batch_id).update(progress_at=Now())
        return True
    Batch.objects.filter(pk=batch_id, state=Batch.State.CHECKING).update(
        state=Batch.State.CHECKED, checked_at=Now(), progress_at=Now()
    )
    return False


def validate_rows(batch):
    """Every new row of the batch through the form's rules, without checking any link: the
    rules' own pace (benchmarks/bench_batches.py). Returns how many rows are valid."""
    return sum(1 for _ in _rows_to_check(batch, until=float("inf")))


def _rows_to_check(batch, until) -> Iterator[BatchRow]:
    """Rows whose link is to be checked: those an earlier step validated but did not finish,
    then new rows, validated a chunk at a time as the threads need more."""
    yield from batch.rows.filter(state=State.VALID).select_related("team").order_by("line")
    person = _Person.of(batch.created_by)
    first = True  # every step makes progress, however short
    while first or time.monotonic() < until:
        first = False
        chunk = list(batch.rows.filter(state=State.NEW).order_by("line")[:CHUNK])
        if not chunk:
            return
        yield from _validate(batch, chunk, person)


def _validate(batch, chunk, person):
    """The chunk's rows through the form's rules; returns the valid ones, the others refused
    or, for a URL an earlier line of the batch has for the same team, marked repeated."""
    cleaned = {}
    for row in chunk:
        try:
            cleaned[row.pk] = _clean(row.given, person)
        except RowProblem as problem:
            _write(row, State.NEW, state=State.REFUSED, problem=problem.message)
        except Exception:
            # A row the rules themselves fail on is refused, with the failure logged: the
            # check goes on to its end rather than failing on it at every restart.
            logger.exception("batch row %s: its values could not be checked", row.pk)
            _write(row, State.NEW, state=State.REFUSED, problem=UNCHECKABLE)
    keys = {pk: identity.url_key(values["url"]) for pk, values in cleaned.items()}
    first_lines = dict(
        ((team_id, key), line)
        for team_id, key, line in batch.rows.filter(line__lt=chunk[0].line)
        .filter(url_key__in=set(keys.values()))
        .exclude(state=State.REPEATED)
        .order_by("-line")
        .values_list("team_id", "url_key", "line")
    )
    earlier = _earlier_submissions(cleaned, keys)
    valid = []
    for row in chunk:
        values = cleaned.get(row.pk)
        if values is None:
            continue
        team, key = values["team"], keys[row.pk]
        first = first_lines.setdefault((team.pk, key), row.line)
        if first != row.line:
            _write(row, State.NEW, state=State.REPEATED, url_key=key, team=team,
                   problem=f"The same URL as line {first}: left out.")  # fmt: skip
            continue
        row.team, row.url_key, row.earlier = team, key, earlier.get((team.pk, key))
        for name in BatchRow.ASKED:
            setattr(row, name, values[name])
        fields = {name: values[name] for name in BatchRow.ASKED}
        _write(row, State.NEW, state=State.VALID, team=team, url_key=key, earlier=row.earlier,
               **fields)  # fmt: skip
        valid.append(row)
    return valid


def _earlier_submissions(cleaned, keys):
    """{(team id, key): submission} of the chunk's URLs the teams already have."""
    by_team = {}
    for pk, values in cleaned.items():
        by_team.setdefault(values["team"].pk, set()).add(keys[pk])
    found = {}
    for team_id, team_keys in by_team.items():
        for key, submission in Submission.objects.earlier_of(team_id, team_keys).items():
            found[team_id, key] = submission
    return found


def _clean(given, person):
    """The row's values through the submission form's rules: its cleaned data, or RowProblem."""
    if EXTRA_CELLS in given:
        raise RowProblem(
            f"This line has {given[EXTRA_CELLS]} cells, more than the header has columns: "
            "a value with a comma or semicolon in it must be in double quotes."
        )
    data = dict(given)
    team = data.get("team", "").strip()
    if team:
        data["team"] = person.team_by_name.get(team.casefold(), team)
    flag = data.pop("retain_original_video", "").strip()
    if flag.casefold() in YES:
        data["retain_original_video"] = "on"
    elif flag and flag.casefold() not in NO:
        raise RowProblem(
            f"{SubmissionForm.base_fields['retain_original_video'].label}: "
            f"write yes or no (not “{flag[:20]}”)."
        )
    form = SubmissionForm(data, user=person.user, teams=person.teams)
    if not form.is_valid():
        raise RowProblem(describe_errors(form))
    return form.cleaned_data


def describe_errors(form):
    """A form's errors in one line, each after its field's label."""
    parts = [" ".join(form.non_field_errors())] if form.non_field_errors() else []
    for name, field_ in form.fields.items():
        if name in form.errors:
            parts.append(f"{field_.label or pretty_name(name)}: {' '.join(form.errors[name])}")
    return " · ".join(parts)


def _write(row, from_state, **fields):
    BatchRow.objects.filter(pk=row.pk, state=from_state).update(**fields)


def _check_links(rows, until):
    """Check each row's link, at most BATCH_CHECK_CONCURRENCY at once, taking no new row
    once `until` has passed; each result is written as it comes."""
    limit = settings.BATCH_CHECK_CONCURRENCY
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="batch-check") as pool:
        checking, started = {}, 0
        while True:
            while len(checking) < limit and (not started or time.monotonic() < until):
                row = next(rows, None)
                if row is None:
                    break
                checking[pool.submit(check_link, row.url, row.team)] = row
                started += 1
            if not checking:
                return
            done, _ = wait(checking, return_when=FIRST_COMPLETED)
            for future in done:
                _record(checking.pop(future), future)


def _record(row, future):
    metrics.batch_row_checked()
    try:
        found = future.result()
    except LinkProblem as problem:
        _record_problem(row, problem)
    except Exception:
        logger.exception("batch row %s: the link's check failed", row.pk)
        _record_problem(row, LinkProblem("The link's check failed unexpectedly.", confirmable=True))
    else:
        _write(row, State.VALID, state=State.READY, url_check=found.to_json())


def _record_problem(row, problem):
    if not problem.confirmable:
        _write(row, State.VALID, state=State.REFUSED, problem=problem.message)
        return
    # Kept as the form keeps a link confirmed public: sent so if the person confirms.
    found = UrlCheck(checked_at=timezone.now(), problem=problem.message)
    _write(row, State.VALID, state=State.UNREACHABLE, problem=problem.message,
           url_check=found.to_json())  # fmt: skip
