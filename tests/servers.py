"""Starting the portal's own processes for a test: gunicorn on the test database."""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import REPO, database_url, wait_for


def gunicorn(*args, env=None, **popen):
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        *args,
        "memories_portal.wsgi",
    ]
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **(env or {})}
    return subprocess.Popen(argv, cwd=REPO, env=environment, **popen)


def manage(*args, env=None, **popen):
    """`python manage.py <args>` in a process of its own, on the test database (a worker,
    run_periodic): the Popen. `env` adds to (or replaces) the environment."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings",
                   "DATABASE_URL": database_url(), **(env or {})}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "manage.py", *args], cwd=REPO, env=environment, **popen
    )


def gunicorn_config(env=None):
    """What gunicorn.conf.py makes of `env`: gunicorn's own --print-config, as a dict."""
    process = gunicorn("--print-config", env=env, stdout=subprocess.PIPE, text=True)
    out, _ = process.communicate(timeout=30)
    config = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    return {name.strip(): value.strip() for name, value in config.items()}


@contextlib.contextmanager
def serving(output, port=None, **env):
    """gunicorn on the test database and loopback (a free port unless told), answering
    /healthz: (port, base URL). Its output goes to the file `output`; `env` adds to (or
    replaces) the database and the bind."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DATABASE_URL": database_url(), "GUNICORN_BIND": f"127.0.0.1:{port}", **env}
    with open(output, "w") as log:
        server = gunicorn(env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: answers(base + "/healthz"), timeout=30), Path(output).read_text()[
            -3000:
        ]
        yield port, base
    finally:
        server.terminate()
        server.wait(timeout=30)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url):
    """True once something listens at `url`."""
    try:
        requests.get(url, timeout=2)
    except (requests.ConnectionError, requests.Timeout):  # not up yet, or still starting
        return False
    return True
