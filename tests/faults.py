"""Faults for tests, at the named points of uploads/faults.py (the list, and which tests use
each: docs/tests.md).

In the test's own process, the `faults` fixture (tests/conftest.py) installs any callable
at a point for the length of the test:

    def test_...(faults):
        faults.at("lock", recorder)            # recorder(kind=..., team=..., key=...)

In a process the test starts, a pause, through the environment:

    start_worker(**pausing("send.before_request", seconds=1.6))
"""

import contextlib

from uploads import faults as seam


class Faults:
    """What the `faults` fixture gives: behaviours installed until the test ends."""

    def __init__(self, stack: contextlib.ExitStack):
        self._stack = stack

    def at(self, point, behaviour):
        """Run `behaviour(**context)` at `point`, in this process, until the test ends."""
        return self._stack.enter_context(seam.installed(point, behaviour))


def pausing(point, seconds=None):
    """The environment of a process that pauses at `point`: `seconds` (a stall), or long
    enough to be killed there. The name is checked here, before the process starts."""
    spec = "pause" if seconds is None else f"pause:{seconds}"
    value = f"{point}={spec}"
    seam.parse(value)  # an unknown point fails the test now, not the process later
    return {"PORTAL_FAULTS": value}


class Aborted(Exception):
    """Stands in for psycopg's error of a transaction PostgreSQL aborted, as the cause of
    Django's OperationalError: `raise OperationalError("deadlock detected") from
    Aborted("40P01")` is what uploads.locks.is_conflict recognises."""

    def __init__(self, sqlstate):
        super().__init__(f"aborted ({sqlstate})")
        self.sqlstate = sqlstate
