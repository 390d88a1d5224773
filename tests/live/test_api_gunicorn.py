"""The API under gunicorn with two workers: the per-token limit holds across them (creates
at once included), and two requests at once with one Idempotency-Key make one submission."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import bearer
from tests.servers import serving
from uploads.models import Submission

LIMIT = 12


@pytest.fixture
def portal(tmp_path):
    env = {"GUNICORN_WORKERS": "2", "API_REQUESTS_PER_MINUTE": str(LIMIT)}
    with serving(tmp_path / "gunicorn.log", **env) as (_, base):
        yield base


def authorization(user):
    return {"Authorization": bearer(user)["HTTP_AUTHORIZATION"]}


def a_fresh_minute():
    """Wait, when the minute is late, for the next: a whole burst counts in one minute."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


@pytest.mark.django_db(transaction=True)
def test_the_limit_holds_across_workers(portal, alice):
    headers = authorization(alice)
    a_fresh_minute()
    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(
            pool.map(
                lambda _: (
                    requests.get(f"{portal}/api/v1/me", headers=headers, timeout=20).status_code
                ),
                range(3 * LIMIT),
            )
        )
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == 2 * LIMIT


@pytest.mark.django_db(transaction=True)
def test_two_requests_at_once_with_one_key_make_one_submission(portal, alice, team_a, clip_url):
    headers = {**authorization(alice), "Idempotency-Key": "one"}
    body = {"team": team_a.slug, "url": clip_url}
    start = threading.Barrier(4)

    def submit(_):
        start.wait()
        return requests.post(f"{portal}/api/v1/submissions", json=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers_ = list(pool.map(submit, range(4)))
    assert {a.status_code for a in answers_} == {201}, [a.text[:300] for a in answers_]
    assert len({a.json()["id"] for a in answers_}) == 1
    assert Submission.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_is_read_and_held_to_the_limit_under_gunicorn(portal, alice, team_a):
    headers = {**authorization(alice), "Content-Type": "application/json"}
    rows = [{"url": "https://videos.example.com/a.mp4", "camera_model": "x" * 1024}] * 11_000
    body = json.dumps({"team": team_a.slug, "rows": rows}).encode()

    def chunks(data, size=256 * 1024):  # a generator: requests sends it chunked
        for start in range(0, len(data), size):
            yield data[start : start + size]

    too_large = requests.post(f"{portal}/api/v1/batches", data=chunks(body), headers=headers,
                              timeout=60)  # fmt: skip
    assert too_large.status_code == 413, too_large.text[:300]
    assert too_large.headers["Content-Type"] == "application/problem+json"
    small = json.dumps({"team": team_a.slug, "rows": [{"url": "https://10.0.0.1/a.mp4"}]})
    made = requests.post(f"{portal}/api/v1/batches", data=chunks(small.encode()),
                         headers=headers, timeout=60)  # fmt: skip
    assert made.status_code == 202, made.text[:300]


@pytest.mark.django_db(transaction=True)
def test_creates_at_once_make_no_more_than_the_limit(portal, alice, team_a, clip_url):
    """A create is counted in the transaction that makes its submission: of many at once,
    all let in while the minute had room, only the limit's worth are made."""
    headers = authorization(alice)
    start = threading.Barrier(8)

    def submit(n):
        if n < 8:
            start.wait()
        body = {"team": team_a.slug, "url": f"{clip_url}?n={n}"}
        return requests.post(f"{portal}/api/v1/submissions", json=body, headers=headers,
                             timeout=30).status_code  # fmt: skip

    a_fresh_minute()
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(submit, range(2 * LIMIT)))
    assert statuses.count(201) == LIMIT, statuses
    assert statuses.count(429) == LIMIT
    assert Submission.objects.count() == LIMIT
