from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.models import Event, Membership, Status, Submission, UploadGate
from uploads.sending import admission


def test_the_submission_list_and_page_render_with_the_timeline(client, superuser, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, video_no="VI123")
    submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
    client.force_login(superuser)
    listing = client.get(reverse("admin:uploads_submission_changelist"), {"q": "VI123"})
    assert listing.status_code == 200
    assert submission.url[:40] in listing.content.decode()
    page = client.get(reverse("admin:uploads_submission_change", args=[submission.pk]))
    assert page.status_code == 200
    assert "Submitted." in page.content.decode()


def test_resending_a_failed_submission_records_who_did_it(
    client, superuser, alice, team_a, django_capture_on_commit_callbacks
):
    submission = SubmissionFactory(
        team=team_a, submitter=alice, status=Status.FAILED, error_message="boom"
    )
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:uploads_submission_changelist"),
            {"action": "resend", "_selected_action": [submission.pk]},
        )
    submission.refresh_from_db()
    assert submission.status == Status.QUEUED
    assert submission.error_message == ""
    event = submission.events.get(kind=Event.Kind.ADMIN)
    assert event.actor == superuser


def test_marking_a_reviewed_submission_failed(client, superuser, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    client.force_login(superuser)
    client.post(
        reverse("admin:uploads_submission_changelist"),
        {"action": "mark_failed", "_selected_action": [submission.pk]},
    )
    submission.refresh_from_db()
    assert submission.status == Status.FAILED


def test_moving_waiting_ones_to_the_front_from_the_admin(client, superuser, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(superuser)
    client.post(
        reverse("admin:uploads_submission_changelist"),
        {"action": "move_to_front", "_selected_action": [waiting.pk, done.pk]},
    )
    waiting.refresh_from_db()
    assert waiting.fronted_at is not None
    assert waiting.events.get(kind=Event.Kind.MOVED).actor == superuser
    assert not done.events.exists()


def test_a_teams_quota_and_cap_are_set_and_shown_in_the_admin(client, superuser, team_a):
    client.force_login(superuser)
    page = client.get(reverse("admin:uploads_team_change", args=[team_a.pk])).content.decode()
    assert 'name="monthly_quota"' in page and 'name="max_waiting_per_person"' in page
    team_a.monthly_quota = 100
    team_a.save()
    listing = client.get(reverse("admin:uploads_team_changelist")).content.decode()
    assert "0 of 100, 100 left" in listing


def test_resume_unpauses_sending(client, superuser):
    UploadGate.pause("memories.ai refused the account (0402): not enough points")
    client.force_login(superuser)
    client.post(
        reverse("admin:uploads_uploadgate_changelist"),
        {"action": "resume_sending", "_selected_action": [UploadGate.get().pk]},
    )
    assert not UploadGate.get().paused


def test_a_users_admin_page_links_to_their_dashboard(client, superuser, alice):
    client.force_login(superuser)
    page = client.get(reverse("admin:auth_user_change", args=[alice.pk])).content.decode()
    assert f'href="{reverse("user_dashboard", args=[alice.pk])}"' in page


def test_a_teams_admin_page_links_to_its_dashboard(client, superuser, team_a):
    client.force_login(superuser)
    page = client.get(reverse("admin:uploads_team_change", args=[team_a.pk])).content.decode()
    assert "View on site" in page
    content_type = ContentType.objects.get_for_model(team_a)
    response = client.get(f"/admin/r/{content_type.pk}/{team_a.pk}/")
    assert response.status_code == 302
    assert response.url.endswith(reverse("team_dashboard", args=[team_a.slug]))


def test_what_was_sent_is_read_only_and_tags_are_words(client, superuser, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice, tags=["beach", "dawn"])
    sent = SubmissionFactory(team=team_a, submitter=alice, status=Status.PROCESSING, tags=["a"])
    client.force_login(superuser)
    page = client.get(reverse("admin:uploads_submission_change", args=[waiting.pk]))
    html = page.content.decode()
    assert 'name="url"' in html and 'name="tags"' in html
    assert 'value="beach, dawn"' in html
    page = client.get(reverse("admin:uploads_submission_change", args=[sent.pk]))
    html = page.content.decode()
    for name in ("url", "team", "tags", "latitude"):
        assert f'name="{name}"' not in html, name
    assert '["a"]' not in html
    client.post(
        reverse("admin:uploads_submission_change", args=[sent.pk]),
        {"url": "https://elsewhere.example/x.mp4", "tags": "changed", "team": team_a.pk,
         "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0},
    )  # fmt: skip
    sent.refresh_from_db()
    assert sent.url != "https://elsewhere.example/x.mp4" and sent.tags == ["a"]


def test_tags_typed_in_the_admin_are_kept_as_a_list(client, superuser, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice, tags=["beach"])
    client.force_login(superuser)
    url = reverse("admin:uploads_submission_change", args=[waiting.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"tags": "beach, dawn , beach", "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0})
    data = {k: v for k, v in data.items() if v is not False}
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    waiting.refresh_from_db()
    assert waiting.tags == ["beach", "dawn"]


def test_the_upload_gate_says_running_in_words(client, superuser):
    gate = UploadGate.get()
    client.force_login(superuser)
    html = client.get(reverse("admin:uploads_uploadgate_change", args=[gate.pk])).content.decode()
    assert "Running" in html
    assert "icon-no.svg" not in html


def test_the_admins_add_goes_through_the_portals_one_door(client, superuser, team_a):
    client.force_login(superuser)
    add = reverse("admin:uploads_submission_add")
    response = client.post(add, {"url": "http://localhost/x.mp4", "team": team_a.pk})
    assert response.status_code == 302
    assert response.url == reverse("submission_new")
    assert client.get(add).url == reverse("submission_new")
    assert not Submission.objects.exists()


def test_a_submission_made_by_an_admin_is_checked_counted_and_theirs(
    client, superuser, team_a, clip_url
):
    Membership.objects.create(team=team_a, user=superuser)
    team_a.monthly_quota = 1
    team_a.save()
    client.force_login(superuser)
    refused = client.post(
        reverse("submission_new"), {"team": team_a.pk, "url": "http://localhost/x.mp4"}
    )
    assert refused.status_code == 200 and not Submission.objects.exists()
    client.post(reverse("submission_new"), {"team": team_a.pk, "url": clip_url})
    made = Submission.objects.get()
    assert made.submitter == superuser and made.counted_in is not None
    assert made.events.get().kind == Event.Kind.CREATED
    assert admission.quota(team_a).used == 1
    over = client.post(reverse("submission_new"), {"team": team_a.pk, "url": clip_url + "?2"})
    assert "used all 1 uploads of its quota" in over.content.decode()
    assert Submission.objects.count() == 1


def test_a_waiting_ones_new_url_in_the_admin_is_checked_and_its_team_is_fixed(
    client, superuser, alice, team_a
):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(superuser)
    url = reverse("admin:uploads_submission_change", args=[waiting.pk])
    form = client.get(url).context["adminform"].form
    assert "team" not in form.fields and "submitter" not in form.fields
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data = {k: v for k, v in data.items() if v is not False}
    data.update(
        {"url": "http://localhost/x.mp4", "events-TOTAL_FORMS": 0, "events-INITIAL_FORMS": 0}
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    waiting.refresh_from_db()
    assert waiting.url != "http://localhost/x.mp4"
