"""Dashboard figures, computed by the database.

Counts by status and per member are read from the tallies the database keeps
(one row per person, team and status: uploads/counters.py); the median time
to Done is read from an index on the stored duration; everything else is an
aggregate over the last 30 days or a query that returns a bounded number of
rows. No dashboard loads or counts the whole history, so a page costs the same
handful of queries, and about the same time, with 1,000 submissions or 100,000.
"""

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db.models import Case, Count, IntegerField, Sum, Value, When
from django.utils import timezone

from ..models import Status, Submission, Tally, ids_of_each, seconds_to_finish
from . import charts

CHART_DAYS = 30
# The periods a dashboard can show, in days; each is compared with the one before it.
PERIODS = (7, 30, 90)
RECENT_FAILURES = 5
WAITING_SHOWN = 10
ATTENTION_SHOWN = 10

# The outcomes charts are split by, each a group of statuses, in stacking order.
OUTCOMES = (
    charts.Series("done", "Done", (Status.PARSED,)),
    charts.Series("failed", "Failed", (Status.FAILED, Status.PARSE_ERROR)),
    charts.Series("needs_review", "Needs review", (Status.NEEDS_REVIEW,)),
    charts.Series("in_progress", "In progress", (Status.QUEUED, Status.SENDING, Status.PROCESSING)),
    charts.Series("cancelled", "Cancelled", (Status.CANCELLED,)),
)
FAILURE_STATUSES = (Status.FAILED, Status.PARSE_ERROR)
# Submissions that reached an end at memories.ai or here: the success rate's denominator.
SETTLED_STATUSES = (Status.PARSED, *FAILURE_STATUSES)


@dataclass
class PeriodTotals:
    """What was submitted in a period, and how it ended so far."""

    submitted: int
    done: int
    failed: int

    @property
    def success_rate_display(self):
        settled = self.done + self.failed
        return format_rate(self.done / settled if settled else None)


@dataclass
class Period:
    days: int
    now: PeriodTotals
    before: PeriodTotals  # the `days` days before


@dataclass
class Figures:
    counts: dict  # {status value: n}, every status present
    success_rate: float | None
    median_to_parse: timedelta | None
    chart: charts.StackedBarChart
    period: Period

    @property
    def total(self):
        return sum(self.counts.values())

    @property
    def settled(self):
        return sum(self.counts[s] for s in SETTLED_STATUSES)

    @property
    def success_rate_display(self):
        return format_rate(self.success_rate)

    @property
    def median_display(self):
        return format_duration(self.median_to_parse)

    @property
    def by_status(self):
        """[(status value, label, n)] in the statuses' own order."""
        return [(value, label, self.counts[value]) for value, label in Status.choices]


def figures(submissions, tallies, days=CHART_DAYS):
    """Status counts, success rate, median time to PARSE, the daily chart over the last
    `days` days and that period's totals beside the period before.

    `submissions` and `tallies` are the same selection (a team, a person), of
    Submission and of Tally rows.
    """
    counts = status_counts(tallies)
    dates = chart_days(days)
    # One query for the chart's days and the whole period before them.
    daily = daily_counts(submissions, dates, with_before=True)
    return Figures(
        counts=counts,
        success_rate=success_rate(counts),
        median_to_parse=median_time_to_parse(submissions),
        chart=daily_chart(dates, daily),
        period=Period(
            days,
            now=_period_totals(daily, lambda day: day is not None),
            before=_period_totals(daily, lambda day: day is None),
        ),
    )


def _period_totals(daily, in_period):
    def total(statuses=None):
        return sum(
            n
            for (day, status), n in daily.items()
            if in_period(day) and (statuses is None or status in statuses)
        )

    return PeriodTotals(
        submitted=total(), done=total((Status.PARSED,)), failed=total(FAILURE_STATUSES)
    )


def status_counts(tallies):
    """{status: n} for every status, from the kept tallies."""
    counts = dict.fromkeys(Status.values, 0)
    rows = tallies.order_by().values_list("status").annotate(total=Sum("n"))
    counts.update({status: total for status, total in rows if status in counts})
    return counts


def success_rate(counts):
    """Done ÷ (done + processing failed + failed); None when nothing has settled."""
    settled = sum(counts[s] for s in SETTLED_STATUSES)
    return counts[Status.PARSED] / settled if settled else None


