"""Callback throughput through gunicorn, beside a trivial view, in the same run.

    .venv/bin/python benchmarks/bench_callbacks.py [--sqlite-only] [--workers 4]

For each database (a SQLite file under /tmp, migrated here; and PostgreSQL
database `portal_bench_cb` when a server answers on 127.0.0.1:5432), it
starts gunicorn with gunicorn.conf.py on 127.0.0.1 with several workers and
the portal's production settings (DEBUG off, persistent connections), and
drives it from this process: a pool of 32 threads (BENCH_THREADS), each with
its own requests session, in five interleaved rounds of

- 1,000 GETs of /healthz/workers, the trivial view (no login, a few small reads), and
- 1,000 of the 5,000 callbacks for 500 submissions: ten each (UNPARSE x3,
  the final status x4, UNPARSE x3: repeats and out-of-order statuses), all
  shuffled.

Goals, exit status 1 when one is missed: no 5xx at all; every submission in
its final status with exactly one transition to it and all ten callbacks
counted (the event or repeats on it); callback throughput at least 0.7 times
the trivial view's. The abuse limits are raised for the run (500 tokens from
one address would trip them); they are still counted on every callback.
"""

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

import requests
from harness import (  # beside this
    free_port,
    fresh_postgres,
    start_gunicorn,
    stop_gunicorn,
    timed_answers,
)
from machine import machine

REPO = Path(__file__).resolve().parent.parent
SUBMISSIONS = 500
CALLBACKS_EACH = 10
REQUESTS = SUBMISSIONS * CALLBACKS_EACH
THREADS = int(os.environ.get("BENCH_THREADS", 32))
ROUNDS = 5
GOAL_RATIO = 0.7
POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/portal_bench_cb"

# Runs in a child process with the benchmark's environment: the database, as
# the portal's own code would leave it after 500 sends.
SETUP = """
import hashlib, json, sys
from django.contrib.auth import get_user_model
from django.utils import timezone
from uploads.heartbeats import KINDS
from uploads.models import ProcessBeat, Status, Submission, Team, UploadGate

tokens = json.load(sys.stdin)
user = get_user_model().objects.create_user("bench")
team = Team.objects.create(name="Bench")
Submission.objects.bulk_create(
    Submission(team=team, submitter=user, url=f"https://videos.example.com/{i}.mp4",
               status=Status.PROCESSING, api_status="UNPARSE", video_no=f"VIBENCH{i:06d}",
               unique_id=team.unique_id, callback_token_hash=hashlib.sha256(t.encode()).hexdigest(),
               sent_at=timezone.now())
    for i, t in enumerate(tokens)
)
UploadGate.get()
for kind in KINDS:
    ProcessBeat.objects.create(process=kind, beat_at=timezone.now())
"""

# Prints what became of each submission, for the checks.
REPORT = """
import json
from django.db.models import Sum
from uploads.models import Event, Submission
rows = {}
for s in Submission.objects.order_by("id"):
    callbacks = s.events.filter(kind=Event.Kind.CALLBACK)
    rows[s.video_no] = {
        "status": s.status,
        "api_status": s.api_status,
        "transitions": callbacks.exclude(from_status=s.status).filter(to_status=s.status).count(),
        "counted": callbacks.count() + (callbacks.aggregate(n=Sum("repeat_count"))["n"] or 0),
    }
print("REPORT " + json.dumps(rows))
"""


def manage(env, *args, stdin=None):
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO, env=env, input=stdin, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"manage.py {' '.join(args[:1])} failed:\n{result.stderr}")
    return result.stdout


def plan(tokens):
    """(path, body, expected final status) for every callback, shuffled."""
    rng = random.Random(6)
    calls, expected = [], {}
    for i, token in enumerate(tokens):
        video_no = f"VIBENCH{i:06d}"
        final = "PARSE_ERROR" if i % 5 == 0 else "PARSE"
        expected[video_no] = final
        statuses = ["UNPARSE"] * 3 + [final] * 4 + ["UNPARSE"] * 3
        path = f"/callbacks/memories/{token}/"
        calls += [(path, json.dumps({"videoNo": video_no, "status": s})) for s in statuses]
    rng.shuffle(calls)
    return calls, expected


def drive(base, requests_to_send):
    """Send every (method, path, body) from THREADS threads; return (seconds, status counts)."""
    local = threading.local()

    def ask(item):
        method, path, body = item
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        return session.request(
            method, base + path, data=body, timeout=60,
            headers={"Content-Type": "application/json"} if body else {},
        ).status_code  # fmt: skip

    return timed_answers(THREADS, ask, requests_to_send)


class Tally:
    """Seconds and answers of several rounds of requests."""

    def __init__(self):
        self.seconds, self.requests, self.counts = 0.0, 0, {}

    def add(self, seconds, counts):
        self.seconds += seconds
        self.requests += sum(counts.values())
        for code, n in counts.items():
            self.counts[code] = self.counts.get(code, 0) + n

    @property
    def rate(self):
        return self.requests / self.seconds


