"""The submission list's filters, sorting and pagination (`/submissions/`)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory, TeamFactory
from uploads.models import Status
from uploads.pagination import CappedPaginator

# Quotas count by month, and "today" is a day: the clock is kept far from either end.
pytestmark = pytest.mark.usefixtures("mid_month")


def listed(client, **params):
    response = client.get(reverse("submission_list"), params)
    assert response.status_code == 200, response.status_code
    return list(response.context["page"].object_list)


@pytest.fixture
def spread(alice, bob, team_a, outsider, team_b):
    """Submissions of alice and bob in team A, and of oscar in team B."""
    now = timezone.now()
    return {
        "alice_old": SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=Status.PARSED,
            tags=["beach", "Sunset"],
            camera_model="Canon EOS 5D",
            created_at=now - timedelta(days=10),
        ),
        "alice_new": SubmissionFactory(
            team=team_a,
            submitter=alice,
            status=Status.FAILED,
            tags=["beaches", "café"],
            video_no="VI777",
            created_at=now - timedelta(days=1),
        ),
        "bob": SubmissionFactory(
            team=team_a, submitter=bob, status=Status.PARSED, tags=["beach"], created_at=now
        ),
        "oscar": SubmissionFactory(
            team=team_b, submitter=outsider, tags=["beach"], url="https://b.example/beach.mp4"
        ),
    }


def test_by_default_the_list_is_my_uploads_newest_first(client, alice, spread):
    client.force_login(alice)
    assert listed(client) == [spread["alice_new"], spread["alice_old"]]


def test_anyone_in_my_teams_shows_teammates_but_never_another_team(client, alice, spread):
    client.force_login(alice)
    assert listed(client, submitter="any") == [
        spread["bob"],
        spread["alice_new"],
        spread["alice_old"],
    ]


def test_filter_by_a_teammate(client, alice, bob, spread):
    client.force_login(alice)
    assert listed(client, submitter=bob.pk) == [spread["bob"]]


def test_my_own_id_means_me(client, alice, spread):
    client.force_login(alice)
    assert listed(client, submitter=alice.pk) == [spread["alice_new"], spread["alice_old"]]


def test_filter_by_status(client, alice, spread):
    client.force_login(alice)
    assert listed(client, status="failed") == [spread["alice_new"]]


def test_filter_by_team_offers_only_my_teams(client, alice, team_a, team_b, spread):
    client.force_login(alice)
    response = client.get(reverse("submission_list"), {"team": team_a.slug, "submitter": "any"})
    assert len(response.context["page"].object_list) == 3
    assert list(response.context["form"].fields["team"].queryset) == [team_a]


def test_naming_another_teams_team_or_member_is_404(client, alice, outsider, team_b, spread):
    client.force_login(alice)
    assert client.get(reverse("submission_list"), {"team": team_b.slug}).status_code == 404
    assert client.get(reverse("submission_list"), {"submitter": outsider.pk}).status_code == 404


def test_filter_by_date_range_in_local_days(client, alice, spread):
    client.force_login(alice)
    today = timezone.localdate()
    assert listed(client, date_from=today - timedelta(days=2)) == [spread["alice_new"]]
    assert listed(client, date_to=today - timedelta(days=5)) == [spread["alice_old"]]
    day = (today - timedelta(days=10)).isoformat()
    assert listed(client, date_from=day, date_to=day) == [spread["alice_old"]]


def test_a_backwards_date_range_shows_the_error_beside_the_field(client, alice, spread):
    client.force_login(alice)
    response = client.get(
        reverse("submission_list"), {"date_from": "2025-05-02", "date_to": "2025-05-01"}
    )
    assert response.context["form"].errors["date_to"] == ["The end date is before the start date."]
    page = response.content.decode()
    assert 'id="id_date_to_error"' in page
    assert 'value="2025-05-02"' in page  # what was typed stays


@pytest.mark.parametrize(
    "field, value",
    [
        ("date_to", "9999-12-31"),  # the day after does not exist
        ("date_from", "9999-12-31"),
        ("date_from", "0001-01-01"),  # before UTC's midnight in any zone east of it
        ("date_to", "3000-01-01"),
        ("date_from", "1899-12-31"),
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_a_date_out_of_range_is_an_error_beside_the_field(
    client, alice, spread, settings, field, value, zone
):
    settings.TIME_ZONE = zone
    client.force_login(alice)
    response = client.get(reverse("submission_list"), {field: value})
    assert response.status_code == 200
    assert response.context["form"].errors[field] == [
        "Choose a date between 1900-01-01 and 2999-12-31."
    ]
    page = response.content.decode()
    assert f'id="id_{field}_error"' in page
    assert f'value="{value}"' in page  # what was typed stays
    # The other filters still apply; the date narrows nothing.
    assert list(response.context["page"].object_list) == [spread["alice_new"], spread["alice_old"]]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago"])
def test_the_first_and_last_dates_in_range_work_in_any_time_zone(
    client, alice, spread, settings, zone
):
    settings.TIME_ZONE = zone
    client.force_login(alice)
    everything = [spread["alice_new"], spread["alice_old"]]
    assert listed(client, date_from="1900-01-01", date_to="2999-12-31") == everything
    assert listed(client, date_from="2999-12-31") == []
    assert listed(client, date_to="1900-01-01") == []


@pytest.mark.parametrize(
    "tag, expected",
    [
        ("beach", ["bob", "alice_old"]),
        ("BEACH", ["bob", "alice_old"]),
        ("beaches", ["alice_new"]),
        ("each", []),
        ("sunset", ["alice_old"]),
        ("café", ["alice_new"]),
        ("%", []),
    ],
)
def test_filter_by_tag_matches_whole_tags_ignoring_case(client, alice, spread, tag, expected):
    client.force_login(alice)
    assert listed(client, submitter="any", tag=tag) == [spread[key] for key in expected]


@pytest.mark.parametrize(
    "q, expected",
    [("canon", ["alice_old"]), ("VI777", ["alice_new"]), ("videos.example.com", None)],
)
def test_search_covers_url_video_number_and_camera(client, alice, spread, q, expected):
    client.force_login(alice)
    result = listed(client, q=q)
    if expected is None:
        assert result == [spread["alice_new"], spread["alice_old"]]
    else:
        assert result == [spread[key] for key in expected]


def test_search_never_finds_another_teams_rows(client, alice, spread):
    client.force_login(alice)
    assert listed(client, submitter="any", q="b.example") == []


@pytest.mark.parametrize(
    "sort, expected",
    [
        ("-date", ["bob", "alice_new", "alice_old"]),
        ("date", ["alice_old", "alice_new", "bob"]),
        ("status", ["bob", "alice_old", "alice_new"]),  # done before failed
        ("-status", ["alice_new", "bob", "alice_old"]),
    ],
)
def test_sort_by_date_or_status_both_ways(client, alice, spread, sort, expected):
    client.force_login(alice)
    assert listed(client, submitter="any", sort=sort) == [spread[key] for key in expected]


def test_filters_combine_and_stay_in_the_pagination_links(client, alice, team_a):
    SubmissionFactory.create_batch(30, team=team_a, submitter=alice, status=Status.FAILED)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    response = client.get(reverse("submission_list"), {"status": "failed", "team": team_a.slug})
    page = response.context["page"]
    assert page.paginator.count == 30 and len(page.object_list) == 25
    html = response.content.decode()
    assert f'href="?status=failed&amp;team={team_a.slug}&amp;page=2"' in html
    assert f'href="/submissions/export.csv?status=failed&amp;team={team_a.slug}"' in html


def test_a_superuser_may_list_everything(client, superuser, spread):
    client.force_login(superuser)
    assert len(listed(client, submitter="any")) == 4


def test_a_user_in_no_team_sees_nothing(client, db, spread):
    from tests.factories import UserFactory

    loner = UserFactory(username="loner")
    client.force_login(loner)
    assert listed(client, submitter="any") == []


def test_the_list_polls_only_for_submissions_that_may_still_change(client, alice, team_a):
    waiting = SubmissionFactory(team=team_a, submitter=alice)
    SubmissionFactory(team=team_a, submitter=alice, status=Status.PARSED)
    client.force_login(alice)
    page = client.get(reverse("submission_list")).content.decode()
    assert f'?ids={waiting.pk}"' in page


def test_the_count_stops_at_the_cap_and_later_pages_still_work(alice, team_a):
    SubmissionFactory.create_batch(12, team=team_a, submitter=alice)
    from uploads.models import Submission

    paginator = CappedPaginator(Submission.objects.order_by("id"), 5, cap=7)
    assert paginator.capped and paginator.count == 8
    last = paginator.get_page(3)
    assert len(last.object_list) == 2 and not last.has_next()
    assert paginator.get_page(2).has_next()
    assert paginator.get_page(9).object_list == []
    assert paginator.get_page(10**30).number == 2  # the last counted page, not an overflow
    small = CappedPaginator(Submission.objects.order_by("id"), 5, cap=100)
    assert not small.capped and small.num_pages == 3


def test_a_team_list_for_an_inactive_team_still_works(client, alice):
    old = TeamFactory(name="Old", is_active=False)
    old.memberships.create(user=alice)
    SubmissionFactory(team=old, submitter=alice)
    client.force_login(alice)
    assert len(listed(client, team=old.slug)) == 1
