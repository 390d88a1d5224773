"""Queue places with 50 and with 50,000 waiting submissions, on SQLite and on PostgreSQL.

The pages that show waiting submissions compute each one's place in the queue
and its estimated send time. This measures the two that show the most of them,
with 50 waiting and with 50,000 waiting: the list ("My uploads", 25 rows) and
the status fragment for 100 ids (what a page polls). The member measured has
the same 40 waiting (and 200 settled before them) at both sizes, so both pages
show the same rows; what grows is everyone else's queue: the rest of the
waiting ones are spread over 20 teams of 10 people, the member's team-mates
included. Measured with both cores kept busy (busy.py; BENCH_BUSY=0 turns them
off).

The two sizes are measured side by side, one request each in turn (see
bench_pages.py). Goal: each page at 50,000 waiting within 2x of its time at 50.

    python benchmarks/bench_queue.py [--backend sqlite|postgresql]
    BENCH_DB_NAME=my_bench python benchmarks/bench_queue.py
"""

import os
import random
import sys
from datetime import timedelta

import bench_pages as pages  # benchmarks/, beside this script

# BENCH_QUEUE_WAITING: the larger size (the test suite's smoke run uses a small one).
SIZES = (50, int(os.environ.get("BENCH_QUEUE_WAITING", "50000")))
HISTORY, OWN_WAITING = 200, 40


def prepare(backend, size):
    """The member's own submissions, then everyone else's waiting ones up to `size`."""
    from django.core.management import call_command

    from uploads.models import Submission

    call_command("migrate", verbosity=0)
    member = pages.seed_people()["member"]
    client = pages.logged_in(member)
    seed_own(member)
    seed_waiting(0, size - OWN_WAITING, member)
    newest = Submission.objects.filter(submitter=member).order_by("-created_at", "-id")
    ids = ",".join(str(pk) for pk in newest.values_list("pk", flat=True)[:100])
    return [
        ("list, my uploads", client, "/submissions/"),
        ("status fragment, 100 ids", client, f"/submissions/status/?ids={ids}"),
    ]


def teams_and_people():
    from uploads.models import Membership

    teams = {}
    for user_id, team_id in Membership.objects.values_list("user_id", "team_id").order_by(
        "user__username"
    ):
        teams.setdefault(team_id, []).append(user_id)
    return teams


def seed_own(member):
    """The member's settled submissions, then their waiting ones, the newest of all theirs."""
    from django.utils import timezone

    from uploads.models import Submission

    team_id = member.memberships.values_list("team_id", flat=True).get()
    now = timezone.now()
    settled = [
        Submission(
            team_id=team_id,
            submitter=member,
            url=f"https://videos.example.com/history-{i}.mp4",
            status="parsed",
            created_at=now - timedelta(days=3 + i),
            finished_at=now - timedelta(days=3 + i) + timedelta(minutes=5),
        )
        for i in range(HISTORY)
    ]
    waiting = [
        Submission(
            team_id=team_id,
            submitter=member,
            url=f"https://videos.example.com/mine-{i}.mp4",
            created_at=now - timedelta(minutes=OWN_WAITING - i),
        )
        for i in range(OWN_WAITING)
    ]
    Submission.objects.bulk_create(settled + waiting)


def seed_waiting(have, want, member):
    """Others' waiting submissions number have+1 .. want, from the last two days."""
    from django.db import transaction
    from django.utils import timezone

    from uploads.models import Submission

    rng = random.Random(want)
    now = timezone.now()
    teams = teams_and_people()
    busy = {people[2] for people in teams.values()}  # the busiest after the member
    rows = []
    for number in range(have, want):
        team_id = rng.choice(list(teams))
        people = [p for p in teams[team_id] if p != member.pk]
        weights = [pages.BUSY_SHARE if p in busy else (1 - pages.BUSY_SHARE) / (len(people) - 1)
                   for p in people]  # fmt: skip
        rows.append(
            Submission(
                team_id=team_id,
                submitter_id=rng.choices(people, weights)[0],
                url=f"https://videos.example.com/{team_id}/waiting-{number}.mp4",
                created_at=now - timedelta(seconds=rng.random() * 2 * 86400),
            )
        )
    for start in range(0, len(rows), pages.BATCH):
        with transaction.atomic():
            Submission.objects.bulk_create(rows[start : start + pages.BATCH], batch_size=1000)


if __name__ == "__main__":
    sys.exit(pages.main(__file__, prepare, __doc__, "bench_queue", SIZES))
