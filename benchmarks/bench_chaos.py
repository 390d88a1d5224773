"""Sending under chaos: faults, stalled workers and busy cores; nothing sent twice or too fast.

Real `db_worker` processes (one per memories.ai account, plus one), `run_periodic` (every
0.5 s) and gunicorn (for callbacks) on a fresh SQLite database (or PostgreSQL), against the
sandbox at a raised rate, BENCH_CHAOS_ACCOUNTS (2) accounts each with its key, its rate and
a team of its own,
while two other processes keep both cores busy (busy.py; BENCH_BUSY=0 turns
them off). For BENCH_CHAOS_SECONDS (from the first upload):

- faults, one upload at a time, on an account chosen at random, every 2 to 5 s
  (none while the last one still waits for an upload): rate_limit (an injected
  0429), http_502 (not taken), drop (taken, then the connection closes
  unanswered), malformed (taken, then an unreadable body), http_504 (may have
  been taken);
- every 3 to 8 s, workers stopped (SIGSTOP) for longer than their lease
  (SEND_LEASE_SECONDS=3), then continued (SIGCONT): every other time the worker
  that is running a send (found by its worker id on the running task), a few ms
  into it; otherwise one or two workers at random. One always keeps running.

Then no more faults or stops, and the queue drains (up to a deadline). Callbacks
are on (gunicorn on loopback is PUBLIC_BASE_URL), with polling behind them.

Goals, each for every account, exit status 1 when one is missed:
- no URL uploaded twice: none accepted twice by the sandbox, and none that
  reached it twice in a way that may have been processed (accepted, HTTP 500/504);
- no rate breach: no 0429 from the sandbox other than the injected ones, and at
  most one accepted upload in any rate interval;
- nothing unsettled after the drain: none queued or sending, none processing
  without a poll scheduled, none needing review without a reason.

    .venv/bin/python benchmarks/bench_chaos.py
    (BENCH_CHAOS_SECONDS=120, BENCH_CHAOS_RATE=60 per minute, BENCH_CHAOS_DRAIN_SECONDS=180
    at most for the drain, BENCH_CHAOS_SEED for the same random choices, BENCH_BUSY,
    BENCH_CHAOS_DATABASE_URL=postgres://... to run on that PostgreSQL database instead,
    dropped and created again)
"""

import os
import random
import re
import signal
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path

from busy import busy_cores  # benchmarks/, beside this script
from harness import (
    free_port,
    fresh_postgres,
    kill,
    launch_gunicorn,
    manage,
    portal_env,
    refused_too_soon,
    seed,
    start_django,
    start_workers,
    stop_gunicorn,
    wait_for_gunicorn,
)
from machine import machine

SECONDS = float(os.environ.get("BENCH_CHAOS_SECONDS", 120))
PER_MINUTE = float(os.environ.get("BENCH_CHAOS_RATE", 60))
DRAIN_SECONDS = float(os.environ.get("BENCH_CHAOS_DRAIN_SECONDS", 180))
# Empty: a fresh SQLite file. A PostgreSQL URL: that database, dropped and created again.
DATABASE = os.environ.get("BENCH_CHAOS_DATABASE_URL", "")
SEED = int(os.environ.get("BENCH_CHAOS_SEED") or random.randrange(10**6))
ACCOUNTS = int(os.environ.get("BENCH_CHAOS_ACCOUNTS", 2))
WORKERS = ACCOUNTS + 1
LEASE_SECONDS = 3.0
PERIODIC_INTERVAL = 0.5
FAULTS = ("rate_limit", "http_502", "drop", "malformed", "http_504")
# Shorter runs (the test suite's smoke run) get the same kinds of chaos, closer together.
SCALE = min(1.0, SECONDS / 120)
FAULT_GAP = (2.0 * SCALE, 5.0 * SCALE)
STOP_GAP = (3.0 * SCALE, 8.0 * SCALE)
STOP_BEYOND_LEASE = (1.0, 3.0)
HUNT_SECONDS = 3.0  # how long to look for a worker in the middle of a send
INTO_THE_SEND = (0.0, 0.04)  # how far into it (s) it is stopped
# Answers after which the sandbox may have processed the upload.
MAY_HAVE_PROCESSED = {"0000", "http_500", "http_504"}
SHOWN = 5  # URLs shown with their timelines, per goal missed


