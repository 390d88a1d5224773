"""The status fragment pages poll while a submission they show may change."""

from django.urls import reverse

from tests.factories import SubmissionFactory
from uploads.models import Status


def poll(client, *submissions):
    ids = ",".join(str(s.pk) for s in submissions)
    return client.get(reverse("submission_statuses"), {"ids": ids})


def test_it_returns_each_badge_to_swap_in_by_id(client, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    response = poll(client, waiting, done)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="live-status-{waiting.pk}" hx-swap-oob="true"' in html
    assert f'id="live-status-{done.pk}" hx-swap-oob="true"' in html
    assert ">Done</span>" in html and ">Waiting</span>" in html
    assert "place 1" in html
    assert "no-cache" in response["Cache-Control"]


def test_it_keeps_polling_for_those_not_final(client, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    html = poll(client, waiting, done).content.decode()
    assert f'?ids={waiting.pk}" hx-trigger="every 3s"' in html


def test_polling_stops_once_everything_shown_is_final(client, alice, team_a):
    done = SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    failed = SubmissionFactory(team=team_a, submitter=alice, status=Status.FAILED)
    client.force_login(alice)
    html = poll(client, done, failed).content.decode()
    assert '<div id="status-poller"></div>' in html
    assert "hx-trigger" not in html and "hx-get" not in html


def test_a_teammates_submission_may_be_polled(client, alice, bob, team_a):
    theirs = SubmissionFactory(team=team_a, submitter=bob)
    client.force_login(alice)
    assert poll(client, theirs).status_code == 200


def test_another_teams_submission_is_404_even_mixed_with_visible_ones(
    client, alice, outsider, team_a
):
    mine = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(outsider)
    assert poll(client, mine).status_code == 404
    theirs = SubmissionFactory(team=outsider.teams.get(), submitter=outsider)
    response = poll(client, theirs, mine)
    assert response.status_code == 404
    assert f"live-status-{mine.pk}" not in response.content.decode()


def test_a_superuser_may_poll_anything(client, superuser, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    client.force_login(superuser)
    assert poll(client, submission).status_code == 200


def test_malformed_or_too_many_ids_are_refused(client, alice):
    client.force_login(alice)
    url = reverse("submission_statuses")
    assert client.get(url, {"ids": "1,x"}).status_code == 400
    assert client.get(url).status_code == 400
    assert client.get(url, {"ids": ",".join(map(str, range(1, 102)))}).status_code == 400


def test_a_logged_out_page_is_told_to_stop_polling(client, alice, team_a):
    submission = SubmissionFactory(team=team_a, submitter=alice)
    response = poll(client, submission)
    assert response.status_code == 286  # htmx's "stop polling"
    assert response.content == b""


def test_ids_beyond_any_row_are_404_not_an_error(client, alice):
    client.force_login(alice)
    response = client.get(reverse("submission_statuses"), {"ids": "99999999999999999999"})
    assert response.status_code == 404
