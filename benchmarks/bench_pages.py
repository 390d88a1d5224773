"""Page response times at 1,000 and at 100,000 submissions, on SQLite and on PostgreSQL.

Seeds 20 teams, 200 people and their submissions with events (bulk_create in
batches) into a database of its own: a SQLite file under /tmp, and the
PostgreSQL database `portal_bench`, which this script creates and drops. Then
measures with Django's test client the median response time of the list (first
page and a filtered page), a person's dashboard and a team's dashboard.

What grows from 1,000 to 100,000 is the history: the last two days (the queue,
the submissions in progress) are the same 100 at both sizes, as they would be
for a portal that has simply been running longer at the same upload rate. The
measured member is their team's busiest uploader (30% of its submissions), so
every list shows a full page at both sizes.

Measured with both cores kept busy by other processes (busy.py; BENCH_BUSY=0
turns them off), since the portal shares its machine.

Goal: every page at 100,000 submissions within 2x of its time at 1,000.
Prints a table with the ratios and exits non-zero when a goal is missed.

    python benchmarks/bench_pages.py                       # both databases
    python benchmarks/bench_pages.py --backend sqlite      # one of them
    BENCH_POSTGRES_URL=postgres://user@host:5432 python benchmarks/bench_pages.py
    BENCH_DB_NAME=my_bench python benchmarks/bench_pages.py  # a database name of its own
"""

import argparse
import json
import math
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from busy import busy_cores  # benchmarks/, beside this script
from machine import machine

REPO = Path(__file__).resolve().parent.parent
# Several people may benchmark on one machine: BENCH_DB_NAME keeps their databases apart.
DB_NAME = os.environ.get("BENCH_DB_NAME", "portal_bench")
SQLITE_PATH = Path(tempfile.gettempdir()) / f"{DB_NAME}.sqlite3"
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
POSTGRES_DB = DB_NAME
BACKENDS = ("sqlite", "postgresql")
SIZES = (1_000, 100_000)
TEAMS, PEOPLE = 20, 200
WARMUP, RUNS = 3, 21
GOAL = 2.0
BATCH = 5_000
HISTORY_DAYS = 365
PRESENT, PRESENT_DAYS = 100, 2  # the last two days: the same 100 submissions at every size

# (label, who asks, URL). The member is person001 of team-00, the manager person000.
# Each list shows a full page (25 rows) at both sizes, so the comparison is about
# the size of the table, not about drawing 5 rows at one size and 25 at the other.
# The tag filter matches the JSON text (LIKE): no B-tree index can serve it, so it
# reads rows until the list's count cap.
PAGES = (
    ("list, first page", "member", "/submissions/"),
    (
        "list, filtered (team, status)",
        "member",
        "/submissions/?submitter=any&team=team-00&status=parsed",
    ),
    ("list, tag filter", "member", "/submissions/?submitter=any&tag=beach"),
    ("my dashboard", "member", "/"),
    ("team dashboard", "manager", "/teams/team-00/"),
)
# The measured member is their team's busiest uploader.
BUSY_SHARE = 0.3

# "beach" is on 60% of submissions, so that its filter fills a page at both sizes.
COMMON_TAG, COMMON_SHARE = "beach", 0.6
TAGS = ("city", "night", "drone", "interview", "sport", "family", "travel")
CAMERAS = ("Canon EOS 5D", "GoPro HERO12", "iPhone 15", "Sony A7 IV", "DJI Mini 4", "")


# --- the parent: one child process per database, then the table ---------------------------


