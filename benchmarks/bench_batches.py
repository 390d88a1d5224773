"""Submit many: reading and validating 10,000 rows, and checking 1,000 links.

1. Rows: a 10,000-row CSV (every column, semicolons, decimal commas) posted to the
   Submit many page with Django's test client, then every row through the submission
   form's rules with URL checks off: the links are simply not checked
   (`checking.validate_rows`; no setting turns the checks off). In a process of its own,
   on benchmarks/settings.py and a fresh SQLite file (migrated by another process first).
   Figures: rows per second, and the process's peak memory above its idle memory, sampled
   every 2 ms (goal: under 100 MB). Then, as if every link had answered, the rows are
   queued (one transaction: 10,000 submissions and their events), timed too.
2. Links: 1,000 rows checked by the batches worker, started as the Procfile starts it
   (`db_worker --no-reload --queue-name batches`), against a local server that answers
   each request after 50 ms (loopback is let through for this benchmark's processes
   only). Figure: elapsed ÷ (1,000 × 50 ms ÷ BATCH_CHECK_CONCURRENCY), from the moment the
   worker starts the check to the last row checked (goal ≤ 1.5); the time the worker took
   to pick the task up (it polls every second) is printed beside it.

    .venv/bin/python benchmarks/bench_batches.py      (BENCH_BATCHES_ROWS, BENCH_BATCHES_LINKS)
"""

import gc
import os
import resource
import subprocess
import sys
import threading
import time

import harness
from machine import machine

ROWS = int(os.environ.get("BENCH_BATCHES_ROWS", 10_000))
LINKS = int(os.environ.get("BENCH_BATCHES_LINKS", 1_000))
DELAY = 0.05
MEMORY_GOAL_MB = 100
RATIO_GOAL = 1.5
PAGE = os.sysconf("SC_PAGE_SIZE")


def main():
    if sys.argv[1:] == ["--rows"]:
        return rows_child()
    print(f"batches: {machine()}")
    rows_ok = run_rows_child()
    links_ok = measure_links()
    return 0 if rows_ok and links_ok else 1


# --- 1. reading and validating ------------------------------------------------------------


def run_rows_child():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DATABASE_URL": harness.fresh_sqlite("bench_batches_rows.sqlite3"),
        "PYTHONPATH": str(harness.REPO),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=harness.REPO, env=env, check=True,
    )  # fmt: skip
    child = subprocess.run(
        [sys.executable, __file__, "--rows"], cwd=harness.REPO, env=env, capture_output=True,
        text=True,
    )  # fmt: skip
    print(child.stdout, end="")
    if child.returncode not in (0, 1):
        print(child.stderr[-3000:], file=sys.stderr)
    return child.returncode == 0


def rss():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


class PeakMemory:
    """The most resident memory seen, sampled every 2 ms on a thread of its own."""

    def __init__(self):
        self.peak = rss()
        self.running = True
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self):
        while self.running:
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss())


def csv_text(team):
    lines = ["url;team;datetime_taken;camera_model;latitude;longitude;tags;"
             "retain_original_video;video_transcription_prompt"]  # fmt: skip
    for n in range(ROWS):
        lines.append(
            f"https://videos.example.com/archive/2025/reel-{n:05d}.mp4?sig={n * 7919:x};"
            f"{team.slug};2025-{n % 12 + 1:02d}-{n % 28 + 1:02d} 11:{n % 60:02d}:00;"
            f"Canon EOS 5D;48,{8566 + n % 1000};2,{3522 + n % 1000};harbour, reel {n % 50};"
            f"{'yes' if n % 2 else 'no'};Names of the speakers, please"
        )
    return ("\n".join(lines) + "\n").encode()