def portal_settings(interval, port):
    """The portal's settings for the run, scaled to the raised upload rate."""
    return {
        "SEND_LEASE_SECONDS": LEASE_SECONDS,
        # The lease must outlast the longest request: connect + read < lease.
        "MEMORIES_CONNECT_TIMEOUT": 0.5,
        "MEMORIES_READ_TIMEOUT": 2.0,
        # Backoff in the same proportion to the upload interval as the defaults (30 s and
        # 900 s at one upload a minute).
        "SEND_RETRY_BASE_SECONDS": 30 * interval / 60,
        "SEND_RETRY_MAX_SECONDS": 900 * interval / 60,
        "POLL_MIN_INTERVAL_SECONDS": 2,
        "POLL_MAX_INTERVAL_SECONDS": 10,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": 2,
        "GUNICORN_ACCESS_LOG": "off",
    }


def watched_sandbox(**options):
    """The sandbox, also noting the upload requests it does not record (HTTP 502 and 503
    pages: surely not processed), so that timelines show every request that reached it."""
    from uploads.memories.sandbox import Sandbox

    class WatchedSandbox(Sandbox):
        def __init__(self, **options):
            super().__init__(**options)
            self.unrecorded = []  # (monotonic time, url, HTTP status)

        def handle(self, request):
            reply = super().handle(request)
            if request.path.endswith("/upload_url") and reply.status in (502, 503):
                form = urllib.parse.parse_qs(request.body.decode("utf-8", errors="replace"))
                self.unrecorded.append((time.monotonic(), form.get("url", ["?"])[0], reply.status))
            return reply

    return WatchedSandbox(**options)


class Clock:
    """Seconds since the chaos phase began, from monotonic or wall-clock times."""

    def __init__(self, start):
        """`start`: a time.monotonic() time, now or in the past."""
        self.mono, self.wall = start, time.time() - (time.monotonic() - start)

    def of_mono(self, t):
        return t - self.mono

    def of_wall(self, when):
        return when.timestamp() - self.wall


class Portal:
    """The portal's processes for the run; logs in `logs`."""

    def __init__(self, env, logs):
        self.logs = logs
        with open(logs / "gunicorn.log", "ab") as log:
            self.server = launch_gunicorn(env, stderr=log)
        # Workers start meanwhile; nothing wakes them before run_periodic (or run()) does,
        # and that starts once gunicorn is there to take callbacks.
        self.workers = start_workers(env, WORKERS, interval=0.05, log_dir=logs)
        self.periodic = None
        try:
            wait_for_gunicorn(self.server, env)
        except BaseException:
            self.stop()
            raise
        self.periodic = manage(
            env, "run_periodic", "--interval", str(PERIODIC_INTERVAL), log=logs / "periodic.log"
        )

    def stop(self):
        kill([p for p in (*self.workers, self.periodic) if p is not None])
        stop_gunicorn(self.server)

    def crashed(self):
        """Names of processes that ended by themselves."""
        named = [*(f"worker {i}" for i in range(WORKERS)), "periodic", "gunicorn"]
        processes = [*self.workers, self.periodic, self.server]
        return [name for name, p in zip(named, processes, strict=True) if p.poll() is not None]


