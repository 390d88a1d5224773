"""The dashboard figures (uploads/reports/stats.py) and the chart geometry (charts.py beside it)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tests.factories import SubmissionFactory
from uploads.models import Status, Submission, Tally
from uploads.reports import charts, stats

# Quotas count by month, and "today" is a day: the clock is kept far from either end.
pytestmark = pytest.mark.usefixtures("mid_month")


def parsed_after(team, user, minutes, **fields):
    created = timezone.now() - timedelta(days=1)
    return SubmissionFactory(
        team=team,
        submitter=user,
        status=Status.PARSED,
        created_at=created,
        finished_at=created + timedelta(minutes=minutes),
        **fields,
    )


def test_status_counts_include_every_status_even_when_zero(alice, team_a):
    SubmissionFactory.create_batch(2, team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    counts = stats.status_counts(Tally.objects.all())
    assert counts[Status.PARSED] == 2 and counts[Status.FAILED] == 1
    assert counts[Status.QUEUED] == 0
    assert set(counts) == set(Status.values)


def test_the_success_rate_is_done_over_done_and_failures_and_a_dash_when_none():
    counts = dict.fromkeys(Status.values, 0)
    assert stats.success_rate(counts) is None
    assert stats.format_rate(None) == "—"
    counts.update({Status.PARSED: 3, Status.PARSE_ERROR: 1, Status.FAILED: 0, Status.QUEUED: 9})
    assert stats.success_rate(counts) == 0.75
    assert stats.format_rate(0.75) == "75%"


def test_waiting_cancelled_and_needs_review_do_not_count_for_the_success_rate():
    counts = dict.fromkeys(Status.values, 0)
    counts.update({Status.QUEUED: 5, Status.CANCELLED: 5, Status.NEEDS_REVIEW: 5})
    assert stats.success_rate(counts) is None


def test_the_median_time_to_parse_takes_the_middle_of_an_odd_number(alice, team_a):
    for minutes in (1, 50, 3):
        parsed_after(team_a, alice, minutes)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    median = stats.median_time_to_parse(Submission.objects.all())
    assert median == pytest.approx(timedelta(minutes=3), abs=timedelta(milliseconds=5))


def test_the_median_of_an_even_number_is_the_mean_of_the_two_middle_ones(alice, team_a):
    for minutes in (1, 2, 4, 100):
        parsed_after(team_a, alice, minutes)
    median = stats.median_time_to_parse(Submission.objects.all())
    assert median == pytest.approx(timedelta(minutes=3), abs=timedelta(milliseconds=5))


def test_there_is_no_median_without_parsed_submissions(alice, team_a):
    SubmissionFactory(team=team_a, submitter=alice)
    assert stats.median_time_to_parse(Submission.objects.all()) is None
    assert stats.format_duration(None) == "—"


@pytest.mark.parametrize(
    "seconds, text",
    [(45, "45 s"), (252, "4 min 12 s"), (600, "10 min"), (11100, "3 h 5 min"), (187200, "2 d 4 h")],
)
def test_durations_read_like_people_say_them(seconds, text):
    assert stats.format_duration(timedelta(seconds=seconds)) == text


def test_daily_counts_group_by_the_local_day(settings, alice, team_a):
    settings.TIME_ZONE = "America/New_York"
    tz = ZoneInfo("America/New_York")
    today = timezone.localdate()
    # 23:30 in New York is already the next day in UTC: it counts for the local day.
    late = datetime.combine(today - timedelta(days=1), datetime.min.time(), tz).replace(
        hour=23, minute=30
    )
    SubmissionFactory(team=team_a, submitter=alice, created_at=late, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, created_at=late, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=alice, created_at=timezone.now() - timedelta(days=45))
    days = stats.chart_days()
    counts = stats.daily_counts(Submission.objects.all(), days)
    yesterday = today - timedelta(days=1)
    assert counts == {(yesterday, Status.PARSED): 1, (yesterday, Status.FAILED): 1}


def test_the_daily_chart_stacks_outcomes_per_day(alice, team_a):
    now = timezone.now()
    SubmissionFactory.create_batch(3, team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSE_ERROR)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.QUEUED)
    SubmissionFactory(
        team=team_a, submitter=alice, status=Status.PARSED, created_at=now - timedelta(days=2)
    )
    dates = stats.chart_days(30)
    chart = stats.daily_chart(dates, stats.daily_counts(Submission.objects.all(), dates))
    assert len(chart.rows) == 30
    assert [layout.frame for layout in chart.layouts] == [charts.WIDE, charts.NARROW]
    today = chart.layouts[0].bars[-1]
    assert today.row.date == timezone.localdate()
    assert [(s.series.key, s.count) for s in today.segments] == [
        ("done", 3),
        ("failed", 1),
        ("in_progress", 1),
    ]
    assert today.row.title.endswith(": 3 done, 1 failed, 1 in progress")
    assert chart.rows[-3].total == 1
    assert dict((s.key, n) for s, n in chart.totals)["done"] == 4
    assert chart.description.startswith("6 submissions from ")
    assert chart.description.endswith(": 4 done, 1 failed, 1 in progress.")


def test_bars_are_drawn_to_scale_inside_the_plot():
    dates = stats.chart_days(3)
    counts = {dates[0]: 2, dates[1]: 0, dates[2]: 7}
    series = (charts.Series("done", "Done", ()),)
    chart = charts.stacked_bars(
        title="t", dates=dates, series=series, count=lambda day, s: counts[day]
    )
    for layout in chart.layouts:
        frame = layout.frame
        assert [t.value for t in layout.ticks] == [0, 2, 4, 6, 8]
        tallest = layout.bars[2].segments[0]
        assert tallest.y >= frame.top
        assert tallest.y + tallest.height == pytest.approx(frame.baseline)
        assert layout.bars[1].segments == []
        assert layout.bars[0].segments[0].height == pytest.approx(tallest.height * 2 / 7)
        assert layout.bars[-1].x + layout.bars[-1].width <= layout.right_edge


def test_an_empty_chart_says_so():
    dates = stats.chart_days()
    chart = charts.stacked_bars(
        title="t", dates=dates, series=stats.OUTCOMES, count=lambda day, s: 0
    )
    assert chart.description.startswith("No submissions from ")
    assert [t.value for t in chart.layouts[0].ticks] == [0, 1]


@pytest.mark.parametrize("largest, step", [(0, 1), (3, 1), (7, 2), (19, 5), (40, 10), (4001, 2000)])
def test_axis_steps_are_round_numbers(largest, step):
    assert charts.axis_step(largest) == step


def test_the_member_breakdown_counts_outcomes_per_submitter(alice, bob, outsider, team_a, team_b):
    SubmissionFactory.create_batch(2, team=team_a, submitter=alice, status=Status.PARSED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=bob, status=Status.QUEUED)
    SubmissionFactory(team=team_b, submitter=outsider, status=Status.PARSED)
    rows = stats.member_breakdown(team_a)
    assert [(r.username, r.total, r.done, r.failed, r.in_progress) for r in rows] == [
        ("alice", 3, 2, 1, 0),
        ("bob", 1, 0, 0, 1),
    ]
    assert rows[0].success_rate_display == "67%"
    assert rows[1].success_rate_display == "—"


def test_the_drawing_has_a_rect_per_segment_and_escapes_its_text():
    dates = stats.chart_days(2)
    series = (charts.Series("done", "Done <b>", ()), charts.Series("failed", "Failed", ()))
    chart = charts.stacked_bars(
        title="t", dates=dates, series=series, count=lambda day, s: 2 if day == dates[1] else 0
    )
    svg = chart.layouts[0].drawing()
    assert svg.count("<rect ") == 2
    assert 'class="series-done"' in svg and 'class="series-failed"' in svg
    assert "2 done &lt;b&gt;, 2 failed" in svg
    assert "<b>" not in svg


def test_a_period_is_compared_with_the_one_before(alice, team_a):
    now = timezone.now()
    for days_ago, status in [
        (1, Status.PARSED),
        (2, Status.FAILED),
        (8, Status.PARSED),
        (20, "queued"),
    ]:
        SubmissionFactory(
            team=team_a, submitter=alice, status=status, created_at=now - timedelta(days=days_ago)
        )
    submissions = Submission.objects.all()
    period = stats.figures(submissions, Tally.objects.all(), days=7).period
    assert (period.now.submitted, period.now.done, period.now.failed) == (2, 1, 1)
    assert (period.before.submitted, period.before.done) == (1, 1)
    assert period.now.success_rate_display == "50%"
    assert len(stats.figures(submissions, Tally.objects.all(), days=90).chart.rows) == 90
