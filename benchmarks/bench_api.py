"""Creating submissions through gunicorn: the API's POST beside the form's, in one run.

    .venv/bin/python benchmarks/bench_api.py

Starts gunicorn (gunicorn.conf.py, two workers, benchmarks/settings.py with
BENCH_URL_CHECKS=off: the URL check is skipped, every other rule runs) on a fresh
SQLite file, and drives it from BENCH_THREADS (8) threads, each with its own session: a
logged-in person POSTing the submission form (with its CSRF token), and the same
person's token POSTing /api/v1/submissions as JSON. Rounds of each alternate
(BENCH_API_ROUNDS, 8, of BENCH_API_REQUESTS, 100, each; which goes first alternates too),
first on a quiet machine, then with both cores kept busy (busy.py; BENCH_BUSY=0 skips
that part). All of it for each of gunicorn's thread counts in BENCH_GUNICORN_THREADS
("1,16": sync workers, as first measured, and gunicorn.conf.py's own gthread workers of 16
threads).

Goal, exit status 1 when missed: every request answered as a success (302 for the
form, 201 for the API), and the API at least as fast as the form (the median of the
rounds' ratios >= 1.0).
"""

import os
import re
import statistics
import subprocess
import sys
import threading
from datetime import UTC, datetime

import requests
from busy import busy_cores  # beside this script
from harness import REPO, free_port, fresh_sqlite, start_gunicorn, stop_gunicorn, timed_answers
from machine import machine

THREADS = int(os.environ.get("BENCH_THREADS", 8))
ROUNDS = int(os.environ.get("BENCH_API_ROUNDS", 8))
REQUESTS = int(os.environ.get("BENCH_API_REQUESTS", 100))
GOAL_RATIO = 1.0
SUCCESS = {"form": 302, "api_create": 201}  # each kind's answer to a create
PASSWORD = "bench-only-password-42"

SETUP = f"""
from django.contrib.auth import get_user_model
from uploads.models import ApiToken, Membership, Team
user = get_user_model().objects.create_user("bench", password="{PASSWORD}")
team = Team.objects.create(name="Bench")
Membership.objects.create(team=team, user=user)
_, secret = ApiToken.issue(user, name="bench", scopes=["read", "submit"])
print("SETUP", team.pk, team.slug, secret)
"""


def manage(env, *args):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
        capture_output=True, text=True,
    ).stdout  # fmt: skip


class Client:
    """One thread's sessions: logged in for the form, and its token for the API."""

    def __init__(self, base, team_pk, team_slug, secret):
        self.base, self.team_pk, self.team_slug = base, team_pk, team_slug
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {secret}"
        self.page = requests.Session()
        login = self.page.get(base + "/accounts/login/", timeout=30).text
        self.page.post(
            base + "/accounts/login/",
            data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": _csrf(login)},
            headers={"Referer": base + "/accounts/login/"}, timeout=30,
        )  # fmt: skip
        self.form_token = _csrf(self.page.get(base + "/submissions/new/", timeout=30).text)

    def form(self, n):
        data = {"team": self.team_pk, "url": f"https://videos.example.com/form/{n}.mp4",
                "tags": "bench", "csrfmiddlewaretoken": self.form_token}  # fmt: skip
        return self.page.post(
            self.base + "/submissions/new/", data=data, allow_redirects=False, timeout=60,
            headers={"Referer": self.base + "/submissions/new/"},
        ).status_code  # fmt: skip

    def api_create(self, n):
        body = {"team": self.team_slug, "url": f"https://videos.example.com/api/{n}.mp4",
                "tags": ["bench"]}  # fmt: skip
        return self.api.post(self.base + "/api/v1/submissions", json=body, timeout=60).status_code


