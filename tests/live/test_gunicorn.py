"""gunicorn.conf.py: settings from the environment, callback tokens out of its logs."""

import pytest
import requests

from tests.conftest import give_callback_token, wait_for
from tests.factories import SubmissionFactory
from tests.servers import gunicorn_config, serving
from uploads.models import ApiToken, Status


def test_it_reads_workers_timeouts_bind_and_proxies_from_the_environment():
    env = {"GUNICORN_WORKERS": "3", "GUNICORN_TIMEOUT": "45", "PORT": "9999",
           "FORWARDED_ALLOW_IPS": "10.0.0.2", "GUNICORN_ACCESS_LOG": "off",
           "GUNICORN_KEEPALIVE": "90"}  # fmt: skip
    config = gunicorn_config(env)
    assert config["workers"] == "3"
    assert config["timeout"] == "45"
    assert config["keepalive"] == "90"
    assert config["bind"] == "['0.0.0.0:9999']"
    assert config["forwarded_allow_ips"] == "['10.0.0.2']"
    assert config["accesslog"] == "None"
    assert "TokenMaskingLogger" in config["logger_class"]
    assert config["control_socket_disable"] == "True"


@pytest.mark.django_db(transaction=True)
def test_callback_tokens_are_masked_in_the_access_log_and_the_error_log(alice, team_a, tmp_path):
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    token = give_callback_token(submission)
    unknown = "unknown-" + "q" * 40
    api_token = ApiToken.issue(alice, name="leaked", scopes=["read"])[1]
    access_log, error_log = tmp_path / "access.log", tmp_path / "error.log"
    env = {"GUNICORN_WORKERS": "1", "GUNICORN_ACCESS_LOG": str(access_log)}
    with serving(error_log, **env) as (_, base):
        parse = {"status": "PARSE", "videoNo": "VI1"}
        answer = requests.post(f"{base}/callbacks/memories/{token}/", json=parse, timeout=10)
        assert answer.status_code == 200
        missing = requests.post(f"{base}/callbacks/memories/{unknown}/", json=parse, timeout=10)
        assert missing.status_code == 404
        # An API token sent where it does not belong: refused, and written nowhere.
        in_query = requests.get(f"{base}/api/v1/me?token={api_token}", timeout=10)
        assert in_query.status_code == 401
        assert wait_for(lambda: access_log.read_text().count("/callbacks/") == 2)
        assert wait_for(lambda: "/api/v1/me" in access_log.read_text())
    submission.refresh_from_db()
    assert submission.status == Status.PARSED
    lines = access_log.read_text()
    assert '"POST /callbacks/memories/****/ HTTP/1.1" 200' in lines
    assert '"POST /callbacks/memories/****/ HTTP/1.1" 404' in lines
    errors = error_log.read_text()
    assert "Not Found: /callbacks/memories/****/" in errors
    assert '"GET /api/v1/me?token=**** HTTP/1.1" 401' in lines
    for text in (lines, errors):
        assert token not in text and unknown not in text and api_token not in text
