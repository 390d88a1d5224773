"""The dispatcher against the sandbox at a raised rate: achieved ÷ allowed rate, and 0429s.

Runs two real `db_worker` processes on a fresh SQLite database against the
sandbox, which enforces the same rate (a sliding window), while two other
processes keep both cores busy (busy.py; BENCH_BUSY=0 turns them off), for
BENCH_DISPATCH_SECONDS from the first upload. Goals: achieved rate at least
0.95 of the allowed rate, and no "rate limited" answer at all.

    .venv/bin/python benchmarks/bench_dispatch.py   (BENCH_DISPATCH_SECONDS, BENCH_DISPATCH_RATE)
"""

import os
import sys
import time

from busy import busy_cores  # benchmarks/, beside this script
from harness import fresh_sqlite, kill, portal_env, seed, start_django, start_workers
from machine import machine

SECONDS = float(os.environ.get("BENCH_DISPATCH_SECONDS", 120))
PER_MINUTE = float(os.environ.get("BENCH_DISPATCH_RATE", 120))
WORKERS = 2


def main():
    from uploads.sandbox import Sandbox

    interval = 60.0 / PER_MINUTE
    with Sandbox(uploads_per_interval=1, rate_interval=interval, callbacks_enabled=False) as sb:
        env = portal_env(fresh_sqlite("bench_dispatch.sqlite3"), sb, PER_MINUTE)
        start_django(env)
        seed(int(SECONDS / interval * 1.2) + 10)

        from uploads.tasks import wake_sender

        with busy_cores(max_seconds=SECONDS + 90) as busy:
            workers = start_workers(env, WORKERS, interval=0.01)
            try:
                wake_sender()
                # Measured from the first upload: the workers' start-up (slow on busy
                # cores) is not the dispatcher's pacing.
                if not sb.wait_until(lambda: sb.accepted, timeout=60):
                    sys.exit("dispatch: no upload within 60 s of starting the workers")
                start = sb.accepted[0].received_at
                time.sleep(max(start + SECONDS - time.monotonic(), 0))
            finally:
                kill(workers)
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
        return 0 if ratio >= 0.95 and rate_limited == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
