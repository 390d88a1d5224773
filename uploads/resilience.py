"""Outliving transient database errors: a locked SQLite file, a lost connection.

The worker (`manage.py db_worker`), its tasks and `run_periodic` wait and try
again instead of dying: one process stuck behind a lock must not leave the
queue without a sender, or the health check without a heartbeat.
"""

import functools
import logging
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, connections

logger = logging.getLogger(__name__)

# "database is locked", a dropped or refused connection, a server restarting.
# Not IntegrityError or ProgrammingError: trying again would only fail again.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError)


def backoff(attempt, base=None, cap=None):
    """Seconds to wait before try number `attempt` + 1: base, doubling, at most cap."""
    base = settings.DB_RETRY_BASE_SECONDS if base is None else base
    cap = settings.DB_RETRY_MAX_SECONDS if cap is None else cap
    return min(base * 2 ** max(attempt - 1, 0), cap)


def in_transaction():
    return any(c.in_atomic_block for c in connections.all(initialized_only=True))


def reset_connections():
    """After a database error: close connections that no longer work, to reconnect on next use.

    Only outside transactions (a caller's transaction is the caller's to end).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            try:
                connection.close_if_unusable_or_obsolete()
            except TRANSIENT_DB_ERRORS:
                connection.close()


def retry_database_errors(function):
    """Run `function` again after a transient database error, with backoff, logging each.

    Gives up (raises the error) after DB_RETRY_ATTEMPTS tries, or at once inside
    a transaction: the error has spoiled it, and only its owner can start over.
    """

    @functools.wraps(function)
    def retrying(*args, **kwargs):
        attempt = 1
        while True:
            try:
                return function(*args, **kwargs)
            except TRANSIENT_DB_ERRORS as exc:
                if in_transaction() or attempt >= settings.DB_RETRY_ATTEMPTS:
                    logger.error(
                        "%s: database error, giving up after %d tries: %s",
                        function.__name__,
                        attempt,
                        exc,
                    )
                    raise
                delay = backoff(attempt)
                logger.warning(
                    "%s: database error (try %d of %d), trying again in %.1f s: %s",
                    function.__name__,
                    attempt,
                    settings.DB_RETRY_ATTEMPTS,
                    delay,
                    exc,
                )
                reset_connections()
                time.sleep(delay)
                attempt += 1

    return retrying
