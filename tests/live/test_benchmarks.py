"""The benchmarks still start and measure (their goals are checked by `make bench`, not here)."""

import importlib.util
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO


def run(script, timeout=120, **env):
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def reports(script, figures, timeout=120, exits=(0, 1), **env):
    """Run a benchmark briefly: it ends with one of `exits` (1 is a missed goal, too short a
    run to mean much; a crash prints no figures) and prints every one of `figures`."""
    result = run(script, timeout, **env)
    output = result.stdout[-3000:] + result.stderr[-3000:]
    assert result.returncode in exits, output
    for figure in figures:
        assert figure in result.stdout, output
    return result


def test_the_dispatch_benchmark_runs_and_reports():
    result = run("bench_dispatch.py", BENCH_DISPATCH_SECONDS="2", BENCH_DISPATCH_RATE="600")
    assert "achieved/allowed" in result.stdout, result.stderr[-2000:]
    assert "0429 answers = 0" in result.stdout
    assert "busy cores: on, 2 spinning processes" in result.stdout


def test_the_dispatch_benchmarks_goal_check_fails_when_a_goal_is_missed(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # its own imports, beside it
    spec = importlib.util.spec_from_file_location(
        "bench_dispatch", REPO / "benchmarks" / "bench_dispatch.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    met = [("a", 0.983, 0), ("b", 0.975, 0), ("c", 0.95, 0)]
    assert bench.missed_goals(met, together=2.91) == []
    assert bench.missed_goals([*met[:2], ("c", 0.94, 0)], together=2.90) == [
        "c achieved 0.940 < 0.95"
    ]
    assert bench.missed_goals([*met[:2], ("c", 0.96, 1)], together=2.92) == [
        "c had 1 0429 answer(s)"
    ]
    assert bench.missed_goals(met, together=2.84) == ["together 2.84 × < 2.85 ×"]


def test_the_dispatch_benchmark_runs_with_a_batch_being_checked():
    result = run(
        "bench_dispatch.py",
        BENCH_DISPATCH_SECONDS="2",
        BENCH_DISPATCH_RATE="600",
        BENCH_DISPATCH_BATCH="40",
        BENCH_BUSY="0",
    )
    assert "0429 answers = 0" in result.stdout, result.stderr[-2000:]
    assert "meanwhile the batches worker checked" in result.stdout


def test_the_api_benchmark_runs_and_reports():
    # A few creates of each, without busy cores: it starts, measures both and prints the
    # table; missing the goal (too few requests to mean much) exits 1, a crash has no table.
    result = reports(
        "bench_api.py", ["| gthread 16, quiet | "], timeout=60, BENCH_API_REQUESTS="12",
        BENCH_API_ROUNDS="1", BENCH_THREADS="3", BENCH_BUSY="0", BENCH_GUNICORN_THREADS="16",
    )  # fmt: skip
    assert "answered" not in result.stderr, result.stderr[-3000:]  # every create succeeded


def test_the_batches_benchmark_runs_and_reports():
    figures = ["rows/s overall", "above idle", "queued 300 submissions", "ratio "]
    reports("bench_batches.py", figures, BENCH_BATCHES_ROWS="300", BENCH_BATCHES_LINKS="40")


def test_the_chaos_benchmark_runs_and_reports():
    # 1.5 s of chaos at a high rate and a half-second drain (5 to 8 s in all):
    # too short to meet the goals, long enough to start, stop and continue workers,
    # inject faults and report every figure. Missing a goal exits 1; a crash has no report.
    figures = ["achieved send rate = ", "uploaded twice: ", "rate breaches: ", "unsettled: "]
    result = reports(
        "bench_chaos.py", [f"chaos: {figure}" for figure in figures], timeout=60,
        BENCH_CHAOS_SECONDS="1.5", BENCH_CHAOS_RATE="600", BENCH_CHAOS_DRAIN_SECONDS="0.5",
        BENCH_BUSY="0",
    )  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "busy cores: off (BENCH_BUSY=0)" in result.stdout
    assert "processes that ended by themselves: none" in result.stdout


def test_the_storm_benchmark_runs_and_reports():
    # 4 s of storm on SQLite only, without busy cores: it starts every process, sends,
    # kills nothing (the first kill is at 30 s) and reports every figure. Missing a goal
    # exits 1; a crash has no table.
    result = reports(
        "bench_storm.py", ["| sqlite | ", "storm sqlite: statuses"], timeout=120,
        BENCH_STORM_SECONDS="4", BENCH_STORM_THREADS="3", BENCH_STORM_DATABASE_URL="off",
        BENCH_BUSY="0",
    )  # fmt: skip
    assert "the run crashed" not in result.stderr


def test_the_queue_benchmark_runs_side_by_side_and_reports(tmp_path):
    # A small queue on SQLite, without busy cores: long enough to start both sizes'
    # processes, alternate between them and print the table. Missing the goal exits 1.
    result = reports(
        "bench_queue.py", ["| sqlite | status fragment, 100 ids |"], timeout=180,
        BENCH_QUEUE_WAITING="300", BENCH_BUSY="0", BENCH_DB_NAME=f"smoke_queue_{os.getpid()}",
        TMPDIR=str(tmp_path),
    )  # fmt: skip
    assert "| postgresql |" in result.stdout or "Could not measure: postgresql" in result.stderr


def test_the_playlist_benchmark_runs_and_reports():
    result = run("bench_playlist.py")
    assert "ratio checker/scan" in result.stdout, result.stderr[-2000:]


def load_busy():
    spec = importlib.util.spec_from_file_location("busy", REPO / "benchmarks" / "busy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_busy_cores_spin_for_the_block_and_are_gone_after_it_even_on_an_error():
    busy = load_busy()
    with pytest.raises(RuntimeError), busy.busy_cores(processes=2, max_seconds=60) as spinning:
        assert len(spinning.pids) == 2
        time.sleep(0.3)
        assert not any(gone(pid) for pid in spinning.pids)
        raise RuntimeError("the benchmark failed")
    assert all(gone(pid) for pid in spinning.pids)


def test_busy_cores_never_outlive_their_maximum_and_can_be_turned_off(monkeypatch):
    busy = load_busy()
    with busy.busy_cores(processes=1, max_seconds=0.3) as spinning:
        time.sleep(1.5)
    assert spinning.ended_early == 1
    assert "stopped early" in str(spinning)
    monkeypatch.setenv("BENCH_BUSY", "0")
    with busy.busy_cores() as spinning:
        assert spinning.pids == []
    assert str(spinning) == "busy cores: off (BENCH_BUSY=0)"


def test_the_notifications_benchmark_runs_and_reports():
    figures = ["5 people:", "50 people:", "queries per notification", "ratio ",
               "with-2: 10 emails", "slowest email (median run)"]  # fmt: skip
    result = reports("bench_notifications.py", figures, timeout=90, BENCH_NOTIFY_STATUSES="30",
                     BENCH_HANGING_NOTICES="30", BENCH_HANGING_EMAILS="10")  # fmt: skip
    assert "0 failed" in result.stdout


def test_the_slow_clients_benchmark_runs_and_reports():
    # Half a second a phase, five slow clients cut off after one (about 8 s in all): it
    # starts gunicorn as `make run` does, measures both phases and prints the table; the
    # goals are make bench's to judge.
    figures = ["| quiet | ", "| slow | ", "ratio slow/quiet median = ", "threads 32"]
    result = reports(
        "bench_slow_clients.py", figures, timeout=60, BENCH_SLOW_SECONDS="0.5",
        BENCH_SLOW_CLIENTS="5", BENCH_SLOW_NORMAL="2", REQUEST_BODY_TIMEOUT="1",
    )  # fmt: skip
    assert "'408'" in result.stdout  # the slow clients were cut off at the deadline


def test_the_fuzz_benchmark_runs_and_reports():
    reports("bench_fuzz.py", ["4 properties x 3 examples in "], timeout=120, exits=(0,),
            FUZZ_EXAMPLES="3")  # fmt: skip
