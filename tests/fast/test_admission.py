"""The cap on each person's waiting submissions, each team's monthly quota, and held work."""

import contextlib
import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import close_old_connections, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory, TeamFactory, submission_fields
from uploads import services, submitting
from uploads.forms import SubmissionForm
from uploads.models import Event, PersonSettings, QuotaMonth, Status, Submission
from uploads.sending import admission

# Quotas count by month, and "today" is a day: the clock is kept far from either end.
pytestmark = pytest.mark.usefixtures("mid_month")


@pytest.fixture
def form_data(clip_url):
    def make(team, **overrides):
        return {"team": team.pk, "url": clip_url, **overrides}

    return make


def fields(team):
    return submission_fields(team)


def used(team):
    return admission.quota(team).used


# --- the cap ------------------------------------------------------------------------------


def test_the_cap_refuses_one_more_with_a_message_at_the_top_of_the_form(
    client, alice, team_a, settings, form_data
):
    settings.MAX_WAITING_PER_PERSON = 3
    SubmissionFactory.create_batch(3, team=team_a, submitter=alice)
    client.force_login(alice)
    response = client.post(reverse("submission_new"), form_data(team_a))
    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    assert "3 submissions waiting in Alpha, the most one person may have waiting there" in error
    assert 'class="error-summary"' in response.content.decode()
    assert Submission.objects.count() == 3


def test_at_the_cap_the_form_says_so_before_the_url_is_fetched(
    alice, team_a, settings, form_data, monkeypatch
):
    settings.MAX_WAITING_PER_PERSON = 1
    SubmissionFactory(team=team_a, submitter=alice)

    def not_fetched(*args, **kwargs):
        raise AssertionError("the URL was fetched for a person at their cap")

    monkeypatch.setattr(submitting, "check_link", not_fetched)
    form = SubmissionForm(form_data(team_a), user=alice)
    assert not submitting.ready_to_submit(form)
    [error] = form.non_field_errors()
    assert "the most one person may have waiting there" in error
    assert not form.errors.get("url")


def test_what_left_the_queue_frees_room_and_a_teammate_has_their_own(alice, bob, team_a, settings):
    settings.MAX_WAITING_PER_PERSON = 2
    mine = SubmissionFactory.create_batch(2, team=team_a, submitter=alice)
    with pytest.raises(services.Refused):
        services.submit(alice, fields(team_a))
    services.submit(bob, fields(team_a))  # bob's own room
    services.cancel(alice, mine[0])
    services.submit(alice, fields(team_a))
    assert Submission.objects.filter(submitter=alice, status=Status.QUEUED).count() == 2


def test_a_team_sets_its_own_cap(alice, team_a, settings):
    settings.MAX_WAITING_PER_PERSON = 100
    team_a.max_waiting_per_person = 1
    team_a.save()
    services.submit(alice, fields(team_a))
    with pytest.raises(services.Refused, match="the most one person may have waiting there"):
        services.submit(alice, fields(team_a))
    assert admission.room(team_a, alice) == 0


def test_a_refusal_after_the_form_passed_is_shown_on_the_form_not_a_500(
    client, alice, team_a, monkeypatch, form_data, settings
):
    """Another submission took the last place between the form's check and the queueing."""
    settings.MAX_WAITING_PER_PERSON = 1
    client.force_login(alice)
    monkeypatch.setattr(admission, "why_not", lambda team, person: "")
    SubmissionFactory(team=team_a, submitter=alice)
    response = client.post(reverse("submission_new"), form_data(team_a))
    assert response.status_code == 200
    assert "the most one person may have waiting there" in str(
        response.context["form"].non_field_errors()
    )


# --- the monthly quota --------------------------------------------------------------------


def test_beyond_the_quota_a_submission_is_refused_saying_when_it_resets(
    client, alice, team_a, form_data, settings
):
    settings.TIME_ZONE = "UTC"
    team_a.monthly_quota = 2
    team_a.save()
    first = services.submit(alice, fields(team_a))
    services.submit(alice, fields(team_a))
    client.force_login(alice)
    response = client.post(reverse("submission_new"), form_data(team_a))
    assert response.status_code == 200
    [error] = response.context["form"].non_field_errors()
    resets = admission.resets_at(admission.this_month())
    assert "Alpha has used all 2 uploads of its quota for" in error
    assert f"queued again from {resets:%-d %B %Y}, 00:00 UTC." in error
    assert "Everything already queued stays queued." in error
    first.refresh_from_db()
    assert first.status == Status.QUEUED


