"""The dispatcher against the sandbox at a raised rate: achieved ÷ allowed rate, and 0429s.

Runs two real `db_worker` processes on a fresh SQLite database against the
sandbox, which enforces the same rate (a sliding window). Goals: achieved rate
at least 0.95 of the allowed rate, and no "rate limited" answer at all.

    .venv/bin/python benchmarks/bench_dispatch.py   (BENCH_DISPATCH_SECONDS, BENCH_DISPATCH_RATE)
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SECONDS = float(os.environ.get("BENCH_DISPATCH_SECONDS", 120))
PER_MINUTE = float(os.environ.get("BENCH_DISPATCH_RATE", 120))
WORKERS = 2


def main():
    from uploads.memories.sandbox import Sandbox

    db = Path(tempfile.mkdtemp()) / "bench_dispatch.sqlite3"
    interval = 60.0 / PER_MINUTE
    with Sandbox(uploads_per_interval=1, rate_interval=interval, callbacks_enabled=False) as sb:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "memories_portal.settings",
            "SECRET_KEY": "bench-only",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "DATABASE_URL": f"sqlite:///{db}",
            "MEMORIES_API_BASE_URL": sb.url,
            "MEMORIES_API_KEY": sb.api_key,
            "MEMORIES_UPLOADS_PER_MINUTE": str(PER_MINUTE),
            "PUBLIC_BASE_URL": "",
        }
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        seed(int(SECONDS / interval * 1.2) + 10)

        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--no-reload",
                    "--interval",
                    "0.01",
                    "--no-startup-delay",
                ],
                cwd=REPO,
                env=env,
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            for _ in range(WORKERS)
        ]
        try:
            from uploads.tasks import wake_sender

            wake_sender()
            start = time.monotonic()
            time.sleep(SECONDS)
        finally:
            for worker in workers:
                worker.kill()
                worker.wait()
        accepted = [r for r in sb.accepted if r.received_at - start < SECONDS]
        rate_limited = sb.count("0429")
        allowed = SECONDS / interval
        ratio = len(accepted) / allowed
        print(f"dispatch: allowed {PER_MINUTE:g}/min for {SECONDS:g} s = {allowed:.0f} uploads")
        print(f"dispatch: sent {len(accepted)} -> achieved/allowed = {ratio:.3f} (goal >= 0.95)")
        print(f"dispatch: 0429 answers = {rate_limited} (goal 0)")
        print(f"dispatch: most uploads in any {interval:g} s window = "
              f"{sb.max_accepted_in_window(interval)}")  # fmt: skip
        return 0 if ratio >= 0.95 and rate_limited == 0 else 1


def seed(n):
    from django.contrib.auth import get_user_model

    from uploads.models import Submission, Team

    user = get_user_model().objects.create_user("bench")
    teams = [Team.objects.create(name=f"Bench {i}") for i in range(3)]
    Submission.objects.bulk_create(
        Submission(team=teams[i % 3], submitter=user, url=f"https://videos.example.com/{i}.mp4")
        for i in range(n)
    )


if __name__ == "__main__":
    sys.exit(main())
