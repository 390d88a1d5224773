import pytest
from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.models import Event, Status, Submission
from uploads.tasks import wake_sender


@pytest.fixture
def form_data(clip_url):
    def make(team, **overrides):
        return {"team": team.pk, "url": clip_url, "tags": "beach, sunset, beach", **overrides}

    return make


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("submission_new"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_a_member_submits_and_lands_on_the_submission(
    client, alice, team_a, django_capture_on_commit_callbacks, form_data
):
    client.force_login(alice)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("submission_new"), form_data(team_a))
    submission = Submission.objects.get()
    assert response.status_code == 302
    assert response.url == submission.get_absolute_url()
    assert submission.status == Status.QUEUED
    assert submission.tags == ["beach", "sunset"]
    assert submission.team == team_a and submission.submitter == alice
    assert submission.events.get().kind == Event.Kind.CREATED
    # The sender's wake-up, only after commit (the other callback logs the event).
    assert callbacks.count(wake_sender) == 1


def test_a_rolled_back_submission_leaves_no_wake_up(client, alice, team_a, monkeypatch, form_data):
    from django_tasks_db.models import DBTaskResult

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    client.force_login(alice)
    client.raise_request_exception = False
    monkeypatch.setattr(Submission, "record", explode)
    response = client.post(reverse("submission_new"), form_data(team_a))
    assert response.status_code == 500
    assert not Submission.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_a_user_cannot_submit_into_another_team(client, alice, team_b, form_data):
    client.force_login(alice)
    response = client.post(reverse("submission_new"), form_data(team_b))
    assert response.status_code == 200
    assert "Choose one of your own teams." in response.context["form"].errors["team"]
    assert not Submission.objects.exists()


def test_the_form_offers_only_the_users_teams(client, alice, team_a, team_b):
    client.force_login(alice)
    response = client.get(reverse("submission_new"))
    assert list(response.context["form"].fields["team"].queryset) == [team_a]


def test_a_teammate_sees_a_submission(client, alice, bob, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(bob)
    assert client.get(submission.get_absolute_url()).status_code == 200


def test_another_teams_member_gets_404(client, alice, outsider, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(outsider)
    assert client.get(submission.get_absolute_url()).status_code == 404
    response = client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    assert response.status_code == 404
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED


def test_a_superuser_sees_every_submission(client, alice, superuser, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(superuser)
    assert client.get(submission.get_absolute_url()).status_code == 200


def test_the_detail_page_shows_fields_status_and_timeline(client, alice, team_a):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, camera_model="Canon EOS 5D", tags=["a", "b"]
    )
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    client.force_login(alice)
    page = client.get(submission.get_absolute_url()).content.decode()
    assert submission.url in page.replace("<wbr>", "")  # breakable after its slashes
    assert "Canon EOS 5D" in page
    assert "Waiting" in page
    assert "Submitted." in page


def test_my_uploads_lists_only_mine_newest_first_and_filters_by_status(client, alice, bob, team_a):
    older = SubmissionFactory(team=team_a, submitter=alice)
    newer = SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=bob)
    client.force_login(alice)
    response = client.get(reverse("submission_list"))
    assert list(response.context["page"].object_list) == [newer, older]
    response = client.get(reverse("submission_list"), {"status": "failed"})
    assert list(response.context["page"].object_list) == [newer]


def test_my_uploads_paginates(client, alice, team_a):
    SubmissionFactory.create_batch(30, team=team_a, submitter=alice)
    client.force_login(alice)
    response = client.get(reverse("submission_list"), {"page": 2})
    assert len(response.context["page"].object_list) == 5


def test_a_submitter_cancels_their_waiting_submission(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    submission.refresh_from_db()
    assert submission.status == Status.CANCELLED
    assert submission.events.get(kind=Event.Kind.CANCELLED).actor == alice


def test_a_teammate_cannot_cancel_but_a_manager_can(client, alice, bob, manager, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(bob)
    client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    client.force_login(manager)
    client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    submission.refresh_from_db()
    assert submission.status == Status.CANCELLED


@pytest.mark.parametrize("status", [Status.SENDING, Status.PROCESSING, Status.PARSED])
def test_only_waiting_submissions_can_be_cancelled(client, alice, team_a, status):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=status)
    client.force_login(alice)
    client.post(reverse("submission_cancel", args=[submission.pk]), {"confirmed": "yes"})
    submission.refresh_from_db()
    assert submission.status == status


def test_waiting_submissions_show_their_place_in_the_queue(client, alice, bob, team_a):
    SubmissionFactory(team=team_a, submitter=bob)
    mine = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(alice)
    assert "place 2" in client.get(mine.get_absolute_url()).content.decode()
    assert "place 2" in client.get(reverse("submission_list")).content.decode()


def test_the_url_is_a_link_only_when_it_is_http_or_https(client, alice, team_a):
    web = SubmissionFactory(team=team_a, submitter=alice, url="https://videos.example.com/a.mp4")
    other = SubmissionFactory(team=team_a, submitter=alice, url="javascript:alert(1)//a.mp4")
    client.force_login(alice)
    page = client.get(web.get_absolute_url()).content.decode()
    assert '<a href="https://videos.example.com/a.mp4" rel="noopener noreferrer"' in page
    page = client.get(other.get_absolute_url()).content.decode()
    shown = page.replace("<wbr>", "")  # breakable after its slashes
    assert 'href="javascript:' not in page and "javascript:alert(1)//a.mp4" in shown
    assert "Preview of the video" not in page
