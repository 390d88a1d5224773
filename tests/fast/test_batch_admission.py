"""A batch under the cap and the quota: what does not fit is held, and joins the queue later."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.conftest import check_to_end, make_batch
from tests.factories import MembershipFactory, SubmissionFactory
from uploads import periodic
from uploads.batches import service
from uploads.models import BatchRow, Event, Membership, Status, Submission
from uploads.sending import admission

# Quotas count by month, and "today" is a day: the clock is kept far from either end.
pytestmark = pytest.mark.usefixtures("mid_month", "commit_callbacks_at_once")

Row = BatchRow.State


def checked_batch(client, user, team, clip_url, n):
    return check_to_end(
        make_batch(client, user, team, urls="\n".join(f"{clip_url}?{i}" for i in range(n)))
    )


def states(batch):
    return list(batch.rows.order_by("line").values_list("state", flat=True))


def test_rows_beyond_the_cap_are_held_and_join_the_queue_as_room_frees(
    client, alice, team_a, clip_url, settings
):
    settings.MAX_WAITING_PER_PERSON = 3
    SubmissionFactory(team=team_a, submitter=alice)
    batch = checked_batch(client, alice, team_a, clip_url, 5)
    counts = service.confirm(batch, alice)
    assert (counts["queued"], counts["held"]) == (2, 3)
    assert states(batch) == [Row.QUEUED] * 2 + [Row.HELD] * 3
    assert admission.room(team_a, alice) == 0
    assert batch.submissions.count() == 2
    assert set(batch.submissions.values_list("counted_in", flat=True)) == {admission.this_month()}
    assert periodic.run_once()["released"] == 0  # no room yet
    first = batch.submissions.order_by("pk").first()
    first.transition(Status.CANCELLED, kind=Event.Kind.CANCELLED, actor=alice)
    assert admission.release_held() == 1
    assert states(batch) == [Row.QUEUED] * 3 + [Row.HELD] * 2  # oldest first
    batch.refresh_from_db()
    assert batch.queued_count == 3
    assert batch.rows.get(line=3).submission.counted_in == admission.this_month()


def test_rows_beyond_the_monthly_quota_are_held_and_counted_as_they_join(
    client, alice, team_a, clip_url
):
    team_a.monthly_quota = 4
    team_a.save()
    SubmissionFactory(team=team_a, submitter=alice)
    admission_used = admission.quota(team_a).used
    batch = checked_batch(client, alice, team_a, clip_url, 6)
    counts = service.confirm(batch, alice)
    assert (counts["queued"], counts["held"]) == (4 - admission_used, 2 + admission_used)
    assert admission.quota(team_a).left == 0
    assert admission.release_held() == 0  # the quota, not the cap, holds them
    team_a.monthly_quota = 5
    team_a.save()
    assert admission.release_held() == 1
    assert admission.quota(team_a).used == 5


def test_the_batch_page_says_how_many_are_held_and_when_the_quota_resets(
    client, alice, team_a, clip_url
):
    team_a.monthly_quota = 1
    team_a.save()
    batch = checked_batch(client, alice, team_a, clip_url, 3)
    client.force_login(alice)
    response = client.post(reverse("batch_confirm", args=[batch.pk]), follow=True)
    page = response.content.decode()
    assert "2 held: they join the queue as room frees" in page
    assert "when the quota resets on" in page
    reset = timezone.localtime(admission.quota(team_a).resets_at)
    assert f"{reset:%-d %B %Y}" in page


def test_cancelling_a_batch_leaves_its_held_rows_out(client, alice, team_a, clip_url, settings):
    settings.MAX_WAITING_PER_PERSON = 1
    batch = checked_batch(client, alice, team_a, clip_url, 3)
    service.confirm(batch, alice)
    client.force_login(alice)
    client.post(reverse("batch_cancel", args=[batch.pk]), {"confirmed": "yes"})
    assert not batch.rows.filter(state=Row.HELD).exists()
    assert admission.release_held() == 0


@pytest.mark.parametrize("who", ["manager", "superuser"])
def test_a_manager_moves_the_whole_batch_to_the_front(
    client, alice, team_a, clip_url, superuser, who
):
    if who == "manager":
        Membership.objects.filter(user=alice, team=team_a).update(role=Membership.Role.MANAGER)
    batch = checked_batch(client, alice, team_a, clip_url, 3)
    service.confirm(batch, alice)
    client.force_login(alice if who == "manager" else superuser)
    page = client.get(batch.get_absolute_url()).content.decode()
    assert "Move the whole batch to the front" in page
    client.post(reverse("batch_move_to_front", args=[batch.pk]))
    assert not batch.submissions.filter(fronted_at__isnull=True).exists()
    for submission in batch.submissions.all():
        assert submission.events.filter(kind=Event.Kind.MOVED).count() == 1


def test_a_member_cannot_move_their_batch_to_the_front(client, alice, team_a, clip_url):
    batch = checked_batch(client, alice, team_a, clip_url, 2)
    service.confirm(batch, alice)
    client.force_login(alice)
    assert "Move the whole batch" not in client.get(batch.get_absolute_url()).content.decode()
    client.post(reverse("batch_move_to_front", args=[batch.pk]))
    assert not Submission.objects.filter(fronted_at__isnull=False).exists()


def test_a_manager_of_another_team_moves_only_what_they_manage(
    client, alice, team_a, team_b, clip_url
):
    MembershipFactory(user=alice, team=team_b, role=Membership.Role.MANAGER)
    batch = checked_batch(client, alice, team_a, clip_url, 2)
    service.confirm(batch, alice)
    client.force_login(alice)
    client.post(reverse("batch_move_to_front", args=[batch.pk]))
    assert not Submission.objects.filter(fronted_at__isnull=False).exists()


def test_held_rows_are_let_in_only_for_people_still_active_in_the_team(
    client, alice, bob, team_a, clip_url, settings
):
    settings.MAX_WAITING_PER_PERSON = 1
    mine = checked_batch(client, alice, team_a, clip_url, 2)
    service.confirm(mine, alice)
    theirs = checked_batch(client, bob, team_a, clip_url + "?bob", 2)
    service.confirm(theirs, bob)
    Membership.objects.filter(user=alice, team=team_a).delete()
    bob.is_active = False
    bob.save()
    Submission.objects.filter(status=Status.QUEUED).update(status=Status.CANCELLED)
    assert admission.release_held() == 0
    assert states(mine)[1] == states(theirs)[1] == Row.HELD
    MembershipFactory(user=alice, team=team_a)
    assert admission.release_held() == 1
    assert states(mine)[1] == Row.QUEUED and states(theirs)[1] == Row.HELD
