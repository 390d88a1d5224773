"""The people every access rule needs, the sandbox, and worker processes."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection

from tests.factories import MembershipFactory, TeamFactory, UserFactory
from uploads.models import Membership
from uploads.sandbox import Sandbox

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _counts_start_at_zero(request):
    """The callback limits count in a cache table, which no test transaction rolls
    back and no flush empties: tests that commit leave it empty for the next."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if (marker and marker.kwargs.get("transaction")) or "live_server" in request.fixturenames:
        cache.clear()


@pytest.fixture
def team_a(db):
    return TeamFactory(name="Alpha", unique_id="alpha-scope")


@pytest.fixture
def team_b(db):
    return TeamFactory(name="Bravo", unique_id="bravo-scope")


@pytest.fixture
def alice(team_a):
    """A member of team A."""
    user = UserFactory(username="alice")
    MembershipFactory(team=team_a, user=user)
    return user


@pytest.fixture
def bob(team_a):
    """Alice's teammate."""
    user = UserFactory(username="bob")
    MembershipFactory(team=team_a, user=user)
    return user


@pytest.fixture
def manager(team_a):
    """A manager of team A."""
    user = UserFactory(username="maria")
    MembershipFactory(team=team_a, user=user, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def outsider(team_b):
    """A member of team B only."""
    user = UserFactory(username="oscar")
    MembershipFactory(team=team_b, user=user)
    return user


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def sandbox(settings):
    """A local memories.ai with fast rates and delays, and the portal pointed at it."""
    with Sandbox(
        uploads_per_interval=100, rate_interval=1.0, callback_delay=0.05, parse_delay=0.1
    ) as sb:
        settings.MEMORIES_API_BASE_URL = sb.url
        settings.MEMORIES_API_KEY = sb.api_key
        settings.MEMORIES_READ_TIMEOUT = 2.0
        settings.MEMORIES_UPLOADS_PER_MINUTE = 6000
        settings.SEND_RETRY_BASE_SECONDS = 0.05
        yield sb


def database_url():
    """The test database as a URL, for processes that tests start."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return (
        f"postgres://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST']}:{s['PORT'] or 5432}/{s['NAME']}"
    )


@pytest.fixture
def start_worker(settings):
    """Start `db_worker` processes on the test database; they are killed after the test."""
    processes = []

    def start(**env_overrides):
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": database_url(),
            "MEMORIES_API_BASE_URL": settings.MEMORIES_API_BASE_URL,
            "MEMORIES_API_KEY": settings.MEMORIES_API_KEY,
            "MEMORIES_READ_TIMEOUT": str(settings.MEMORIES_READ_TIMEOUT),
            "MEMORIES_UPLOADS_PER_MINUTE": str(settings.MEMORIES_UPLOADS_PER_MINUTE),
            "SEND_RETRY_BASE_SECONDS": str(settings.SEND_RETRY_BASE_SECONDS),
            "PUBLIC_BASE_URL": settings.PUBLIC_BASE_URL,
        }
        env.update({k: str(v) for k, v in env_overrides.items()})
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--no-reload", "--interval", "0.05",
             "--no-startup-delay"],
            cwd=REPO,
            env=env,
        )  # fmt: skip
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(predicate, timeout=15.0, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