def main(script=__file__, measure=None, title=None, name="bench_pages"):
    """Run each database in a child process (`measure(backend)` there), then the table."""
    parser = argparse.ArgumentParser(description=(title or __doc__).splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        results = run_backend(args.child, measure or measure_sizes)
        Path(args.out).write_text(json.dumps(results))
        return 0

    results, broken = [], []
    for backend in args.backend or BACKENDS:
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            print(f"-- {backend}: seeding and measuring…", flush=True)
            child = [sys.executable, script, "--child", backend, "--out", out.name]
            if subprocess.run(child, cwd=REPO).returncode != 0:
                broken.append(backend)
                continue
            results += json.loads(Path(out.name).read_text())
    sizes = results[0]["sizes"] if results else SIZES
    print()
    print(report(results, sizes))
    save(results, name)
    missed = [r for r in results if ratio(r) > GOAL]
    if broken:
        print(f"Could not measure: {', '.join(broken)}", file=sys.stderr)
    if missed:
        pages = ", ".join(f"{r['backend']} {r['page']}" for r in missed)
        print(f"Goal missed (100k > {GOAL}x 1k): {pages}", file=sys.stderr)
    return 1 if missed or broken else 0


def ratio(result):
    small, large = result["sizes"]
    return result["ms"][str(large)] / result["ms"][str(small)]


def report(results, sizes=SIZES):
    small, large = (f"{n:,}" for n in sizes)
    busy = results[0]["busy"] if results else ""
    lines = [
        f"Median response time of {RUNS} requests, in ms ({date.today()}, {machine()}, "
        f"SQLite {sqlite3.sqlite_version}; {busy})",
        "",
        f"| database | page | {small} | {large} | ratio | goal ≤ {GOAL:g}× |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        ms = r["ms"]
        lines.append(
            f"| {r['backend']} | {r['page']} | {ms[str(sizes[0])]:.1f} | {ms[str(sizes[1])]:.1f} "
            f"| {ratio(r):.2f} | {'met' if ratio(r) <= GOAL else 'MISSED'} |"
        )
    return "\n".join(lines)


def save(results, name="bench_pages"):
    folder = REPO / "benchmarks" / "results"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}-{date.today()}.json"
    path.write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


# --- the child: one database, from empty to 100,000 ------------------------------------


def run_backend(backend, measure):
    url = create_database(backend)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    try:
        return measure(backend)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(backend)


def create_database(backend):
    if backend == "sqlite":
        drop_database(backend)
        return f"sqlite:///{SQLITE_PATH}"
    with _postgres() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {POSTGRES_DB}")
    return f"{POSTGRES_SERVER}/{POSTGRES_DB}"


def drop_database(backend):
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        return
    with _postgres() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")


def _postgres():
    import psycopg

    return psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True)


def measure_sizes(backend):
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    people = seed_people()
    clients = {role: logged_in(user) for role, user in people.items()}
    pages = [(label, clients[role], url) for label, role, url in PAGES]

    def grow(have, size):
        seed_submissions(have, size)

    return measure_at(backend, SIZES, grow, lambda size: pages)


def measure_at(backend, sizes, grow, pages_at):
    """For each size: grow(previous size, size), then each of pages_at(size) (label, client,
    URL) measured with the cores kept busy."""
    results, have, busy = {}, 0, ""
    for size in sizes:
        started = time.perf_counter()
        grow(have, size)
        have = size
        analyze(backend)
        print(f"   {backend}: {size:,} seeded in {time.perf_counter() - started:.1f} s")
        with busy_cores(max_seconds=600) as spinning:
            for label, client, url in pages_at(size):
                results.setdefault(label, {})[str(size)] = median_ms(client, url)
                print(f"   {backend} {size:>7,} {label:<30} {results[label][str(size)]:7.1f} ms")
        busy = str(spinning)
    return [
        {"backend": backend, "page": label, "ms": ms, "sizes": list(sizes), "busy": busy}
        for label, ms in results.items()
    ]


def logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def median_ms(client, url):
    for _ in range(WARMUP):
        check(client.get(url), url)
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        check(response, url)
    return statistics.median(times) * 1000


def check(response, url):
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")


def analyze(backend):
    """Fresh planner statistics and visibility map, as autovacuum keeps them on PostgreSQL.

    (On PostgreSQL an index-only scan needs the visibility map that VACUUM writes;
    after a bulk load autovacuum would run within a minute.)
    """
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if backend == "postgresql" else "ANALYZE")


# --- seeding -------------------------------------------------------------------------------


