"""Keep the machine's cores busy with other processes while a benchmark measures.

The portal shares its machine (2 cores here) with whatever else runs there, so
the benchmarks measure with both cores taken by spinning processes:

    with busy_cores(max_seconds=SECONDS + 60) as busy:
        ...measure...
    print(f"dispatch: {busy}")

BENCH_BUSY=0 turns it off; BENCH_BUSY=<n> spins n processes instead of 2.
Every spinner stops by itself after `max_seconds`, or as soon as the benchmark
that started it is gone (even killed), so none outlives its benchmark; leaving
the `with` block stops them all, on an error or Ctrl-C too.
"""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

CORES = 2  # the benchmark machine's cores (README, "Performance")

# Runs in each spinner: burn CPU until the deadline or until the parent is gone.
SPIN = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_DFL)
parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end and os.getppid() == parent:
    for _ in range(200_000):
        pass
"""


class Busy:
    """What was kept busy, for the benchmark's report."""

    def __init__(self, processes, max_seconds):
        self.processes = processes
        self.max_seconds = max_seconds
        self.started = time.monotonic()
        self.ended_early = 0  # spinners that stopped before the measurement did
        self.pids = []

    @property
    def on(self):
        return self.processes > 0

    def __str__(self):
        if not self.on:
            return "busy cores: off (BENCH_BUSY=0)"
        text = f"busy cores: on, {self.processes} spinning processes (BENCH_BUSY=0 turns off)"
        if self.ended_early:
            text += f", but {self.ended_early} stopped early (past {self.max_seconds:g} s)"
        return text


def wanted_processes():
    """How many spinners BENCH_BUSY asks for: unset or "1": CORES; "0": none."""
    value = os.environ.get("BENCH_BUSY", "").strip().lower()
    if value in ("", "1", "on", "yes", "true"):
        return CORES
    if value in ("0", "off", "no", "false"):
        return 0
    return int(value)


@contextmanager
def busy_cores(processes=None, max_seconds=600.0):
    """Spin `processes` (default: BENCH_BUSY, else CORES) processes for the block's duration."""
    count = wanted_processes() if processes is None else processes
    busy = Busy(count, max_seconds)
    spinners = []
    try:
        for _ in range(count):
            spinners.append(
                subprocess.Popen(
                    [sys.executable, "-I", "-c", SPIN, str(os.getpid()), str(max_seconds)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                )
            )
            busy.pids.append(spinners[-1].pid)
        yield busy
    finally:
        busy.ended_early = sum(1 for s in spinners if s.poll() is not None)
        stop(spinners)


def stop(processes, grace=2.0):
    """Terminate, wait a little, then kill what is left; reaps them all."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.01))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