class Chaos:
    """Faults and worker stops at random times, all noted for the report."""

    def __init__(self, accounts, workers, rng):
        self.accounts, self.workers, self.rng = accounts, workers, rng
        self.stopped = {}  # worker index -> when (monotonic) to continue it
        self.log = []  # (monotonic time, what happened)
        self.faults_set = dict.fromkeys(FAULTS, 0)
        self.stops = {"mid-send": 0, "at random": 0}

    def note(self, what):
        self.log.append((time.monotonic(), what))

    def run(self, until):
        rng, now = self.rng, time.monotonic()
        next_fault = now + rng.uniform(*FAULT_GAP)
        next_stop, mid_send = now + rng.uniform(*STOP_GAP), True
        while (now := time.monotonic()) < until:
            self.continue_due(now)
            if now >= next_fault:
                self.inject(rng.choice(FAULTS))
                next_fault = now + rng.uniform(*FAULT_GAP)
            hunting = mid_send and now >= next_stop
            if hunting and self.stop_mid_send(give_up=now - next_stop > HUNT_SECONDS):
                next_stop, mid_send = now + rng.uniform(*STOP_GAP), False
            elif not mid_send and now >= next_stop:
                self.stop_at_random()
                next_stop, mid_send = now + rng.uniform(*STOP_GAP), True
            wake = min(next_fault, next_stop, until, *self.stopped.values())
            time.sleep(min(max(wake - time.monotonic(), 0.001), 0.005 if hunting else 0.05))
        self.calm()

    def inject(self, fault):
        hits = sum(sum(a.stats()["fault_hits"].values()) for a in self.accounts)
        if hits < sum(self.faults_set.values()):
            return  # the last one still waits for an upload: faults follow the traffic
        account = self.rng.choice(self.accounts)
        account.set_fault(fault, times=1)
        self.faults_set[fault] += 1
        self.note(f"fault {fault} set for the next upload of account {account.name}")

    def running(self):
        return [i for i in range(len(self.workers)) if i not in self.stopped]

    def stop(self, i, how):
        self.workers[i].send_signal(signal.SIGSTOP)
        self.stopped[i] = time.monotonic() + LEASE_SECONDS + self.rng.uniform(*STOP_BEYOND_LEASE)
        self.stops[how] += 1
        self.note(f"worker {i} stopped ({how})")

    def stop_mid_send(self, give_up):
        """Stop the worker running a send, a few ms into it; False: none found yet."""
        i = sending_worker()
        if i is None or i not in self.running() or len(self.running()) < 2:
            if give_up:
                self.note(f"no send to stop in {HUNT_SECONDS:g} s")
            return give_up
        time.sleep(self.rng.uniform(*INTO_THE_SEND))
        self.stop(i, "mid-send")
        return True

    def stop_at_random(self):
        running = self.running()
        if len(running) < 2:
            return  # always one worker left running
        for i in self.rng.sample(running, min(self.rng.choice((1, 2)), len(running) - 1)):
            self.stop(i, "at random")

    def continue_due(self, now):
        for i, at in list(self.stopped.items()):
            if now >= at:
                self.workers[i].send_signal(signal.SIGCONT)
                del self.stopped[i]
                self.note(f"worker {i} continued")

    def calm(self):
        """No more faults or stops: what is set is cleared, stopped workers continue."""
        for account in self.accounts:
            account.clear_faults()
        self.continue_due(float("inf"))
        self.note("chaos over: faults cleared, every worker running")


def sending_worker():
    """The index of the worker running a send task now, or None."""
    from django.tasks import TaskResultStatus
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from uploads.tasks import send_next_submission

    # Only sends that just began: not one that a worker stopped earlier is still running.
    running = DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING,
        task_path=send_next_submission.module_path,
        started_at__gte=timezone.now() - timedelta(seconds=0.2),
    ).values_list("worker_ids", flat=True)
    for worker_ids in running:
        if worker_ids and worker_ids[-1].startswith("worker-"):
            return int(worker_ids[-1].removeprefix("worker-"))
    return None


# ---- the state of the queue -------------------------------------------------------


def counts_by_status():
    from django.db.models import Count

    from uploads.models import Submission

    rows = Submission.objects.values_list("status").annotate(n=Count("id"))
    return dict(rows)


def in_flight():
    """Submissions not yet at rest: waiting, being sent, or being processed."""
    from uploads.models import Status, Submission

    busy = [Status.QUEUED, Status.SENDING, Status.PROCESSING]
    return Submission.objects.filter(status__in=busy).count()


def unsettled(account_name):
    """What the drain must leave at zero in this account's teams, by reason."""
    from uploads.models import Status, Submission

    subs = Submission.objects.filter(team__account__name=account_name)
    return {
        "queued or sending": subs.filter(status__in=[Status.QUEUED, Status.SENDING]).count(),
        "processing without a poll": subs.filter(
            status=Status.PROCESSING, next_poll_at__isnull=True
        ).count(),
        "needs_review without a reason": subs.filter(
            status=Status.NEEDS_REVIEW, error_message=""
        ).count(),
    }


def unsettled_urls():
    from django.db.models import Q

    from uploads.models import Status, Submission

    rows = Submission.objects.filter(
        Q(status__in=[Status.QUEUED, Status.SENDING])
        | Q(status=Status.PROCESSING, next_poll_at__isnull=True)
        | Q(status=Status.NEEDS_REVIEW, error_message="")
    ).values_list("status", "id", "url")
    # The ones stuck on the way first: those merely waiting say least.
    return [url for status, _, url in sorted(rows, key=lambda r: (r[0] == Status.QUEUED, r[1]))]


