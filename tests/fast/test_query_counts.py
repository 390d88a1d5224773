"""No page issues a number of queries that grows with the rows it shows.

Each page is rendered with 5 and with 50 submissions (of every status, with
events, from two people); both must cost the same number of queries.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import seed

PAGES = {
    "list": lambda team, first: reverse("submission_list"),
    "filtered list": lambda team, first: (
        reverse("submission_list") + f"?submitter=any&team={team.slug}&tag=beach&sort=status"
    ),
    "detail": lambda team, first: first.get_absolute_url(),
    "my dashboard": lambda team, first: reverse("home"),
    "team dashboard": lambda team, first: reverse("team_dashboard", args=[team.slug]),
    "status fragment": lambda team, first: reverse("submission_statuses") + f"?ids={first.pk}",
}


# What each page costs today (session, user, navigation, then the page's own
# queries): a ceiling, so that a new per-page query is a decision, not an accident.
# Every request reads the person's time zone (one query); full pages include one
# query for the needs-review banner and one for the paused banner.
# The queue's places cost four queries (the people's lanes, the teams' order, one
# window over the shown ones' lines, the gate); pages limited to one's teams read
# their ids first; a submission's page asks whether one manages its team; the
# dashboards read the ids of the newest failures (and the team's next in line)
# before the rows, and the team dashboard reads the month's quota and, for managers,
# the first of what needs attention. The list asks whether one manages any team (its
# "Move them to the front").
MOST = {
    "list": 16,
    "filtered list": 17,
    "detail": 14,
    "my dashboard": 18,
    "team dashboard": 23,  # and the account the team sends through, with its gate
    "status fragment": 10,  # no banner
}


def queries_for(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("page", PAGES)
def test_the_query_count_is_the_same_with_5_and_with_50_submissions(
    client, manager, alice, team_a, page
):
    client.force_login(manager)
    counts = {}
    for n in (5, 50):
        submissions = seed(n, team_a, [manager, alice])
        url = PAGES[page](team_a, submissions[0])
        client.get(url)  # once before counting: the upload gate's row is created on first use
        counts[n] = queries_for(client, url)
        for submission in submissions:
            submission.events.all().delete()
            submission.delete()
    assert counts[5] == counts[50] <= MOST[page], counts
