"""Starting the portal's own processes for a test: gunicorn on the test database."""

import os
import socket
import subprocess
import sys

import requests

from tests.conftest import REPO


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