def drain(limit, quiet):
    """Wait until nothing is in flight for `quiet` s in a row, or `limit` s; say how long."""
    start = time.monotonic()
    calm_since = None
    while time.monotonic() - start < limit:
        if in_flight() == 0:
            calm_since = calm_since or time.monotonic()
            if time.monotonic() - calm_since >= quiet:
                return True, time.monotonic() - start
        else:
            calm_since = None
        time.sleep(0.25)
    return False, time.monotonic() - start


def recoveries():
    """Abandoned sends that run_periodic recovered, by where they went."""
    from django.db.models import Count

    from uploads.models import Event

    rows = Event.objects.filter(kind=Event.Kind.RECOVERED).values_list("to_status")
    return dict(rows.annotate(n=Count("id")))


def recovered_urls():
    from uploads.models import Event

    events = Event.objects.filter(kind=Event.Kind.RECOVERED).order_by("created_at")
    return {e.submission.url: f"(recovered to {e.to_status})" for e in events}


def urls_of_failed_tasks():
    """URL -> the error, for the submissions that a failed wake-up task names."""
    from django_tasks_db.models import DBTaskResult

    from uploads.models import Submission

    found = {}
    for text in DBTaskResult.objects.filter(status="FAILED").values_list("traceback", flat=True):
        error = text.strip().splitlines()[-1] if text.strip() else ""
        if match := re.search(r"Submission (\d+)", error):
            url = Submission.objects.filter(pk=match[1]).values_list("url", flat=True).first()
            found.setdefault(url, error)
    return found


def failed_tasks():
    """Wake-up tasks that raised, by exception."""
    from django.db.models import Count
    from django_tasks_db.models import DBTaskResult

    rows = (
        DBTaskResult.objects.filter(status="FAILED")
        .values_list("exception_class_path")
        .annotate(n=Count("id"))
    )
    return {path.rsplit(".", 1)[-1]: n for path, n in rows}


# ---- what reached the sandbox -----------------------------------------------------


def by_url(records):
    urls = {}
    for record in records:
        urls.setdefault(record.fields.get("url", ["?"])[0], []).append(record)
    return urls


def sent_twice(sandbox):
    """(URLs accepted more than once, URLs that may have been processed more than once)."""
    urls = by_url(sandbox.uploads)
    accepted = [u for u, rs in urls.items() if sum(r.accepted for r in rs) > 1]
    reached = [u for u, rs in urls.items() if sum(r.code in MAY_HAVE_PROCESSED for r in rs) > 1]
    return accepted, reached


def too_fast(sandbox, interval):
    """URL -> how long after the previous accepted upload it was answered 0429 (when that
    upload was still inside the rate window)."""
    found = {}
    for record, gap in refused_too_soon(sandbox, interval):
        found.setdefault(record.fields.get("url", ["?"])[0], []).append(f"{gap:.3f} s")
    return {
        url: f"{', '.join(gaps)} after the previous accepted upload" for url, gaps in found.items()
    }


# ---- timelines, for the URLs that missed a goal ---------------------------------------

LOG_LINE = re.compile(r"^(\S+) \S+ \S+ submission=(\d+) team=\d+ kind=(\S+) from=(\S*) to=(\S*)")


def event_lines(logs):
    """(wall time, process, submission id, kind, from, to) of every event line in the logs."""
    lines = []
    for path in sorted(logs.glob("*.log")):
        process = path.stem.replace("-", " ").replace("gunicorn", "web")
        for line in path.read_text(errors="replace").splitlines():
            if match := LOG_LINE.match(line):
                when, pk, kind, from_status, to_status = match.groups()
                lines.append((datetime.fromisoformat(when), process, int(pk), kind, from_status,
                              to_status))  # fmt: skip
    return lines


def who_wrote(event, lines):
    """The process whose log line matches the event: same moves, the first line after it.

    The line is written when the event's transaction commits, which a worker stopped
    inside it delays by as long as it was stopped.
    """
    after = [
        ((when - event.created_at).total_seconds(), process)
        for when, process, pk, kind, from_status, to_status in lines
        if (pk, kind, from_status, to_status)
        == (event.submission_id, event.kind, event.from_status, event.to_status)
    ]
    after = [(seconds, process) for seconds, process in after if -0.5 < seconds < 15]
    return min(after)[1] if after else "?"


