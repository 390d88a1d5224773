"""The one seam where tests inject faults: named points in the code that do nothing in real use.

A test that must stall, kill or race a process at an exact moment (a worker between its
claim and its request, two admissions between reading a counter and writing it) names
that moment, and the code there calls `point(name, **context)`. With nothing installed
the call returns at once; production code has no other hook, sleep or no-op for tests.

Two ways to install a behaviour at a point:

- **in the test's own process**, any callable, given the point's context as keywords:
  `with faults.installed("lock", recorder): ...` (the `faults` fixture of tests/conftest.py
  installs one for the length of a test);
- **in a process a test starts** (a worker, `run_periodic`, gunicorn), a pause, through the
  setting `PORTAL_FAULTS`, read from the environment and parsed once per process:
  `PORTAL_FAULTS="send.before_request=pause:1.6,batch.cancelling=pause"`. `pause` sleeps
  30 s (time for the test to kill the process there); `pause:S` sleeps S seconds (a stall).
  A name or a behaviour not listed here raises ImproperlyConfigured, naming it, at the
  first point the process reaches (tests/faults.py builds the value, and checks it in the
  test's process before the other starts).

Every point (a fast test, tests/fast/test_faults.py, fails for a name used in uploads/ that
is not in POINTS; docs/tests.md says which tests use each):

==================================== =====================================================
point                                where, and its context
==================================== =====================================================
``send.before_claim``                the sender chose the next in line (``candidate``, an
                                     id), not yet claimed it
``send.before_request``              a claimed submission, before its turn at the gate
                                     (``submission``)
``send.before_leaving``              the gate passed, before the request leaves
                                     (``submission``)
``send.after_request``               memories.ai answered, before the answer is recorded
                                     (``submission``)
``notify.before_delivery``           a notification claimed, before it is sent
                                     (``notice``)
``batch.cancelling``                 a batch's cancel, after each hundred cancelled
                                     (``batch``, ``cancelled``)
``admission.between_read_and_write`` admission read its lane and quota month, locked,
                                     before it writes them (``team``, ``month``)
``admission.releasing``              held rows let in, before their transaction commits
                                     (``team``, ``person``, ``made``)
``lock``                             a row lock of the order of uploads/locks.py taken
                                     (``kind``, ``team``, ``key``)
==================================== =====================================================

To add a point: call `faults.point("area.moment", ...)` where the moment is, add the name
to the table above and to POINTS, and a row to docs/tests.md's table.
"""

import contextlib
import logging
import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# The table above, as names: a point not listed here cannot be installed.
POINTS = frozenset(
    {
        "send.before_claim",
        "send.before_request",
        "send.before_leaving",
        "send.after_request",
        "notify.before_delivery",
        "batch.cancelling",
        "admission.between_read_and_write",
        "admission.releasing",
        "lock",
    }
)

# A pause with no length: long enough for a test to kill the process there.
PAUSE_SECONDS = 30.0

_installed = {}  # point -> callable, in this process (tests)
_configured = None  # point -> callable, from PORTAL_FAULTS; parsed at the first point


def point(name, **context):
    """A named moment (POINTS): runs what a test installed here, and otherwise nothing."""
    global _configured
    behaviour = _installed.get(name)
    if behaviour is None:
        if _configured is None:
            _configured = parse(settings.PORTAL_FAULTS)
        behaviour = _configured.get(name)
        if behaviour is None:
            return
    behaviour(**context)


@contextlib.contextmanager
def installed(name, behaviour):
    """Within the block, `behaviour(**context)` runs at the point `name` of this process."""
    check(name)
    previous = _installed.get(name)
    _installed[name] = behaviour
    try:
        yield behaviour
    finally:
        if previous is None:
            del _installed[name]
        else:
            _installed[name] = previous


def check(name):
    if name not in POINTS:
        raise ImproperlyConfigured(
            f"No fault point {name!r} (uploads/faults.py); the points: {', '.join(sorted(POINTS))}."
        )


def parse(value):
    """`PORTAL_FAULTS`'s value ("point=pause" or "point=pause:S", comma-separated) as
    {point: behaviour}."""
    behaviours = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        name, _, spec = (part.strip() for part in item.partition("="))
        check(name)
        kind, _, seconds = spec.partition(":")
        if kind != "pause":
            raise ImproperlyConfigured(
                f"PORTAL_FAULTS: {item!r}: the behaviour must be pause or pause:SECONDS."
            )
        try:
            behaviours[name] = pause(name, float(seconds) if seconds else PAUSE_SECONDS)
        except ValueError:
            raise ImproperlyConfigured(
                f"PORTAL_FAULTS: {item!r}: {seconds!r} is not a number of seconds."
            ) from None
    return behaviours


def pause(name, seconds):
    def pausing(**context):
        logger.warning("pausing at %s for %.1f s (PORTAL_FAULTS)", name, seconds)
        time.sleep(seconds)

    return pausing
