"""The dispatcher against the sandbox at a raised rate: achieved ÷ allowed rate, and 0429s.

Runs real `db_worker` processes (one per memories.ai account, plus one) on a
fresh SQLite database against the sandbox, which enforces each account's rate
(a sliding window; BENCH_DISPATCH_RATE, 30 a minute), while two other processes keep
both cores busy (busy.py; BENCH_BUSY=0 turns them off), for BENCH_DISPATCH_SECONDS
(120) from the first upload.
BENCH_DISPATCH_ACCOUNTS (3) accounts, each with its own key and a team of its
own, each at the raised rate. Goals: each account's achieved rate at least 0.95
of its allowed rate, no "rate limited" answer at all, and so all of them
together at least 0.95 × the accounts' number × one account's rate; each goal missed is
printed, and the exit status is then 1.

BENCH_DISPATCH_BATCH=1000: meanwhile a batch of that many rows is being checked by the
batches worker (a third process, on its own task queue), against a local server slow
enough that the check lasts the whole measurement: the sender must not wait behind it.

    .venv/bin/python benchmarks/bench_dispatch.py   (BENCH_DISPATCH_SECONDS, BENCH_DISPATCH_RATE,
                                                     BENCH_DISPATCH_BATCH, BENCH_DISPATCH_ACCOUNTS,
                                                     BENCH_DISPATCH_WORKERS,
                                                     BENCH_DISPATCH_DATABASE_URL)
"""

import contextlib
import itertools
import os
import statistics
import sys
import time

import harness
from busy import busy_cores  # benchmarks/, beside this script
from machine import machine

SECONDS = float(os.environ.get("BENCH_DISPATCH_SECONDS", 120))
# Raised from the real 1 a minute, but with an interval (2 s) still longer than
# SEND_HOLD_SECONDS (1.5 s): each upload's slot is then taken once the previous one has
# left, as at the real rate (docs/performance.md says why this rate is the honest one).
PER_MINUTE = float(os.environ.get("BENCH_DISPATCH_RATE", 30))
ACCOUNTS = int(os.environ.get("BENCH_DISPATCH_ACCOUNTS", 3))
# One per account, plus one: a request that takes long on one account holds no other.
WORKERS = int(os.environ.get("BENCH_DISPATCH_WORKERS", ACCOUNTS + 1))
WORKER_POLL_SECONDS = float(os.environ.get("BENCH_WORKER_POLL_SECONDS", 0.25))
BATCH_ROWS = int(os.environ.get("BENCH_DISPATCH_BATCH", 0))
# A PostgreSQL database to drop and create for the run (default: a fresh SQLite file).
DATABASE = os.environ.get("BENCH_DISPATCH_DATABASE_URL", "")
GOAL = 0.95  # of each account's allowed rate


def main():
    from uploads.memories.sandbox import Sandbox

    interval = 60.0 / PER_MINUTE
    with (
        Sandbox(uploads_per_interval=1, rate_interval=interval, callbacks_enabled=False) as sb,
        batch_links() as links,
    ):
        database = (
            harness.fresh_postgres(DATABASE)
            if DATABASE
            else harness.fresh_sqlite("bench_dispatch.sqlite3")
        )
        env = harness.portal_env(database, sb, PER_MINUTE)

        if links:
            env.update(harness.probe_loopback(int(links.rsplit(":", 1)[1])))
        harness.start_django(env)
        harness.seed(ACCOUNTS * (int(SECONDS / interval * 1.2) + 10), teams=ACCOUNTS)
        accounts = [sb, *more_accounts(sb)]

        from uploads.tasks import wake_sender

        with busy_cores(max_seconds=SECONDS + 90) as busy:
            # Workers poll the task table every quarter second: wake-ups come
            # SEND_HOLD_SECONDS early, so polling faster only adds write-lock
            # traffic (each poll is a write transaction on SQLite).
            workers = harness.start_workers(env, WORKERS, interval=WORKER_POLL_SECONDS)
            if links:
                workers.append(harness.manage(env, "db_worker", "--no-reload", "--queue-name",
                                              "batches"))  # fmt: skip
            try:
                wake_sender()
                # Measured from the first upload: the workers' start-up (slow on busy
                # cores) is not the dispatcher's pacing.
                if not sb.wait_until(lambda: all(a.accepted for a in accounts), timeout=60):
                    sys.exit("dispatch: not every account sent within 60 s of the workers' start")
                start = min(a.accepted[0].received_at for a in accounts)
                batch = start_batch(links) if links else None
                time.sleep(max(start + SECONDS - time.monotonic(), 0))
                checked = batch_progress(batch) if batch else None
            finally:
                harness.kill(workers)
        allowed = SECONDS / interval
        print(f"dispatch: {machine()}; {busy}")
        print(f"dispatch: {ACCOUNTS} account(s), each allowed {PER_MINUTE:g}/min for "
              f"{SECONDS:g} s = {allowed:.0f} uploads; {WORKERS} workers")  # fmt: skip
        figures, total = [], 0
        for account in accounts:
            sent, ratio = report(account, start, interval)
            figures.append((account.name, ratio, account.count("0429")))
            total += sent
        together = total / allowed
        print(f"dispatch: all accounts together sent {total} = {together:.2f} × one account's "
              f"allowed (goal >= {GOAL * ACCOUNTS:.2f})")  # fmt: skip
        if checked is not None:
            print(f"dispatch: meanwhile the batches worker checked {checked} of {BATCH_ROWS:,} "
                  f"rows of a batch (each link answered after {link_delay():.2f} s)")  # fmt: skip
        missed = missed_goals(figures, together)
        for goal in missed:
            print(f"dispatch: goal missed: {goal}")
        return 1 if missed else 0