def timeline(url, sandbox, chaos, clock, lines):
    """What the sandbox saw, the Event table and the chaos did around one URL, in order."""
    from uploads.models import Event

    rows = [
        (clock.of_mono(r.received_at), f"sandbox answered {r.code} {r.video_no or ''}".rstrip())
        for r in sandbox.uploads
        if r.fields.get("url", [""])[0] == url
    ]
    rows += [
        (clock.of_mono(t), f"sandbox answered HTTP {status} (not taken)")
        for t, sent, status in sandbox.unrecorded
        if sent == url
    ]
    for event in Event.objects.filter(submission__url=url).order_by("created_at", "id"):
        rows.append(
            (clock.of_wall(event.created_at),
             f"event {event.kind} {event.from_status}->{event.to_status} "
             f"[{who_wrote(event, lines)}] {event.message[:90]}")
        )  # fmt: skip
    if not rows:
        return ["    (nothing yet: never claimed)"]
    first, last = min(t for t, _ in rows), max(t for t, _ in rows)
    rows += [
        (clock.of_mono(t), what)
        for t, what in chaos.log
        if "worker" in what and first - LEASE_SECONDS - 4 <= clock.of_mono(t) <= last + 0.5
    ]
    return [f"    {t:8.2f} s  {what}" for t, what in sorted(rows)]


def show(title, urls, *context):
    """`urls`: a list, or a dict of URL -> a note on it."""
    if not urls:
        return
    print(f"chaos: {title} ({len(urls)}; the first {min(len(urls), SHOWN)}, times from the start):")
    notes = urls if isinstance(urls, dict) else {}
    for url in list(urls)[:SHOWN]:
        print(f"  {url} {notes.get(url, '')}".rstrip())
        print("\n".join(timeline(url, *context)))


# ---- the run ---------------------------------------------------------------------------


def main():
    interval = 60.0 / PER_MINUTE
    logs = Path(tempfile.mkdtemp(prefix="portal-bench-chaos-"))
    database = fresh_postgres(DATABASE) if DATABASE else f"sqlite:///{logs}/bench_chaos.sqlite3"
    sandbox = watched_sandbox(
        uploads_per_interval=1, rate_interval=interval, callback_delay=0.5, parse_delay=1.0
    )
    with sandbox as sb:
        env = portal_env(database, sb, PER_MINUTE, **portal_settings(interval, free_port()))
        start_django(env)
        seed(ACCOUNTS * (int(SECONDS / interval) + 10), teams=ACCOUNTS)
        more_accounts(sb)
        with busy_cores(max_seconds=SECONDS + DRAIN_SECONDS + 120) as busy:
            portal = Portal(env, logs)
            try:
                phases = run(sb, portal, interval)
            finally:
                crashed = portal.crashed()
                portal.stop()
        return report(sb, busy, interval, logs, crashed, *phases)


def more_accounts(sb):
    """Accounts 2.. at the sandbox and in the portal, each with its own key and team (the
    first account is the settings' default one, with the first team)."""
    from uploads.models import MemoriesAccount, Team

    teams = list(Team.objects.order_by("pk"))
    for i in range(1, ACCOUNTS):
        key, name = f"sk-mavi-chaos-{i + 1}", f"chaos-{i + 1}"
        sb.add_account(key, name)
        account = MemoriesAccount.objects.create(
            name=name, api_base_url=sb.url, api_key=key, uploads_per_minute=PER_MINUTE
        )
        Team.objects.filter(pk=teams[i].pk).update(account=account)


def run(sb, portal, interval):
    from uploads.tasks import wake_sender

    wake_sender()
    accounts = [sb, *sb.accounts]
    if not sb.wait_until(lambda: all(a.accepted for a in accounts), timeout=60):
        sys.exit("chaos: not every account uploaded within 60 s of starting the portal")
    # The phase starts with the first upload.
    clock = Clock(start=min(a.accepted[0].received_at for a in accounts))
    chaos = Chaos(accounts, portal.workers, random.Random(SEED))
    chaos.run(until=clock.mono + SECONDS)
    left = in_flight()
    drained = drain(
        limit=min(DRAIN_SECONDS, 30 + 3 * left * interval),
        quiet=sb.callback_delay + sb.parse_delay + 1,
    )
    return clock, chaos, left, drained


