"""The dispatcher against the sandbox at a raised rate: achieved ÷ allowed rate, and 0429s.

Runs two real `db_worker` processes on a fresh SQLite database against the
sandbox, which enforces the same rate (a sliding window), while two other
processes keep both cores busy (busy.py; BENCH_BUSY=0 turns them off), for
BENCH_DISPATCH_SECONDS from the first upload. Goals: achieved rate at least
0.95 of the allowed rate, and no "rate limited" answer at all.

BENCH_DISPATCH_BATCH=1000: meanwhile a batch of that many rows is being checked by the
batches worker (a third process, on its own task queue), against a local server slow
enough that the check lasts the whole measurement: the sender must not wait behind it.

    .venv/bin/python benchmarks/bench_dispatch.py   (BENCH_DISPATCH_SECONDS, BENCH_DISPATCH_RATE,
                                                     BENCH_DISPATCH_BATCH)
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
PER_MINUTE = float(os.environ.get("BENCH_DISPATCH_RATE", 120))
WORKERS = 2
WORKER_POLL_SECONDS = float(os.environ.get("BENCH_WORKER_POLL_SECONDS", 0.25))
BATCH_ROWS = int(os.environ.get("BENCH_DISPATCH_BATCH", 0))


def main():
    from uploads.memories.sandbox import Sandbox

    interval = 60.0 / PER_MINUTE
    with (
        Sandbox(uploads_per_interval=1, rate_interval=interval, callbacks_enabled=False) as sb,
        batch_links() as links,
    ):
        env = harness.portal_env(harness.fresh_sqlite("bench_dispatch.sqlite3"), sb, PER_MINUTE)
        if links:
            env.update(harness.probe_loopback(int(links.rsplit(":", 1)[1])))
        harness.start_django(env)
        harness.seed(int(SECONDS / interval * 1.2) + 10)

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
                if not sb.wait_until(lambda: sb.accepted, timeout=60):
                    sys.exit("dispatch: no upload within 60 s of starting the workers")
                start = sb.accepted[0].received_at
                batch = start_batch(links) if links else None
                time.sleep(max(start + SECONDS - time.monotonic(), 0))
                checked = batch_progress(batch) if batch else None
            finally:
                harness.kill(workers)
        accepted = [r for r in sb.accepted if r.received_at - start < SECONDS]
        rate_limited = sb.count("0429")
        allowed = SECONDS / interval
        ratio = len(accepted) / allowed
        print(f"dispatch: {machine()}; {busy}")
        print(f"dispatch: allowed {PER_MINUTE:g}/min for {SECONDS:g} s = {allowed:.0f} uploads")
        print(f"dispatch: sent {len(accepted)} -> achieved/allowed = {ratio:.3f} (goal >= 0.95)")
        print(f"dispatch: 0429 answers = {rate_limited} (goal 0)")
        print(f"dispatch: most uploads in any {interval:g} s window = "
              f"{sb.max_accepted_in_window(interval)}")  # fmt: skip
        times = [r.received_at for r in accepted]
        gaps = sorted(b - a for a, b in itertools.pairwise(times))
        if gaps:
            print(f"dispatch: between uploads: median {statistics.median(gaps):.3f} s, "
                  f"90th percentile {gaps[len(gaps) * 9 // 10]:.3f} s, "
                  f"longest {gaps[-1]:.3f} s (interval {interval:g} s)")  # fmt: skip
        for _, gap in harness.refused_too_soon(sb, interval):
            print(f"dispatch: 0429 {gap:.3f} s after the previous accepted upload")
        if checked is not None:
            print(f"dispatch: meanwhile the batches worker checked {checked} of {BATCH_ROWS:,} "
                  f"rows of a batch (each link answered after {link_delay():.2f} s)")  # fmt: skip
        return 0 if ratio >= 0.95 and rate_limited == 0 else 1


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