def _csrf(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def drive(clients, kind, numbers):
    """One request per number from THREADS threads, each with a client of its own, on new
    connections; (seconds, {status: count}).

    A keep-alive connection stays with the gunicorn worker that accepted it: kept from
    round to round, one draw (six of eight connections on one worker, say) would weigh on
    one kind all run long. Drawn again each round, it evens out."""
    for client in clients:
        (client.page if kind == "form" else client.api).close()
    local, lock, free = threading.local(), threading.Lock(), iter(clients)

    def ask(n):
        if not hasattr(local, "client"):
            with lock:
                local.client = next(free)
        return getattr(local.client, kind)(n)

    return timed_answers(THREADS, ask, numbers)


def measure(clients, label, first):
    """Alternating rounds of the form and the API: their rates, and answers; the ratio is
    the median of each round's (the API's rate ÷ the form's just before or after it), so
    that a moment's stall (a WAL checkpoint, another process) weighs on one round only."""
    seconds = {"form": [], "api_create": []}
    answers = {"form": {}, "api_create": {}}
    n = first
    for round_ in range(ROUNDS):
        for kind in ("form", "api_create")[:: 1 if round_ % 2 == 0 else -1]:
            took, counts = drive(list(clients[kind]), kind, range(n, n + REQUESTS))
            n += REQUESTS
            seconds[kind].append(took)
            for code, count in counts.items():
                answers[kind][code] = answers[kind].get(code, 0) + count
    ratio = statistics.median(
        form / api for form, api in zip(seconds["form"], seconds["api_create"], strict=True)
    )
    return {"label": label, "form": ROUNDS * REQUESTS / sum(seconds["form"]),
            "api": ROUNDS * REQUESTS / sum(seconds["api_create"]), "ratio": ratio,
            "answers": answers, "next": n}  # fmt: skip


def main():
    results, busy = [], None
    for threads in os.environ.get("BENCH_GUNICORN_THREADS", "1,16").split(","):
        measured, busy = run_with(int(threads))
        results += measured
    report(results, busy)
    problems, logs = [], set()
    for r in results:
        for kind, ok in SUCCESS.items():
            if set(r["answers"][kind]) != {ok}:
                problems.append(f"{r['label']}: {kind} answered {r['answers'][kind]}")
                logs.add(r["server errors"])
        if r["ratio"] < GOAL_RATIO:
            problems.append(
                f"{r['label']}: the API at {r['ratio']:.2f} x the form, goal {GOAL_RATIO}"
            )
    for problem in problems:
        print(f"MISSED: {problem}", file=sys.stderr)
    for errors in filter(str.strip, logs):  # what gunicorn said, when a create failed
        print(errors[-3000:], file=sys.stderr)
    return 1 if problems else 0


def run_with(threads):
    """Both kinds of create through gunicorn with `threads` threads a worker, on a new
    database: quiet, then on busy cores; (results, each with its gunicorn's error log, the
    busy cores' description)."""
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "ENV_FILE": "/nonexistent",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": fresh_sqlite("bench_api.sqlite3"),
        "BENCH_URL_CHECKS": "off",
        "MAX_WAITING_PER_PERSON": "100000000",
        "API_REQUESTS_PER_MINUTE": "100000000",  # still counted on every request
        "LOGIN_FAILURE_LIMIT": "1000",
        "HEALTH_MAX_HEARTBEAT_AGE_SECONDS": "86400",
        "LOG_LEVEL": "ERROR",
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_ACCESS_LOG": "off",
        "PYTHONPATH": str(REPO),
    }
    config = "sync" if threads == 1 else f"gthread {threads}"
    manage(env, "migrate", "--noinput")
    line = next(x for x in manage(env, "shell", "-c", SETUP).splitlines() if x.startswith("SETUP"))
    _, team_pk, team_slug, secret = line.split()
    server, base = start_gunicorn(env)
    try:
        made = [Client(base, team_pk, team_slug, secret) for _ in range(THREADS)]
        clients = {"form": made, "api_create": made}
        warm = measure_once(clients)
        results = [measure(clients, f"{config}, quiet", warm)]
        with busy_cores(max_seconds=600) as busy:
            if busy.on:
                results.append(measure(clients, f"{config}, two cores busy", results[-1]["next"]))
    finally:
        errors = stop_gunicorn(server)
    return [{**r, "server errors": errors} for r in results], busy


def measure_once(clients):
    """A short warm-up of both, so every worker has its connection and imports."""
    for kind in ("form", "api_create"):
        drive(list(clients[kind]), kind, range(kind == "form", 2 * THREADS, 2))
    return 10 * THREADS


def report(results, busy):
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {machine()}")
    print(f"{ROUNDS} x {REQUESTS} creates each, {THREADS} client threads, gunicorn 2 workers, "
          "SQLite, URL checks off; " + str(busy))  # fmt: skip
    print("| gunicorn, machine | form POST/s | API POST/s | ratio API/form (median of rounds) "
          "| goal |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['label']} | {r['form']:.0f} | {r['api']:.0f} | {r['ratio']:.2f} | "
              f"{'met' if r['ratio'] >= GOAL_RATIO else 'MISSED'} (>= {GOAL_RATIO}) |")  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
