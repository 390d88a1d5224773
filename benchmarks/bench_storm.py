"""The storm through HTTP: everything at once, on gunicorn, with every count exact afterwards.

    .venv/bin/python benchmarks/bench_storm.py
    (BENCH_STORM_SECONDS=120, BENCH_STORM_RATE=600 uploads a minute, BENCH_STORM_THREADS=8,
    BENCH_STORM_SEED for the same random choices, BENCH_BUSY,
    BENCH_STORM_DATABASE_URL=postgres://... the PostgreSQL database to use (dropped and
    made again; default postgres://postgres@127.0.0.1:5432/portal_bench_storm), "off" for
    SQLite only)

On a fresh SQLite database, then on PostgreSQL: gunicorn (gunicorn.conf.py, two
workers), a sender `db_worker`, the batches worker and `run_periodic` (every 0.5 s:
recovery, held rows, polling), against the sandbox at a raised rate (callbacks on, to
gunicorn), while two other processes keep both cores busy (busy.py). Client threads
(people with API tokens, a manager and an administrator with sessions) choose at random:
submit, cancel, list (API); make a batch (checked against a local video server), confirm
it, cancel its waiting ones (the page); move to the front, resend, mark failed (pages).
The sandbox refuses now and then (0429, 503, an unknown outcome, a refusal), and every
30 s the sender's worker is killed (SIGKILL) and another started: run_periodic recovers
what it left sending.

Goals, exit status 1 when one is missed: no HTTP 5xx, no deadlock, no transaction retried
after a conflict (each is logged: "transaction retried after a database conflict"),
every count exact (uploads.counters.drift), nothing left sending once the processes are
stopped and the leases are out (recovered as run_periodic would), no batch cancel
unfinished (the batches worker has up to 90 s for those queued behind its checks),
nothing processing without a poll time. Prints the operations per second.
"""

import os
import random
import re
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests
from busy import busy_cores  # benchmarks/, beside this script
from harness import (
    free_port,
    fresh_postgres,
    fresh_sqlite,
    kill,
    launch_gunicorn,
    manage,
    portal_env,
    probe_loopback,
    slow_video_server,
    start_django,
    stop_gunicorn,
    wait_for_gunicorn,
)
from machine import machine

SECONDS = float(os.environ.get("BENCH_STORM_SECONDS", 120))
RATE = float(os.environ.get("BENCH_STORM_RATE", 600))
THREADS = int(os.environ.get("BENCH_STORM_THREADS", 8))
SEED = int(os.environ.get("BENCH_STORM_SEED") or random.randrange(2**31))
POSTGRES = os.environ.get(
    "BENCH_STORM_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal_bench_storm"
)
LEASE = 5  # seconds: a killed sender's claim is recovered soon after
KILL_EVERY = 30  # seconds between kills of the sender's worker
PASSWORD = "bench-only-password-42"
FAULTS = [("rate_limit", {}), ("http_503", {}), ("http_500", {}), ("code", {"code": "0001"})]
RETRIED = "transaction retried after a database conflict"

SETUP_TEAMS = (("Storm A", 400), ("Storm B", None))


def setup():
    """Two teams, three people (one in both), a manager and an administrator: their
    tokens (people) and logins (everyone)."""
    from django.contrib.auth import get_user_model

    from uploads.models import ApiToken, Membership, Team

    users = get_user_model().objects
    a, b = (Team.objects.create(name=name, monthly_quota=quota) for name, quota in SETUP_TEAMS)
    people = []
    for name, teams in (("ana", [a]), ("ben", [a]), ("cai", [a, b])):
        user = users.create_user(name, password=PASSWORD)
        for team in teams:
            Membership.objects.create(team=team, user=user)
        _, secret = ApiToken.issue(user, name="storm", scopes=["read", "submit"])
        people.append((name, [team.slug for team in teams], secret))
    manager = users.create_user("mia", password=PASSWORD)
    Membership.objects.create(team=a, user=manager, role=Membership.Role.MANAGER)
    users.create_superuser("root", password=PASSWORD)
    return people


class Person:
    """A client thread's sessions: the API with a token, the pages logged in."""

    def __init__(self, base, name, slugs, secret):
        self.base, self.name, self.slugs = base, name, slugs
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {secret}"
        self.page = login(base, name)