def seed_people():
    """20 teams of 10 people; the first of each team manages it."""
    from django.contrib.auth import get_user_model

    from uploads.models import Membership, Team

    user_model = get_user_model()
    teams = Team.objects.bulk_create(
        Team(name=f"Team {i:02}", slug=f"team-{i:02}", unique_id=f"scope-{i:02}")
        for i in range(TEAMS)
    )
    users = user_model.objects.bulk_create(
        user_model(username=f"person{i:03}") for i in range(PEOPLE)
    )
    per_team = PEOPLE // TEAMS
    Membership.objects.bulk_create(
        Membership(
            team=teams[i // per_team],
            user=user,
            role=Membership.Role.MANAGER if i % per_team == 0 else Membership.Role.MEMBER,
        )
        for i, user in enumerate(users)
    )
    return {"manager": users[0], "member": users[1]}


# Status mix by age: recent submissions are still moving, older ones have settled.
RECENT_MIX = {"queued": 30, "sending": 3, "processing": 17, "parsed": 42, "failed": 5,
              "parse_error": 2, "needs_review": 1}  # fmt: skip
SETTLED_MIX = {"parsed": 86, "parse_error": 4, "failed": 5, "needs_review": 1, "cancelled": 4}


def seed_submissions(have, want):
    """Submissions number have+1 .. want, with their events.

    The first PRESENT of them are the last two days (the queue, the ones in
    progress): the same at every size, since the upload rate, not the length of
    the history, decides how many there are. The rest is history, settled,
    spread over the year before.
    """
    from django.db import connection, transaction
    from django.utils import timezone

    from uploads.models import Event, Membership, Submission

    rng = random.Random(want)
    now = timezone.now()
    teams = {}
    for user_id, team_id, _username in Membership.objects.values_list(
        "user_id", "team_id", "user__username"
    ).order_by("user__username"):
        teams.setdefault(team_id, []).append(user_id)
    busy = {people[1] for people in teams.values()}  # person001, person011...
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")  # seeding only; the pages run as usual
    for start in range(have, want, BATCH):
        rows = []
        for number in range(start, min(start + BATCH, want)):
            team_id = rng.choice(list(teams))
            people = teams[team_id]
            weights = [BUSY_SHARE if p in busy else (1 - BUSY_SHARE) / (len(people) - 1)
                       for p in people]  # fmt: skip
            user_id = rng.choices(people, weights)[0]
            if number < PRESENT:
                age = timedelta(seconds=rng.random() * PRESENT_DAYS * 86400)
            else:
                age = timedelta(days=PRESENT_DAYS + rng.random() * (HISTORY_DAYS - PRESENT_DAYS))
            rows.append(new_submission(rng, now - age, user_id, team_id, number))
        with transaction.atomic():
            Submission.objects.bulk_create(rows, batch_size=1000)
            Event.objects.bulk_create(
                (event for s in rows for event in events_for(rng, s)), batch_size=2000
            )


def new_submission(rng, created, user_id, team_id, number):
    from uploads.models import Submission

    mix = RECENT_MIX if number < PRESENT else SETTLED_MIX
    status = rng.choices(list(mix), weights=list(mix.values()))[0]
    sent = status not in ("queued", "cancelled")
    final = status in ("parsed", "parse_error", "failed", "cancelled")
    minutes = math.exp(rng.gauss(1.6, 0.8))  # time to PARSE: about 5 minutes, long tail
    failed = status == "failed"
    return Submission(
        team_id=team_id,
        submitter_id=user_id,
        url=f"https://videos.example.com/{team_id}/clip-{number}.mp4",
        camera_model=rng.choice(CAMERAS),
        tags=([COMMON_TAG] if rng.random() < COMMON_SHARE else [])
        + rng.sample(TAGS, rng.randint(0, 2)),
        status=status,
        api_status={"parsed": "PARSE", "parse_error": "PARSE_ERROR", "processing": "UNPARSE"}.get(
            status, ""
        ),
        video_no=f"VI{number:012d}" if sent and not failed else "",
        error_code="0409" if failed else "",
        error_message="memories.ai refused the URL: it answered 404." if failed else "",
        attempts=1 if sent else 0,
        created_at=created,
        updated_at=created,
        sent_at=created + timedelta(seconds=30) if sent and not failed else None,
        finished_at=created + timedelta(minutes=minutes) if final else None,
    )


def events_for(rng, submission):
    from uploads.models import Event

    kind, at = Event.Kind, submission.created_at
    steps = [(kind.CREATED, "", "queued", "Submitted.")]
    status = submission.status
    if status == "cancelled":
        steps.append((kind.CANCELLED, "queued", "cancelled", "Cancelled."))
    elif status == "failed":
        steps.append((kind.CLAIMED, "queued", "sending", "Attempt 1."))
        steps.append((kind.REFUSED, "sending", "failed", submission.error_message))
    elif status != "queued":
        steps.append((kind.CLAIMED, "queued", "sending", "Attempt 1."))
        if status != "sending":
            steps.append((kind.ACCEPTED, "sending", "processing", "Accepted."))
        if status in ("parsed", "parse_error"):
            steps.append((kind.CALLBACK, "processing", status, "memories.ai says so."))
    return [
        Event(
            submission=submission,
            kind=k,
            from_status=before,
            to_status=after,
            message=message,
            created_at=at + timedelta(seconds=10 * i),
        )
        for i, (k, before, after, message) in enumerate(steps)
    ]


if __name__ == "__main__":
    sys.exit(main())