def test_the_quota_resets_in_the_persons_own_zone_on_the_form_as_on_the_dashboard(
    client, alice, team_a, form_data, settings, time_machine
):
    settings.TIME_ZONE = "UTC"
    time_machine.move_to(datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    PersonSettings.objects.create(user=alice, time_zone="Europe/Paris")
    team_a.monthly_quota = 1
    team_a.save()
    services.submit(alice, fields(team_a))
    client.force_login(alice)
    response = client.post(reverse("submission_new"), form_data(team_a))
    [error] = response.context["form"].non_field_errors()
    # Midnight UTC on 1 February is 01:00 in Paris (CET).
    assert "queued again from 1 February 2026, 01:00 CET." in error
    dashboard = client.get(reverse("team_dashboard", args=[team_a.slug])).content.decode()
    assert "1 February 2026, 01:00 CET</time>" in dashboard


def test_a_submission_cancelled_before_it_is_sent_gives_its_unit_back(alice, team_a):
    team_a.monthly_quota = 1
    team_a.save()
    submission = services.submit(alice, fields(team_a))
    assert used(team_a) == 1 and admission.quota(team_a).left == 0
    services.cancel(alice, submission)
    assert used(team_a) == 0
    services.submit(alice, fields(team_a))  # the unit is there again
    submission.refresh_from_db()
    assert submission.counted_in is None


def test_a_sent_submission_keeps_its_unit_and_one_that_died_waiting_gives_it_back(alice, team_a):
    sent, died = services.submit(alice, fields(team_a)), services.submit(alice, fields(team_a))
    sent.transition(Status.SENDING, kind=Event.Kind.CLAIMED)
    sent.transition(Status.FAILED, kind=Event.Kind.REFUSED)
    died.transition(Status.FAILED, kind=Event.Kind.REFUSED, only_from={Status.QUEUED})
    assert used(team_a) == 1


def test_the_month_is_the_portals_time_zone(monkeypatch, settings):
    settings.TIME_ZONE = "Pacific/Auckland"  # UTC+13 in December
    late_utc = datetime(2026, 12, 31, 12, 0, tzinfo=UTC)  # already 1 January there
    monkeypatch.setattr(timezone, "now", lambda: late_utc)
    assert admission.this_month() == date(2027, 1, 1)
    assert admission.resets_at(date(2026, 12, 1)).isoformat() == "2027-01-01T00:00:00+13:00"


def test_the_team_dashboard_shows_the_quota_used_and_left(client, alice, team_a):
    team_a.monthly_quota = 10
    team_a.save()
    services.submit(alice, fields(team_a))
    client.force_login(alice)
    page = client.get(reverse("team_dashboard", args=[team_a.slug])).content.decode()
    assert 'data-figure="quota-used">1<' in page
    assert "used of 10, 9 left; the quota resets" in page


# --- at the same time ---------------------------------------------------------------------


def at_once(faults, *calls):
    """Run the calls in two threads; each holds its transaction between reading the counter
    and writing it until the other arrives (or 1 s passed: it is waiting for the lock)."""
    barrier = threading.Barrier(len(calls))

    def meet(**context):
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)

    faults.at("admission.between_read_and_write", meet)
    outcomes = []

    def run(call):
        try:
            call()
            outcomes.append("queued")
        except services.Refused:
            outcomes.append("refused")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(outcomes)


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_for_the_last_unit_one_is_refused(faults):
    from tests.conftest import member_of

    team = TeamFactory(monthly_quota=2)
    ann, ben = member_of(team, "ann"), member_of(team, "ben")
    services.submit(ann, fields(team))  # one unit left, and the month's row exists
    outcomes = at_once(
        faults,
        lambda: services.submit(ann, fields(team)),
        lambda: services.submit(ben, fields(team)),
    )
    assert outcomes == ["queued", "refused"]
    assert QuotaMonth.objects.get(team=team).used == 2
    assert Submission.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_for_the_last_place_one_is_refused(faults, settings):
    from tests.conftest import member_of

    settings.MAX_WAITING_PER_PERSON = 2
    team = TeamFactory()
    ann = member_of(team, "ann")
    services.submit(ann, fields(team))  # one place left, and ann's lane exists
    outcomes = at_once(
        faults,
        lambda: services.submit(ann, fields(team)),
        lambda: services.submit(ann, fields(team)),
    )
    assert outcomes == ["queued", "refused"]
    assert Submission.objects.count() == 2


