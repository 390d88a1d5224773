"""Each kind of background process, killed as a host would lose it (SIGKILL): /healthz/workers
names it within its beat limit while /healthz stays 200; restarted, both are 200 again."""

import signal
import subprocess

import pytest
import requests

from tests.conftest import wait_for
from tests.servers import manage

pytestmark = pytest.mark.django_db(transaction=True)

BEAT = 0.5  # seconds between beats in this test
LIMIT = 3.0  # a kind is missing once its last beat is older than this
COMMANDS = {
    "sender": ["db_worker", "--no-reload", "--interval", "0.2", "--no-startup-delay"],
    "batches": ["db_worker", "--no-reload", "--interval", "0.2", "--no-startup-delay",
                "--queue-name", "batches"],
    "notifications": ["db_worker", "--no-reload", "--interval", "0.2", "--no-startup-delay",
                      "--queue-name", "notifications"],
    "periodic": ["run_periodic", "--interval", "0.5"],
}  # fmt: skip


@pytest.fixture
def processes():
    """Start one process of a kind; every one started is killed after the test."""
    started = []
    env = {"HEARTBEAT_INTERVAL_SECONDS": str(BEAT), "HEALTH_MAX_HEARTBEAT_AGE_SECONDS": str(LIMIT)}

    def start(kind):
        process = manage(
            *COMMANDS[kind], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def answer(live_server, path):
    """(status, JSON); (None, {}) when the server is too slow to answer this once (a
    loaded machine): the waits below ask again until their deadline."""
    try:
        response = requests.get(live_server.url + path, timeout=5)
    except requests.Timeout:
        return None, {}
    return response.status_code, response.json()


@pytest.mark.parametrize("kind", list(COMMANDS))
def test_a_killed_process_is_named_until_it_is_back(live_server, settings, processes, kind):
    settings.HEALTH_MAX_HEARTBEAT_AGE_SECONDS = LIMIT
    running = {name: processes(name) for name in COMMANDS}
    assert wait_for(lambda: answer(live_server, "/healthz/workers")[0] == 200, timeout=30), answer(
        live_server, "/healthz/workers"
    )[1]

    running[kind].send_signal(signal.SIGKILL)
    running[kind].wait(timeout=10)
    # Named within its beat limit (and the time a scrape takes), and it alone.
    assert wait_for(lambda: answer(live_server, "/healthz/workers")[0] == 503, timeout=LIMIT + 1.5)
    status, report = answer(live_server, "/healthz/workers")
    [missing] = report["missing"]
    assert missing.startswith(f"{kind}: last beat ") and missing.endswith(" s ago")
    assert not report["processes"][kind]["ok"]
    assert answer(live_server, "/healthz") == (200, {"ok": True, "database": "ok"})

    processes(kind)
    assert wait_for(lambda: answer(live_server, "/healthz/workers")[0] == 200, timeout=30)
    assert answer(live_server, "/healthz")[0] == 200
