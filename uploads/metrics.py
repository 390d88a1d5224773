"""The counters the processes keep for Prometheus, and the text `/metrics` answers.

Counters are counted where things happen (the sender, the callback, a delivery, a
batch's check, an answer of memories.ai) in whichever process does them. Under
gunicorn and beside the workers, each process writes its counts to files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode; the variable must be
set, to one directory, for every process of a host before it starts), and `/metrics`
adds them up. Without the variable (tests, a single process) they live in memory.

Gauges (submissions by status, the oldest waiting, heartbeat ages, a pause) are read
from the database when Prometheus scrapes (uploads/health.py's `DatabaseCollector`):
they are true whichever process asks, and nothing writes them between scrapes.

This module imports nothing of the portal's models: the memories.ai client counts its
answers through it. Labels that a later split (an account, a host) needs are added to
a counter here and given at the one place that counts it.
"""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)

PREFIX = "memories_portal"

UPLOADS = Counter(
    f"{PREFIX}_uploads",
    "Uploads sent to memories.ai, by the account they went through and what came of them.",
    ["account", "outcome"],  # an account's name; accepted, rate_limited, refused, not_sent, unknown
)
MEMORIES_ANSWERS = Counter(
    f"{PREFIX}_memories_answers",
    "Answers from memories.ai, by the account asked and their envelope code (HTTP status "
    "without one; none).",
    ["account", "code"],  # an account's name (accounts are few); the code
)
CALLBACKS = Counter(
    f"{PREFIX}_callbacks",
    "memories.ai's callbacks, by how the portal answered them.",
    ["result"],  # applied, unknown_token, refused, conflict, too_large, limited
)
NOTIFICATIONS = Counter(
    f"{PREFIX}_notifications",
    "Notification delivery attempts, by channel and what came of them.",
    ["channel", "outcome"],  # email/webhook; sent, failed, gave_up, dropped
)
BATCH_ROWS_CHECKED = Counter(
    f"{PREFIX}_batch_rows_checked",
    "Rows of Submit-many batches whose link was checked.",
)


def upload_outcome(account, outcome):
    UPLOADS.labels(account=account, outcome=outcome).inc()


def memories_answer(code, account=""):
    MEMORIES_ANSWERS.labels(account=account, code=code or "none").inc()


def callback_result(result):
    CALLBACKS.labels(result=result).inc()


def notification(channel, outcome):
    NOTIFICATIONS.labels(channel=channel, outcome=outcome).inc()


def batch_row_checked():
    BATCH_ROWS_CHECKED.inc()


def multiprocess_dir():
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def exposition(*collectors):
    """The text of every process's counters (this one's alone without multiprocess
    mode), and what `collectors` read now: (body, content type)."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ThisProcess())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ThisProcess:
    """The default registry's counters, without registering the database's gauges in it."""

    def collect(self):
        return REGISTRY.collect()
