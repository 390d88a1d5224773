"""Page response times at 1,000 and at 100,000 submissions, on SQLite and on PostgreSQL.

Seeds 20 teams, 200 people and their submissions with events (bulk_create in
batches) into databases of its own, one per size: SQLite files under /tmp, and
PostgreSQL databases `portal_bench_1000` and `portal_bench_100000`, which this
script creates and drops. Then measures with Django's test client the median
response time of the list (first page and filtered pages), a person's
dashboard and a team's dashboard, the two sizes side by side: a request at
1,000, one at 100,000, and so on, so that other work on the machine weighs on
both alike.

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
import contextlib
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
POSTGRES_SERVER = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")

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
    ("team dashboard, 90 days", "manager", "/teams/team-00/?days=90"),
)
# The member reads their pages in a time zone of their own (one more query a request).
MEMBER_ZONE = "Europe/Paris"
# The measured member is their team's busiest uploader.
BUSY_SHARE = 0.3

# "beach" is on 60% of submissions, so that its filter fills a page at both sizes.
COMMON_TAG, COMMON_SHARE = "beach", 0.6
TAGS = ("city", "night", "drone", "interview", "sport", "family", "travel")
CAMERAS = ("Canon EOS 5D", "GoPro HERO12", "iPhone 15", "Sony A7 IV", "DJI Mini 4", "")


# --- the parent: one child process per database and size, measured side by side ---------


def main(script=__file__, prepare=None, title=None, name="bench_pages", sizes=SIZES):
    """For each database: a child process per size prepares its own database
    (`prepare(backend, size)` there returns the pages to measure), then the parent
    asks them for one request at a time, alternating between the sizes, so that
    other work on the machine weighs on both alike. Then the table."""
    parser = argparse.ArgumentParser(description=(title or __doc__).splitlines()[0])
    parser.add_argument("--backend", choices=BACKENDS, action="append")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return serve(args.child, args.size, prepare or prepare_pages)

    results, broken = [], []
    for backend in args.backend or BACKENDS:
        print(f"-- {backend}: seeding {' and '.join(f'{n:,}' for n in sizes)}…", flush=True)
        try:
            results += measure_side_by_side(script, backend, sizes)
        except ChildFailed as exc:
            print(f"   {backend}: {exc}", file=sys.stderr)
            broken.append(backend)
    print()
    print(report(results, sizes))
    save(results, name)
    missed = [r for r in results if ratio(r) > GOAL]
    if broken:
        print(f"Could not measure: {', '.join(broken)}", file=sys.stderr)
    if missed:
        pages = ", ".join(f"{r['backend']} {r['page']}" for r in missed)
        print(f"Goal missed ({sizes[1]:,} > {GOAL}x {sizes[0]:,}): {pages}", file=sys.stderr)
    return 1 if missed or broken else 0


class ChildFailed(Exception):
    pass


class Side:
    """A child process serving one database of one size: asked for one request at a time."""

    def __init__(self, script, backend, size):
        self.size = size
        self.process = subprocess.Popen(
            [sys.executable, script, "--child", backend, "--size", str(size)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip

    def read(self):
        line = self.process.stdout.readline()
        if not line:
            raise ChildFailed(f"the {self.size:,} process stopped")
        return json.loads(line)

    def ask(self, command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self):
        if self.process.poll() is None:
            with contextlib.suppress(ChildFailed, BrokenPipeError):
                self.ask("quit")
        self.process.wait(timeout=120)


def measure_side_by_side(script, backend, sizes):
    sides = [Side(script, backend, size) for size in sizes]
    try:
        labels = [side.read() for side in sides][0]  # each says "ready" with its pages
        results, busy = {}, ""
        with busy_cores(max_seconds=900) as spinning:
            for index, label in enumerate(labels):
                times = {side.size: [] for side in sides}
                for _ in range(WARMUP):
                    for side in sides:
                        side.ask(index)
                for run in range(RUNS):
                    # Alternating which goes first, too.
                    for side in sides if run % 2 == 0 else sides[::-1]:
                        times[side.size].append(side.ask(index))
                results[label] = {str(n): statistics.median(t) for n, t in times.items()}
                print(
                    f"   {backend} {label:<30} "
                    + "  ".join(f"{int(n):>7,}: {ms:6.1f} ms" for n, ms in results[label].items()),
                    flush=True,
                )
        busy = str(spinning)
    finally:
        for side in sides:
            side.close()
    return [
        {"backend": backend, "page": label, "ms": ms, "sizes": list(sizes), "busy": busy}
        for label, ms in results.items()
    ]


def ratio(result):
    small, large = result["sizes"]
    return result["ms"][str(large)] / result["ms"][str(small)]


def report(results, sizes=SIZES):
    small, large = (f"{n:,}" for n in sizes)
    busy = results[0]["busy"] if results else ""
    lines = [
        f"Median response time of {RUNS} requests, in ms, the sizes side by side "
        f"({date.today()}, {machine()}, SQLite {sqlite3.sqlite_version}; {busy})",
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


# --- a child: one database of one size, answering with one request's time ----------------


def serve(backend, size, prepare):
    """Prepare the database, say which pages there are, then time one request per line read."""
    name = f"{DB_NAME}_{size}"
    url = create_database(backend, name)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    out = sys.stdout
    sys.stdout = sys.stderr  # only answers go to the parent
    try:
        started = time.perf_counter()
        pages = prepare(backend, size)
        analyze(backend)
        print(f"   {backend}: {size:,} seeded in {time.perf_counter() - started:.1f} s")
        answer(out, [label for label, _, _ in pages])
        for line in sys.stdin:
            command = json.loads(line)
            if command == "quit":
                answer(out, "bye")
                break
            _, client, page_url = pages[command]
            answer(out, timed_ms(client, page_url))
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(backend, name)
    return 0


def answer(out, value):
    out.write(json.dumps(value) + "\n")
    out.flush()


def timed_ms(client, url):
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    check(response, url)
    return elapsed * 1000


def create_database(backend, name):
    if backend == "sqlite":
        drop_database(backend, name)
        return f"sqlite:///{Path(tempfile.gettempdir()) / name}.sqlite3"
    with _postgres() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name}")
    return f"{POSTGRES_SERVER}/{name}"


def drop_database(backend, name):
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{Path(tempfile.gettempdir()) / name}.sqlite3{suffix}").unlink(missing_ok=True)
        return
    with _postgres() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _postgres():
    import psycopg

    return psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True)


def prepare_pages(backend, size):
    """20 teams, 200 people and `size` submissions: the first 1,000 the same at every size."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from uploads.models import PersonSettings

    people = seed_people()
    PersonSettings.objects.update_or_create(
        user=people["member"], defaults={"time_zone": MEMBER_ZONE}
    )
    clients = {role: logged_in(user) for role, user in people.items()}
    have = 0
    for step in SIZES:
        if step <= size:
            seed_submissions(have, step)
            have = step
    return [(label, clients[role], url) for label, role, url in PAGES]


def logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


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

    from uploads.models import Membership, MemoriesAccount, Team

    user_model = get_user_model()
    account = MemoriesAccount.default()  # bulk_create skips the save() that picks it
    teams = Team.objects.bulk_create(
        Team(name=f"Team {i:02}", slug=f"team-{i:02}", unique_id=f"scope-{i:02}", account=account)
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