def report(sb, busy, interval, logs, crashed, clock, chaos, left, drained):
    allowed = SECONDS / interval
    (is_drained, drain_seconds) = drained
    print(f"chaos: {machine()}; {busy}")
    print(f"chaos: {ACCOUNTS} account(s); {WORKERS} db_worker + run_periodic (every "
          f"{PERIODIC_INTERVAL:g} s) + gunicorn; {'PostgreSQL' if DATABASE else 'SQLite'}; "
          f"{PER_MINUTE:g} uploads/min per account for {SECONDS:g} s; lease {LEASE_SECONDS:g} s; "
          f"callbacks on, polling behind them; seed {SEED}")  # fmt: skip
    print(f"chaos: faults set {chaos.faults_set}")
    print(f"chaos: worker stops {chaos.stops}; sends recovered {recoveries() or 'none'}; "
          f"tasks that raised {failed_tasks() or 'none'}; "
          f"processes that ended by themselves: {', '.join(crashed) or 'none'}")  # fmt: skip
    print(f"chaos: drain: {left} in flight when the chaos stopped; "
          f"{'drained' if is_drained else 'NOT drained'} after {drain_seconds:.1f} s; "
          f"statuses {counts_by_status()}")  # fmt: skip
    met_all, lines = True, event_lines(logs)
    for account in [sb, *sb.accounts]:
        met_all = (
            account_report(account, interval, allowed, (account, chaos, clock, lines)) and met_all
        )
    context = (sb, chaos, clock, lines)
    show("URLs left unsettled", unsettled_urls(), *context)
    show("Sends recovered from a stopped worker (not a goal)", recovered_urls(), *context)
    show("Sends whose task raised (not a goal)", urls_of_failed_tasks(), *context)
    (logs / "chaos.log").write_text(
        "".join(f"{clock.of_mono(t):8.2f} s  {what}\n" for t, what in chaos.log)
    )
    print(f"chaos: logs (the portal's processes, chaos.log) and database in {logs}")
    return 0 if met_all else 1


def account_report(sb, interval, allowed, context):
    """Print one account's figures and goals (each account its own); True if all are met.
    `context`: show()'s, with this account's sandbox."""
    clock = context[2]
    stats = sb.stats()
    in_phase = [r for r in sb.accepted if clock.of_mono(r.received_at) < SECONDS]
    ratio = len(in_phase) / allowed
    accepted_twice, reached_twice = sent_twice(sb)
    rate_limited = sb.count("0429")
    injected = stats["fault_hits"].get("rate_limit", 0)
    breaches = rate_limited - injected
    most = sb.max_accepted_in_window(interval)
    left_over = unsettled(sb.name)
    name = f"account {sb.name}"
    print(f"chaos: {name}: faults hit {stats['fault_hits']}; sandbox answers {stats['codes']}; "
          f"list_videos requests {stats['list_requests']}, most in 1 s "
          f"{stats['max_list_in_1s']}")  # fmt: skip
    print(f"chaos: achieved send rate = {len(in_phase)} accepted / {allowed:.0f} allowed "
          f"over the chaos phase = {ratio:.3f} ({name})")  # fmt: skip
    goals = {
        "uploaded twice": (
            not accepted_twice and not reached_twice,
            f"{len(accepted_twice)} URLs accepted more than once, {len(reached_twice)} reached "
            "the sandbox more than once as accepted/http_500/http_504 (goal 0)",
        ),
        "rate breaches": (
            breaches == 0 and most <= 1,
            f"{breaches} 0429 answers not injected ({rate_limited} in all, {injected} injected "
            f"rate_limit faults); most accepted in any {interval:g} s = {most} "
            "(goal 0 and at most 1)",
        ),
        "unsettled": (
            not any(left_over.values()),
            ", ".join(f"{n} {what}" for what, n in left_over.items()) + " (goal 0 each)",
        ),
    }
    for goal, (met, figures) in goals.items():
        print(f"chaos: {goal}: {name}: {figures} -> {'met' if met else 'MISSED'}")
    show(f"URLs that reached {name} more than once", reached_twice, *context)
    window = f"window {interval:g} s"
    show(f"URLs answered 0429 while {name}'s rate {window} was full", too_fast(sb, interval),
         *context)  # fmt: skip
    return all(met for met, _ in goals.values())


if __name__ == "__main__":
    sys.exit(main())
