"""The benchmarks still start and measure (their goals are checked by `make bench`, not here)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(script, **env):
    return subprocess.run(
        [sys.executable, f"benchmarks/{script}"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_dispatch_benchmark_runs_and_reports():
    result = run("bench_dispatch.py", BENCH_DISPATCH_SECONDS="2", BENCH_DISPATCH_RATE="600")
    assert "achieved/allowed" in result.stdout, result.stderr[-2000:]
    assert "0429 answers = 0" in result.stdout


def test_the_playlist_benchmark_runs_and_reports():
    result = run("bench_playlist.py")
    assert "ratio checker/scan" in result.stdout, result.stderr[-2000:]