def run(database_url, label, workers):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "memories_portal.settings",
        "ENV_FILE": "/nonexistent",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "MEMORIES_SANDBOX": "1",
        "DATABASE_URL": database_url,
        # The portal's default; CONN_MAX_AGE=0 in the caller's environment measures
        # a connection per request instead.
        "CONN_MAX_AGE": os.environ.get("CONN_MAX_AGE", "60"),
        "CALLBACK_UNKNOWN_TOKENS_PER_MINUTE": "1000000000",
        "CALLBACK_CALLS_PER_TOKEN_PER_HOUR": "1000000000",
        "HEALTH_MAX_HEARTBEAT_AGE_SECONDS": "86400",
        "LOG_LEVEL": "ERROR",
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_ACCESS_LOG": "off",
    }
    manage(env, "migrate", "--noinput")
    tokens = [secrets.token_urlsafe(32) for _ in range(SUBMISSIONS)]
    manage(env, "shell", "-c", SETUP, stdin=json.dumps(tokens))
    calls, expected = plan(tokens)

    server, base = start_gunicorn(env)
    health, callbacks = Tally(), Tally()
    try:
        drive(base, [("GET", "/healthz/workers", None)] * 300)  # warm up every worker
        # Interleaved rounds, so that whatever else the machine does weighs on both alike.
        size = REQUESTS // ROUNDS
        for start in range(0, REQUESTS, size):
            health.add(*drive(base, [("GET", "/healthz/workers", None)] * size))
            chunk = calls[start : start + size]
            callbacks.add(*drive(base, [("POST", path, body) for path, body in chunk]))
    finally:
        errors = stop_gunicorn(server)
    output = manage(env, "shell", "-c", REPORT).splitlines()
    rows = json.loads(next(line for line in output if line.startswith("REPORT "))[7:])

    problems = []
    for name, tally in [("healthz", health), ("callbacks", callbacks)]:
        bad = {
            code: n
            for code, n in tally.counts.items()
            if not (isinstance(code, int) and code < 500)
        }
        if bad:
            problems.append(f"{name}: {bad}")
    if callbacks.counts != {200: REQUESTS}:
        problems.append(f"callback answers: {callbacks.counts}")
    wrong = [
        video_no for video_no, final in expected.items()
        if rows[video_no]["api_status"] != final
        or rows[video_no]["status"] != {"PARSE": "parsed", "PARSE_ERROR": "parse_error"}[final]
        or rows[video_no]["transitions"] != 1
        or rows[video_no]["counted"] != CALLBACKS_EACH
    ]  # fmt: skip
    if wrong:
        problems.append(f"{len(wrong)} submissions wrong, e.g. {wrong[0]}: {rows[wrong[0]]}")
    ratio = callbacks.rate / health.rate
    if ratio < GOAL_RATIO:
        problems.append(f"callbacks at {ratio:.2f} × the trivial view, goal {GOAL_RATIO}")
    if problems and errors.strip():
        print(errors[-3000:], file=sys.stderr)
    return {
        "database": label,
        "workers": workers,
        "healthz_per_s": round(health.rate),
        "callbacks_per_s": round(callbacks.rate),
        "ratio": round(ratio, 2),
        "problems": problems,
    }


def postgres_available():
    try:
        fresh_postgres(POSTGRES_URL)
        return True
    except Exception as exc:  # noqa: BLE001 (any failure means: no PostgreSQL run)
        print(f"(PostgreSQL skipped: {exc})")
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="portal-bench-cb-") as tmp:
        results.append(run(f"sqlite:///{tmp}/bench.sqlite3", "SQLite", args.workers))
    if not args.sqlite_only and postgres_available():
        results.append(run(POSTGRES_URL, "PostgreSQL", args.workers))

    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {machine()}")
    print(f"{REQUESTS} requests each, {THREADS} client threads, gunicorn sync workers, "
          f"CONN_MAX_AGE={os.environ.get('CONN_MAX_AGE', '60')}\n")  # fmt: skip
    print("| database | workers | /healthz/workers req/s | callbacks req/s | ratio | goal |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        verdict = "ok" if not r["problems"] else "MISSED"
        print(f"| {r['database']} | {r['workers']} | {r['healthz_per_s']} | "
              f"{r['callbacks_per_s']} | {r['ratio']} | {verdict} |")  # fmt: skip
    results_dir = REPO / "benchmarks" / "results"
    results_dir.mkdir(exist_ok=True)
    (results_dir / "bench_callbacks.json").write_text(json.dumps(results, indent=2))
    failed = [p for r in results for p in r["problems"]]
    for problem in failed:
        print(f"MISSED: {problem}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
