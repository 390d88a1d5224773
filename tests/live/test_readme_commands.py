"""The README's commands work as a newcomer types them, in a terminal of their own (not
under `make run`): each runs in a fresh process against a database of its own, with no
environment but what the line itself sets."""

import os
import re
import subprocess

import pytest

from tests.conftest import REPO

README = (REPO / "README.md").read_text()


def readme_line(containing):
    [line] = [line for line in README.splitlines() if containing in line]
    return line.strip()


@pytest.fixture
def newcomer(tmp_path):
    """Runs a shell line in the checkout as a newcomer's terminal would: none of the
    portal's settings in the environment, no .env, the database a file of its own."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DEBUG", "SECRET_", "ALLOWED_", "MEMORIES_", "DATABASE"))
    }  # fmt: skip
    env.update(ENV_FILE=str(tmp_path / "no.env"), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")

    def run(line):
        return subprocess.run(
            ["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
        )

    # What `make run` did before: the database and two people.
    setup = run(
        "DEBUG=1 .venv/bin/python manage.py migrate -v0 && DEBUG=1 .venv/bin/python manage.py "
        'shell -c "from django.contrib.auth.models import User; '
        "[User.objects.create_user(n) for n in ('ana', 'ben')]\""
    )
    assert setup.returncode == 0, setup.stderr[-2000:]
    return run


def test_create_team_runs_as_the_readme_writes_it(newcomer):
    line = readme_line("manage.py create_team")
    done = newcomer(line)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Created team “Field Ops” (scope field-ops)." in done.stdout
    again = newcomer(line)  # "Running it again adds what is missing."
    assert again.returncode == 0, again.stderr[-2000:]


def test_without_debug_the_refusal_says_how_to_run_it_locally(newcomer):
    line = re.sub(r"^DEBUG=1 ", "", readme_line("manage.py create_team"))
    refused = newcomer(line)
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr
    assert "DEBUG=1" in refused.stderr  # the way out, in the message
