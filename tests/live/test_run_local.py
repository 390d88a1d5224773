"""`make run`'s supervision (run_local's `supervise`), with small stand-in commands.

The supervisor runs in a process of its own (it handles signals, as on a
console), in its own process group, so that Ctrl-C can be sent to the group.
"""

import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO, wait_for

SUPERVISOR = textwrap.dedent(
    """
    import json, os, sys
    import django
    django.setup()
    from uploads.management.commands.run_local import Command
    commands, timing = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    Command().supervise(commands, dict(os.environ), **timing)
    """
)

# Notes each start (time, pid); the fourth run stays up a while, every other run exits at once.
FLAKY = textwrap.dedent(
    """
    import os, sys, time
    runs = sys.argv[1]
    with open(runs, "a") as f:
        f.write(f"{time.monotonic()} {os.getpid()}\\n")
    if sum(1 for _ in open(runs)) == 4:
        time.sleep(float(sys.argv[2]))
    sys.exit(3)
    """
)
STEADY = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def supervise(tmp_path):
    """Start the supervisor on `commands`; yields a function that starts it."""
    started = []

    def start(commands, **timing):
        log = (tmp_path / "supervisor.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-c", SUPERVISOR, json.dumps(commands), json.dumps(timing)],
            cwd=REPO,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        started.append(process)
        return process, tmp_path / "supervisor.log"

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_a_process_that_exits_is_restarted_with_backoff_and_said_so(supervise, tmp_path):
    runs, steady_pid = tmp_path / "runs", tmp_path / "steady.pid"
    commands = {
        "flaky": [sys.executable, "-c", FLAKY, str(runs), "1.5"],
        "steady": [sys.executable, "-c", STEADY, str(steady_pid)],
    }
    supervisor, log = supervise(commands, first_delay=0.2, max_delay=0.8, stable_after=1.0)

    def starts():
        return runs.read_text().splitlines() if runs.exists() else []

    assert wait_for(lambda: len(starts()) >= 8, timeout=60), log.read_text()
    assert supervisor.poll() is None
    said = re.findall(r"flaky stopped \(exit 3\); restarting it in ([\d.]+) s\.", log.read_text())
    # Doubling to the cap; back to the start after the fourth run stayed up 1.5 s (> 1.0).
    assert [float(s) for s in said[:7]] == [0.2, 0.4, 0.8, 0.2, 0.4, 0.8, 0.8]
    assert log.read_text().count("Restarting flaky.") >= 7
    times = [float(line.split()[0]) for line in starts()]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    for gap, delay in zip(gaps[:3], [0.2, 0.4, 0.8], strict=True):
        assert gap >= delay  # it did wait
    assert gaps[3] >= 1.5 + 0.2  # the run that stayed up, then the reset delay
    # The other process was left alone the whole time.
    assert "steady" not in log.read_text()
    pid = int(steady_pid.read_text())
    assert alive(pid)

    # Ctrl-C (SIGINT to the console's process group) stops everything.
    os.killpg(supervisor.pid, signal.SIGINT)
    assert supervisor.wait(timeout=20) == 0
    assert "Stopped." in log.read_text()
    assert wait_for(lambda: not alive(pid), timeout=10)


def test_sigterm_stops_everything_even_while_a_restart_is_due(supervise, tmp_path):
    runs, steady_pid = tmp_path / "runs", tmp_path / "steady.pid"
    commands = {
        "flaky": [sys.executable, "-c", FLAKY, str(runs), "0"],
        "steady": [sys.executable, "-c", STEADY, str(steady_pid)],
    }
    # A long pause before the first restart: SIGTERM comes during it.
    supervisor, log = supervise(commands, first_delay=30, max_delay=30, stable_after=60)
    assert wait_for(lambda: "restarting it in 30 s" in log.read_text(), timeout=30)
    assert wait_for(steady_pid.exists)
    pid = int(steady_pid.read_text())
    supervisor.terminate()  # SIGTERM to the supervisor alone
    # It stops its children itself (not by waiting out their grace period and killing them).
    assert supervisor.wait(timeout=5) == 0
    assert wait_for(lambda: not alive(pid), timeout=10)
    assert len(runs.read_text().splitlines()) == 1  # never restarted after the stop