def median_time_to_parse(submissions):
    """Median of created_at → finished_at over the parsed ones, or None.

    Two small queries on an index of the durations (sub_team_duration,
    sub_submitter_duration): count them, then read only the middle one (or two)
    in the index's order.
    """
    parsed = submissions.filter(status=Status.PARSED).alias(seconds=seconds_to_finish())
    parsed = parsed.filter(seconds__isnull=False)
    n = parsed.count()
    if not n:
        return None
    durations = parsed.annotate(seconds=seconds_to_finish()).order_by("seconds")
    middle = list(durations.values_list("seconds", flat=True)[(n - 1) // 2 : n // 2 + 1])
    return timedelta(seconds=sum(middle) / len(middle))


def chart_days(days=CHART_DAYS):
    """The last `days` local dates, oldest first, ending today."""
    today = timezone.localdate()
    return [today - timedelta(days=days - 1 - i) for i in range(days)]


def daily_counts(submissions, days, *, with_before=False):
    """{(date, status): n} for submissions created on the given local dates; with
    `with_before`, also {(None, status): n} for as many days before the first.

    One GROUP BY query on the day and the status. The day is found by comparing
    the creation time with each local midnight (computed here, in the current
    time zone, daylight saving included): plain comparisons the database makes
    itself, where converting each row's time zone would call back into Python
    on SQLite for every row.
    """
    tz = timezone.get_current_timezone()
    bounds = [
        timezone.make_aware(datetime.combine(day, time.min), tz)
        for day in (*days, days[-1] + timedelta(days=1))
    ]
    start = bounds[0]
    whens = [When(created_at__lt=bound, then=Value(i)) for i, bound in enumerate(bounds[1:])]
    if with_before:
        # The period before, as one more bucket (-1): one more comparison, not one per day.
        whens.insert(0, When(created_at__lt=bounds[0], then=Value(-1)))
        before = days[0] - timedelta(days=len(days))
        start = timezone.make_aware(datetime.combine(before, time.min), tz)
    day = Case(*whens, output_field=IntegerField())
    rows = (
        submissions.filter(created_at__gte=start, created_at__lt=bounds[-1])
        .annotate(day=day)
        .order_by()
        .values_list("day", "status")
        .annotate(n=Count("id"))
    )
    return {(days[i] if i >= 0 else None, status): n for i, status, n in rows}


def daily_chart(dates, counts):
    """The chart of `dates` from daily_counts' `counts`."""
    return charts.stacked_bars(
        title=f"Submissions per day, last {len(dates)} days",
        dates=dates,
        series=OUTCOMES,
        count=lambda date, series: sum(counts.get((date, s), 0) for s in series.statuses),
    )


def recent_failures(submissions, limit=RECENT_FAILURES):
    """The newest failures: the newest few ids of each failure status (each an index range
    read in order), then those rows, newest first."""
    ids = ids_of_each(
        *(
            submissions.filter(status=status).order_by("-created_at", "-id")[:limit]
            for status in FAILURE_STATUSES
        )
    )
    return list(
        Submission.objects.filter(pk__in=ids)
        .select_related("team", "submitter")
        .order_by("-created_at", "-id")[:limit]
    )


def oldest_waiting(submissions, limit=WAITING_SHOWN):
    """The first waiting submissions, oldest first: within a team, the queue's order."""
    return list(
        submissions.filter(status=Status.QUEUED)
        .select_related("team", "submitter")
        .order_by("created_at", "id")[:limit]
    )


@dataclass
class MemberRow:
    submitter_id: int
    username: str
    total: int
    in_progress: int
    done: int
    failed: int
    needs_review: int
    cancelled: int

    @property
    def success_rate(self):
        settled = self.done + self.failed
        return self.done / settled if settled else None

    @property
    def success_rate_display(self):
        return format_rate(self.success_rate)


def member_breakdown(team):
    """Counts by outcome per submitter of the team's submissions, from the kept tallies."""
    outcome_of = {status: series.key for series in OUTCOMES for status in series.statuses}
    rows = {}
    tallies = (
        Tally.objects.filter(team=team, n__gt=0)
        .values_list("submitter_id", "submitter__username", "status", "n")
        .order_by("submitter__username", "submitter_id")
    )
    for submitter_id, username, status, n in tallies:
        row = rows.setdefault(
            submitter_id,
            MemberRow(submitter_id, username, 0, **{series.key: 0 for series in OUTCOMES}),
        )
        row.total += n
        if status in outcome_of:
            key = outcome_of[status]
            setattr(row, key, getattr(row, key) + n)
    return list(rows.values())


def format_duration(value):
    """A short human duration: "45 s", "4 min 12 s", "3 h 5 min", "2 d 4 h"."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


def format_rate(rate):
    return "—" if rate is None else f"{rate:.0%}"
