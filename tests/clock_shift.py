"""The suite with the clock moved: a test whose outcome depends on the date fails here.

    PYTHONPATH=. CLOCK_SHIFT_DAYS=365 .venv/bin/pytest -p tests.clock_shift tests/fast

or with every test starting at one moment (a second before a month ends, say), the clock
running on from there:

    PYTHONPATH=. CLOCK_AT=2027-01-31T23:59:59 .venv/bin/pytest -p tests.clock_shift tests/fast

Python's clock moves with time-machine; SQLite's own ("NOW", the database clock of
`Now()` and `database_now`) is moved with it, so the two still agree, as on a machine
whose date is that far ahead. (PostgreSQL's clock cannot be moved from here: SQLite only.)
Tests that freeze the clock themselves (the `time_machine` fixture) still do.
"""

import os
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db.backends.signals import connection_created

SHIFT = timedelta(days=float(os.environ.get("CLOCK_SHIFT_DAYS", "365")))
AT = os.environ.get("CLOCK_AT")
_plain = sqlite3.connect(":memory:")


def _strftime(fmt, value, *modifiers):
    if isinstance(value, str) and value.lower() == "now" and not modifiers:
        now = datetime.now(UTC).replace(tzinfo=None)
        # SQLite's %f is seconds with milliseconds: SS.SSS.
        return now.strftime(fmt.replace("%f", f"%S.{now.microsecond // 1000:03d}"))
    return _plain.execute("SELECT strftime(?, ?)", (fmt, value)).fetchone()[0]


def _moved_sqlite_clock(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("strftime", 2, _strftime)


@pytest.fixture(autouse=True, scope="session")
def _clock_moved():
    connection_created.connect(_moved_sqlite_clock)
    with time_machine.travel(datetime.now(UTC) + SHIFT, tick=True):
        yield
    connection_created.disconnect(_moved_sqlite_clock)


@pytest.fixture(autouse=True)
def _each_test_starts_at():
    if not AT:
        yield
        return
    with time_machine.travel(datetime.fromisoformat(AT).replace(tzinfo=UTC), tick=True):
        yield