def missed_goals(figures, together):
    """The goals a run missed (none: all met). `figures`: each account's (name, achieved ÷
    allowed, 0429 answers); `together`: all accounts' uploads ÷ one account's allowed."""
    missed = [f"{name} achieved {ratio:.3f} < {GOAL}" for name, ratio, _ in figures if ratio < GOAL]
    missed += [f"{name} had {refused} 0429 answer(s)" for name, _, refused in figures if refused]
    if together < GOAL * len(figures):
        missed.append(f"together {together:.2f} × < {GOAL * len(figures):.2f} ×")
    return missed


def more_accounts(sb):
    """Accounts 2.. at the sandbox and in the portal, each with its own key, a team each
    (the first account is the settings' default one, with the first team)."""
    from uploads.models import MemoriesAccount, Team

    teams = list(Team.objects.order_by("pk"))
    made = []
    for i in range(1, ACCOUNTS):
        key = f"sk-mavi-bench-{i + 1}"
        made.append(sb.add_account(key, f"bench-{i + 1}"))
        account = MemoriesAccount.objects.create(
            name=f"bench-{i + 1}", api_base_url=sb.url, api_key=key, uploads_per_minute=PER_MINUTE
        )
        Team.objects.filter(pk=teams[i].pk).update(account=account)
    return made


def report(account, start, interval):
    """Print one account's figures; (uploads sent in the measurement, achieved ÷ allowed)."""
    accepted = [r for r in account.accepted if start <= r.received_at < start + SECONDS]
    ratio = len(accepted) / (SECONDS / interval)
    name = f"dispatch: account {account.name}:"
    print(f"{name} sent {len(accepted)} -> achieved/allowed = {ratio:.3f} (goal >= {GOAL}); "
          f"0429 answers = {account.count('0429')} (goal 0); most uploads in any "
          f"{interval:g} s window = {account.max_accepted_in_window(interval)}")  # fmt: skip
    times = [r.received_at for r in accepted]
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    if gaps:
        print(f"{name} between uploads: median {statistics.median(gaps):.3f} s, "
              f"90th percentile {gaps[len(gaps) * 9 // 10]:.3f} s, "
              f"longest {gaps[-1]:.3f} s (interval {interval:g} s)")  # fmt: skip
    for _, gap in harness.refused_too_soon(account, interval):
        print(f"{name} 0429 {gap:.3f} s after the previous accepted upload")
    return len(accepted), ratio


def link_delay():
    """Each link's answer time: the batch's check lasts the whole measurement."""
    from django.conf import settings

    return SECONDS * settings.BATCH_CHECK_CONCURRENCY / BATCH_ROWS


@contextlib.contextmanager
def batch_links():
    """The slow server the batch's links point to (its base URL), or None without a batch."""
    if not BATCH_ROWS:
        yield None
        return
    # The delay depends on a setting read once Django is set up: the server asks each time.
    with harness.slow_video_server(lambda: link_delay()) as base:
        yield base


def start_batch(base):
    from django.contrib.auth import get_user_model

    from uploads.models import Membership, Team

    user, team = get_user_model().objects.get(username="bench"), Team.objects.first()
    Membership.objects.create(team=team, user=user)
    urls = [f"{base}/reel-{n:04d}.mp4" for n in range(BATCH_ROWS)]
    return harness.create_batch(user, team, urls)


def batch_progress(batch):
    """The batch's rows checked so far, and whether the check was still going."""
    from uploads.models import BatchRow

    left = batch.rows.filter(state__in=[BatchRow.State.NEW, BatchRow.State.VALID]).count()
    return f"{BATCH_ROWS - left:,}" + (" (still checking)" if left else " (all)")


if __name__ == "__main__":
    sys.exit(main())
