"""deploy/: a systemd unit for each process of the Procfile, restarted whenever it exits,
reading one environment file, started after the release step; the nginx site buffers
bodies and sets the headers the settings believe."""

import configparser
import re

import pytest

from tests.conftest import REPO
from tests.servers import gunicorn_config

SYSTEMD = REPO / "deploy" / "systemd"
UNIT_OF = {
    "web": "web",
    "worker": "sender",
    "batches": "batches",
    "notifications": "notifications",
    "periodic": "periodic",
}


def unit(name):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(SYSTEMD / f"memories-portal-{name}.service")
    return parser


def procfile():
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line)


@pytest.mark.parametrize(("process", "name"), UNIT_OF.items())
def test_each_process_has_a_unit_that_restarts_it_after_the_release(process, name):
    service = unit(name)
    command = procfile()[process].split(" ", 1)[1]  # without the metrics directory
    assert service["Service"]["ExecStart"].endswith(command.removeprefix("python "))
    assert service["Service"]["Restart"] == "always"
    assert service["Service"]["EnvironmentFile"] == "/etc/memories-portal/env"
    assert "PROMETHEUS_MULTIPROC_DIR=" in service["Service"]["Environment"]
    assert service["Unit"]["Requires"] == "memories-portal-release.service"
    assert "memories-portal-release.service" in service["Unit"]["After"]
    assert service["Unit"]["StartLimitIntervalSec"] == "0"
    assert f"memories-portal-{name}.service" in (SYSTEMD / "memories-portal.target").read_text()


def test_the_release_step_migrates_and_collects_static_files():
    text = (SYSTEMD / "memories-portal-release.service").read_text()
    assert "manage.py migrate --noinput" in text
    assert "manage.py collectstatic --noinput" in text
    assert "Type=oneshot" in text


def test_the_nginx_site_buffers_bodies_and_sets_the_forwarded_headers():
    site = (REPO / "deploy" / "nginx" / "memories-portal.conf").read_text()
    headers = (REPO / "deploy" / "nginx" / "memories-portal-proxy.conf").read_text()
    assert "proxy_request_buffering on;" in site
    assert "client_body_buffer_size" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in headers
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in headers
    assert "proxy_set_header Host $host;" in headers


def test_nginx_lets_an_idle_upstream_connection_go_before_gunicorn_does():
    """A connection gunicorn closes as nginx reuses it fails its request: a POST is not
    tried again, and its person sees a 502."""
    site = (REPO / "deploy" / "nginx" / "memories-portal.conf").read_text()
    upstream = re.search(r"upstream memories_portal \{(.*?)\}", site, re.S).group(1)
    nginx_idle = int(re.search(r"keepalive_timeout (\d+)s;", upstream).group(1))
    assert nginx_idle < int(gunicorn_config()["keepalive"])