def rows_child():
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    from uploads.batches import checking, service
    from uploads.models import Batch, BatchRow, Membership, Team

    user = get_user_model().objects.create_user("bench")
    # An archive's team lets its person have the whole archive waiting: the measurement is
    # queueing every row in one transaction, not the cap holding most of them.
    team = Team.objects.create(name="Bench", max_waiting_per_person=ROWS)
    Membership.objects.create(team=team, user=user)
    client = Client()
    client.force_login(user)
    client.get("/batches/new/")  # the page's code is loaded before the idle figure
    content = csv_text(team)
    gc.collect()
    idle = rss()
    with PeakMemory() as memory:
        started = time.perf_counter()
        upload = SimpleUploadedFile("archive.csv", content, content_type="text/csv")
        response = client.post("/batches/new/", {"file": upload, "team": team.pk})
        posted = time.perf_counter()
        assert response.status_code == 302, response.content[-2000:]
        batch = Batch.objects.get()
        valid = checking.validate_rows(batch)
        validated = time.perf_counter()
        refused = batch.rows.filter(state=BatchRow.State.REFUSED).first()
        assert valid == ROWS, refused.problem if refused else valid
        batch.rows.update(state=BatchRow.State.READY)  # as if every link had answered
        Batch.objects.filter(pk=batch.pk).update(state=Batch.State.CHECKED)
        queue_started = time.perf_counter()
        queued = service.confirm(batch, user)["queued"]
        queue_done = time.perf_counter()
    assert queued == ROWS, queued
    above = (memory.peak - idle) / 1024**2
    maxrss_above = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - idle) / 1024**2
    total = validated - started
    print(f"batches: {ROWS:,} rows ({len(content) / 1024**2:.1f} MB of CSV), URL checks off")
    print(f"batches: read and stored in {posted - started:.2f} s, validated in "
          f"{validated - posted:.2f} s: {ROWS / total:,.0f} rows/s overall")  # fmt: skip
    print(f"batches: queued {queued:,} submissions in {queue_done - queue_started:.2f} s "
          "(one transaction)")  # fmt: skip
    print(f"batches: memory idle {idle / 1024**2:.0f} MB, peak {above:.1f} MB above idle "
          f"(ru_maxrss {maxrss_above:.1f} MB above) (goal < {MEMORY_GOAL_MB} MB)")  # fmt: skip
    return 0 if above < MEMORY_GOAL_MB else 1


# --- 2. checking links -----------------------------------------------------------------------


def measure_links():
    with harness.slow_video_server(DELAY) as base:
        port = int(base.rsplit(":", 1)[1])
        env = harness.portal_env(
            harness.fresh_sqlite("bench_batches_links.sqlite3"), **harness.probe_loopback(port)
        )
        harness.start_django(env)
        from django.conf import settings
        from django.contrib.auth import get_user_model
        from django_tasks_db.models import DBTaskResult

        from uploads.models import Batch, BatchRow, Membership, Team
        from uploads.tasks import check_batch

        user = get_user_model().objects.create_user("bench")
        team = Team.objects.create(name="Bench")
        Membership.objects.create(team=team, user=user)
        worker = harness.manage(env, "db_worker", "--no-reload", "--queue-name", "batches")
        try:
            # The worker is up once it has run a first (empty) check.
            warm_up = check_batch.enqueue(batch_id=0)
            if not wait(lambda: warm_up.refresh() or warm_up.is_finished, 60):
                sys.exit("batches: the batches worker did not start within 60 s")
            urls = [f"{base}/reel-{n:04d}.mp4" for n in range(LINKS)]
            enqueued = time.monotonic()
            batch = harness.create_batch(user, team, urls)
            if not wait(lambda: Batch.objects.get(pk=batch.pk).state == "checked", 600):
                sys.exit("batches: the check did not finish within 10 minutes")
            done = time.monotonic()
        finally:
            harness.kill([worker])
        tasks = DBTaskResult.objects.filter(args_kwargs__kwargs__batch_id=batch.pk)
        first = tasks.order_by("started_at").first()
        batch.refresh_from_db()
        checked_in = (batch.checked_at - first.started_at).total_seconds()
        picked_up = (done - enqueued) - checked_in
        concurrency = settings.BATCH_CHECK_CONCURRENCY
        ideal = LINKS * DELAY / concurrency
        ratio = checked_in / ideal
        ready = batch.rows.filter(state=BatchRow.State.READY).count()
        print(f"batches: {LINKS:,} links, each answered after {DELAY * 1000:.0f} ms, "
              f"concurrency {concurrency}, {tasks.count()} step(s): {ready:,} ready")  # fmt: skip
        print(f"batches: checked in {checked_in:.2f} s (ideal {ideal:.2f} s), "
              f"ratio {ratio:.2f} (goal <= {RATIO_GOAL}); the worker picked the task up "
              f"{picked_up:.2f} s after it was queued")  # fmt: skip
        return ratio <= RATIO_GOAL and ready == LINKS


def wait(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


if __name__ == "__main__":
    sys.exit(main())