# --- held work ----------------------------------------------------------------------------


class HeldRows:
    """A stand-in for a batch's rows held beyond the cap: a count per person."""

    def __init__(self, team, person, count):
        self.team, self.person, self.count = team, person, count

    def held(self):
        return [(self.team.pk, self.person.pk, self.count)] if self.count else []

    def release(self, team, person_id, n, counted_in):
        for _ in range(n):
            data = fields(team)
            services.queue_new(self.person, data, counted_in=counted_in)
        self.count -= n
        return n


@pytest.fixture
def held_source(monkeypatch):
    monkeypatch.setattr(admission, "_sources", [])

    def register(*args):
        return admission.holds_work(HeldRows(*args))

    return register


def test_held_work_joins_the_queue_as_room_frees(alice, team_a, settings, held_source):
    from uploads import periodic

    settings.MAX_WAITING_PER_PERSON = 2
    waiting = SubmissionFactory.create_batch(2, team=team_a, submitter=alice)
    rows = held_source(team_a, alice, 3)
    assert periodic.run_once()["released"] == 0  # no room yet
    services.cancel(alice, waiting[0])
    assert periodic.run_once()["released"] == 1
    assert rows.count == 2
    Submission.objects.filter(pk=waiting[1].pk).update(status=Status.PARSED)
    assert admission.release_held() == 1 and rows.count == 1
    assert Submission.objects.filter(submitter=alice, status=Status.QUEUED).count() == 2


def test_held_work_waits_for_the_quota_too(alice, team_a, held_source):
    team_a.monthly_quota = 2
    team_a.save()
    rows = held_source(team_a, alice, 5)
    assert admission.release_held() == 2
    assert rows.count == 3 and used(team_a) == 2
    assert admission.release_held() == 0


def test_admit_takes_only_what_fits_for_work_that_can_wait(alice, team_a, settings):
    settings.MAX_WAITING_PER_PERSON = 3
    SubmissionFactory(team=team_a, submitter=alice)
    with transaction.atomic():
        granted, month = admission.admit(team_a, alice, 10, partial=True)
    assert granted == 2 and month == admission.this_month()
    assert used(team_a) == 2


@pytest.mark.django_db(transaction=True)  # no test transaction around it
def test_admit_must_run_in_the_queueing_transaction(alice, team_a):
    with pytest.raises(RuntimeError):
        admission.admit(team_a, alice, 1)


def test_quota_resets_next_month(alice, team_a, monkeypatch):
    team_a.monthly_quota = 1
    team_a.save()
    services.submit(alice, fields(team_a))
    next_month = admission.resets_at(admission.this_month()) + timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: next_month)
    assert admission.quota(team_a).left == 1
    services.submit(alice, fields(team_a))


def test_an_admins_resend_passes_the_cap_and_the_quota_and_takes_no_new_unit(
    alice, team_a, superuser, settings
):
    settings.MAX_WAITING_PER_PERSON = 1
    team_a.monthly_quota = 2
    team_a.save()
    first = services.submit(alice, fields(team_a))
    Submission.objects.filter(pk=first.pk).update(status=Status.FAILED)  # sent, refused
    services.submit(alice, {**fields(team_a), "url": "https://videos.example.com/two.mp4"})
    assert (used(team_a), admission.room(team_a, alice)) == (2, 0)  # quota and cap full
    services.resend(superuser, first)
    first.refresh_from_db()
    assert first.status == Status.QUEUED
    assert used(team_a) == 2  # it keeps the unit it took when first queued
    assert Submission.objects.filter(counted_in=admission.this_month()).count() == 2