def login(base, name):
    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=60).text
    session.post(
        base + "/accounts/login/",
        data={"username": name, "password": PASSWORD, "csrfmiddlewaretoken": csrf(page)},
        headers={"Referer": base + "/accounts/login/"}, timeout=60,
    )  # fmt: skip
    return session


def csrf(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def post_page(session, base, path):
    """A confirmed POST of a page's action, with its CSRF token (from the session's cookie)."""
    token = session.cookies.get("csrftoken") or csrf(session.get(base + path, timeout=60).text)
    return session.post(
        base + path, data={"csrfmiddlewaretoken": token, "confirmed": "1"},
        headers={"Referer": base + path}, allow_redirects=False, timeout=60,
    )  # fmt: skip


class Storm:
    def __init__(self, base, people, videos):
        self.base, self.videos = base, videos
        self.people = [Person(base, *person) for person in people]
        self.manager, self.admin = login(base, "mia"), login(base, "root")
        self.answers, self.ops = Counter(), Counter()
        self.lock = threading.Lock()
        self.serial = iter(range(10**9))
        self.batches = []

    def url(self):
        with self.lock:
            return f"{self.videos}/storm/{next(self.serial)}.mp4"

    def note(self, name, response):
        with self.lock:
            self.ops[name] += 1
            self.answers[response.status_code // 100 * 100] += 1
            if response.status_code >= 500:
                self.answers[f"{name} {response.status_code}"] += 1
        return response

    def some(self, rng, person, status):
        found = person.api.get(
            self.base + "/api/v1/submissions", params={"status": status}, timeout=60
        )
        self.note("list", found)
        results = found.json().get("results", []) if found.status_code == 200 else []
        return rng.choice(results)["id"] if results else None

    # --- operations (each a request or two) ----------------------------------------------

    def submit(self, rng, person):
        body = {"team": rng.choice(person.slugs), "url": self.url(),
                "tags": rng.choice(["", "Beach, dawn"])}  # fmt: skip
        self.note(
            "submit", person.api.post(self.base + "/api/v1/submissions", json=body, timeout=60)
        )

    def cancel(self, rng, person):
        pk = self.some(rng, person, "queued")
        if pk:
            url = f"{self.base}/api/v1/submissions/{pk}/cancel"
            self.note("cancel", person.api.post(url, timeout=60))

    def batch(self, rng, person):
        rows = [{"url": self.url()} for _ in range(rng.randint(2, 12))]
        body = {"team": rng.choice(person.slugs), "rows": rows, "confirm_public": True,
                "confirm": rng.random() < 0.5}  # fmt: skip
        made = self.note(
            "batch", person.api.post(self.base + "/api/v1/batches", json=body, timeout=60)
        )
        if made.status_code == 202:
            with self.lock:
                self.batches.append((person, made.json()["id"]))

    def confirm(self, rng, person):
        if self.batches:
            owner, pk = rng.choice(self.batches)
            url = f"{self.base}/api/v1/batches/{pk}/confirm"
            self.note("confirm", owner.api.post(url, json={"confirm_public": True}, timeout=60))

    def batch_cancel(self, rng, person):
        if self.batches:
            owner, pk = rng.choice(self.batches)
            self.note("batch cancel", post_page(owner.page, self.base, f"/batches/{pk}/cancel/"))

    def front(self, rng, person):
        pk = self.some(rng, person, "queued")
        if pk:
            path = f"/submissions/{pk}/front/"
            self.note("front", post_page(self.manager, self.base, path))

    def resend(self, rng, person):
        pk = self.some(rng, person, rng.choice(["failed", "needs_review"]))
        if pk:
            self.note("resend", post_page(self.admin, self.base, f"/submissions/{pk}/resend/"))

    def mark_failed(self, rng, person):
        pk = self.some(rng, person, "needs_review")
        if pk:
            path = f"/submissions/{pk}/mark-failed/"
            self.note("mark failed", post_page(self.admin, self.base, path))

    MIX = {"submit": 8, "cancel": 3, "batch": 1, "confirm": 1, "batch_cancel": 1, "front": 2,
           "resend": 1, "mark_failed": 1}  # fmt: skip

    def run(self, index, until):
        rng = random.Random(SEED * 100 + index)
        names, weights = zip(*self.MIX.items(), strict=True)
        while time.monotonic() < until:
            name = rng.choices(names, weights)[0]
            try:
                getattr(self, name)(rng, rng.choice(self.people))
            except requests.RequestException as exc:
                with self.lock:
                    self.answers[f"{name}: {type(exc).__name__}"] += 1


def run_on(label, database_url, logs):
    from uploads.memories.sandbox import Sandbox

    with (
        slow_video_server(0) as videos,
        Sandbox(
            uploads_per_interval=int(RATE), rate_interval=60.0, callback_delay=0.2, parse_delay=0.5
        ) as sandbox,  # fmt: skip
    ):
        bind = f"127.0.0.1:{free_port()}"
        env = portal_env(
            database_url, sandbox, per_minute=RATE,
            # Plain static files (no collectstatic); warnings (a retried transaction, a
            # deadlock) go to each process's log.
            DJANGO_SETTINGS_MODULE="benchmarks.settings",
            GUNICORN_BIND=bind, GUNICORN_WORKERS=2, GUNICORN_ACCESS_LOG="off",
            PUBLIC_BASE_URL=f"http://{bind}", LOG_LEVEL="WARNING",
            SEND_LEASE_SECONDS=LEASE, MAX_WAITING_PER_PERSON=40,
            # A 0429 backs the gate off for seconds here, not minutes: the storm keeps sending.
            SEND_RETRY_BASE_SECONDS=0.2, SEND_RETRY_MAX_SECONDS=2,
            API_REQUESTS_PER_MINUTE=10**8, LOGIN_FAILURE_LIMIT=1000,
            HEALTH_MAX_HEARTBEAT_AGE_SECONDS=86400, BATCH_CHECK_STALLED_SECONDS=5,
            **probe_loopback(int(videos.rsplit(":", 1)[1])),
        )  # fmt: skip
        start_django(env)
        people = setup()
        with open(logs / f"{label}-gunicorn.log", "w") as err:
            server = launch_gunicorn(env, stderr=err)
        base = wait_for_gunicorn(server, env)
        worker_args = ["db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.05"]
        sender = manage(env, *worker_args, log=logs / f"{label}-sender.log")
        others = [
            manage(env, *worker_args, "--queue-name", "batches", log=logs / f"{label}-batches.log"),
            manage(env, "run_periodic", "--interval", "0.5", log=logs / f"{label}-periodic.log"),
        ]
        killed, ended = [], []
        try:
            storm = Storm(base, people, videos)
            started = time.monotonic()
            until = started + SECONDS
            threads = [threading.Thread(target=storm.run, args=(i, until)) for i in range(THREADS)]
            for thread in threads:
                thread.start()
            rng, next_kill = random.Random(SEED), started + KILL_EVERY
            while time.monotonic() < until:
                if rng.random() < 0.1:
                    name, params = rng.choice(FAULTS)
                    sandbox.set_fault(name, times=1, **params)
                if time.monotonic() >= next_kill:
                    # SIGKILL mid-work: run_periodic recovers what it left sending.
                    sender.send_signal(signal.SIGKILL)
                    killed.append(sender)
                    sender = manage(env, *worker_args, log=logs / f"{label}-sender.log")
                    next_kill += KILL_EVERY
                time.sleep(1)
            for thread in threads:
                thread.join()
            took = time.monotonic() - started
            sandbox.clear_faults()
            ended = [p for p in [sender, *others] if p.poll() is not None]
            # The batches worker may have checks queued before the last cancels.
            cancels_finished(90)
        finally:
            kill([sender, *others, *killed])
            stop_gunicorn(server)
        # The sender was stopped mid-queue: what it had claimed is recovered once its lease
        # is out, as run_periodic does.
        time.sleep(LEASE + 1)
        from uploads.periodic import recover_abandoned_sends

        recover_abandoned_sends()
        return outcome(label, storm, took, logs, label, ended)


def cancels_finished(seconds):
    """Wait (at most `seconds`) for the batches worker to finish the cancels asked for."""
    from uploads.models import Batch

    unfinished = Batch.objects.filter(
        cancel_requested_at__isnull=False, cancel_finished_at__isnull=True
    )
    deadline = time.monotonic() + seconds
    while unfinished.exists() and time.monotonic() < deadline:
        time.sleep(0.5)


def outcome(label, storm, took, logs, prefix, ended):
    from django.db import connection

    from uploads import counters
    from uploads.models import Batch, Status, Submission

    text = "".join(path.read_text(errors="replace") for path in logs.glob(f"{prefix}-*.log"))
    found = {
        "label": label,
        "vendor": connection.vendor,
        "ops": sum(storm.ops.values()),
        "ops/s": sum(storm.ops.values()) / took,
        "5xx": sum(n for code, n in storm.answers.items() if code == 500),
        "client errors": {k: v for k, v in storm.answers.items() if isinstance(k, str)},
        "answers": {k: v for k, v in storm.answers.items() if isinstance(k, int)},
        "deadlocks": text.count("deadlock detected"),
        "retried": text.count(RETRIED),
        "drift": counters.drift(),
        "sending": Submission.objects.filter(status=Status.SENDING).count(),
        "cancels unfinished": Batch.objects.filter(
            cancel_requested_at__isnull=False, cancel_finished_at__isnull=True
        ).count(),
        "unpolled": Submission.objects.filter(
            status=Status.PROCESSING, next_poll_at__isnull=True
        ).count(),
        "statuses": dict(Counter(Submission.objects.values_list("status", flat=True))),
        "ended by themselves": len(ended),
    }
    connection.close()
    return found


def problems_of(result):
    found = [
        f"{what}: {result[what]}"
        for what in ("5xx", "deadlocks", "retried", "sending", "cancels unfinished", "unpolled")
        if result[what]
    ]
    found += [f"count drift: {line}" for line in result["drift"][:5]]
    found += [f"client error {k}: {v}" for k, v in result["client errors"].items()]
    if result["ended by themselves"]:
        found.append(f"{result['ended by themselves']} process(es) ended by themselves")
    return [f"{result['label']}: {problem}" for problem in found]


def main():
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-storm-"))
    targets = [("sqlite", fresh_sqlite("bench_storm.sqlite3"))]
    if POSTGRES != "off":
        try:
            targets.append(("postgresql", fresh_postgres(POSTGRES)))
        except Exception as exc:  # noqa: BLE001 (any reason PostgreSQL cannot be used)
            print(f"Could not measure: postgresql ({exc})", file=sys.stderr)
    results = []
    with busy_cores(max_seconds=len(targets) * (SECONDS + 300)) as busy:
        for label, url in targets:
            # Each database in a process of its own: Django is set up once per process.
            results.append(in_child(label, url, logs))
    report(results, busy, logs)
    problems = [p for r in results for p in problems_of(r)]
    for problem in problems:
        print(f"MISSED: {problem}", file=sys.stderr)
    return 1 if problems or not results else 0


def in_child(label, url, logs):
    """run_on in a forked process (Django's settings are per process); its result back."""
    import json

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            result = run_on(label, url, logs)
        except BaseException:  # noqa: BLE001 (said to the parent)
            import traceback

            result = {"label": label, "crashed": traceback.format_exc()}
        with os.fdopen(write, "w") as out:
            json.dump(result, out, default=str)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as incoming:
        text = incoming.read()
    os.waitpid(pid, 0)
    result = json.loads(text or '{"crashed": "no result"}')
    if "crashed" in result:
        sys.exit(f"{label}: the run crashed: {result['crashed']}")
    return result


def report(results, busy, logs):
    print(f"\n{datetime.now(UTC):%Y-%m-%d}, {machine()}")
    print(f"{SECONDS:g} s of storm per database, {THREADS} client threads, gunicorn 2 workers, "
          f"sending at {RATE:g} a minute, seed {SEED}; {busy}; logs in {logs}")  # fmt: skip
    print("| database | operations | ops/s | 5xx | deadlocks | retried | count drift | "
          "sending | answers |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['vendor']} | {r['ops']} | {r['ops/s']:.1f} | {r['5xx']} | "
              f"{r['deadlocks']} | {r['retried']} | {len(r['drift'])} | {r['sending']} | "
              f"{r['answers']} |")  # fmt: skip
    for r in results:
        print(f"storm {r['vendor']}: statuses {r['statuses']}")


if __name__ == "__main__":
    sys.exit(main())
