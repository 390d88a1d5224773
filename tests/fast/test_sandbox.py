"""The sandbox (uploads/memories/sandbox/), driven over real HTTP on loopback.

Nothing here touches the database or the portal: the sandbox must stand alone.
"""

import ast
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.conftest import REPO
from uploads.memories.sandbox import Sandbox

KEY = "sk-mavi-sandbox"
AUTH = {"Authorization": KEY}
UPLOAD = "/serve/api/v1/upload_url"
LIST = "/serve/api/v1/list_videos"
METADATA = "/serve/api/v1/get_metadata"
VIDEO = "https://videos.example.com/clip.mp4"


@pytest.fixture
def make_sandbox():
    """Start sandboxes with quick, generous defaults; stop them all afterwards."""
    started = []

    def make(**options):
        settings = dict(
            api_key=KEY,
            uploads_per_interval=100,
            rate_interval=60.0,
            callback_delay=0.05,
            parse_delay=0.05,
            list_rate_per_second=1000,
        )
        settings.update(options)
        started.append(Sandbox(**settings).start())
        return started[-1]

    yield make
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox()


class Recorder:
    """A tiny HTTP server that records the POSTs it receives: the portal's stand-in."""

    def __init__(self):
        self.posts = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.posts.append((self.path, self.headers["Content-Type"], json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/memories/callback"
        serve = self.server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    recorder = Recorder()
    yield recorder
    recorder.close()


def upload(sandbox, headers=AUTH, timeout=5, **fields):
    fields.setdefault("url", VIDEO)
    response = requests.post(sandbox.url + UPLOAD, data=fields, headers=headers, timeout=timeout)
    return response.json()


def list_videos(sandbox, **body):
    body = {"page": 1, "size": 200, "unique_id": "default", **body}
    response = requests.post(sandbox.url + LIST, json=body, headers=AUTH, timeout=5)
    return response.json()


def metadata(sandbox, video_no, unique_id="default"):
    params = {"video_no": video_no, "unique_id": unique_id}
    return requests.get(sandbox.url + METADATA, params=params, headers=AUTH, timeout=5).json()


def closed_port_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}/callback"


# ---- auth ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "sk-mavi-wrong"}, {"Authorization": f"Bearer {KEY}"}],
    ids=["missing", "wrong", "bearer"],
)
def test_it_refuses_a_missing_wrong_or_bearer_key(sandbox, headers):
    answer = upload(sandbox, headers=headers)
    assert answer == {
        "code": "0401",
        "msg": answer["msg"],
        "data": None,
        "success": False,
        "failed": True,
    }
    assert sandbox.videos == {}
    assert sandbox.count("0401") == 1


def test_it_checks_the_key_before_the_parameters(sandbox):
    response = requests.post(sandbox.url + UPLOAD, json={}, headers={}, timeout=5)
    assert response.json()["code"] == "0401"


def test_it_checks_the_key_on_every_endpoint(sandbox):
    response = requests.post(sandbox.url + LIST, json={}, timeout=5)
    assert response.json()["code"] == "0401"
    response = requests.get(sandbox.url + METADATA, params={"video_no": "VI1"}, timeout=5)
    assert response.json()["code"] == "0401"


# ---- upload_url parameters ---------------------------------------------------------


def test_it_refuses_a_json_body(sandbox):
    response = requests.post(sandbox.url + UPLOAD, json={"url": VIDEO}, headers=AUTH, timeout=5)
    assert response.status_code == 200
    assert response.json()["code"] == "0001"
    assert "JSON" in response.json()["msg"]
    assert sandbox.videos == {}


def test_it_refuses_an_upload_without_url(sandbox):
    answer = requests.post(sandbox.url + UPLOAD, data={}, headers=AUTH, timeout=5).json()
    assert answer["code"] == "0001"
    assert "url" in answer["msg"]
    assert answer["data"] is None


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"url": "ftp://videos.example.com/a.mp4"}, "url"),
        ({"url": "/clip.mp4"}, "url"),
        ({"url": ""}, "url"),
        ({"callback": "portal.example.com/callback"}, "callback"),
        ({"latitude": "91", "longitude": "10"}, "latitude"),
        ({"latitude": "north", "longitude": "10"}, "latitude"),
        ({"latitude": "39.9", "longitude": "180.5"}, "longitude"),
        ({"latitude": "39.9"}, "longitude"),
        ({"longitude": "116.4"}, "latitude"),
        ({"datetime_taken": "2025-10-20T11:00:00"}, "datetime_taken"),
        ({"datetime_taken": "2025-13-01 11:00:00"}, "datetime_taken"),
        ({"datetime_taken": "2025-1-2 3:04:05"}, "datetime_taken"),
        ({"unique_id": ""}, "unique_id"),
        ({"unique_id": "x" * 129}, "unique_id"),
        ({"retain_original_video": "yes"}, "retain_original_video"),
    ],
)
def test_it_refuses_a_bad_field_and_names_it(sandbox, fields, named):
    answer = upload(sandbox, **fields)
    assert answer["code"] == "0001"
    assert named in answer["msg"]
    assert sandbox.videos == {}


def test_a_successful_upload_answers_the_documented_shape(sandbox):
    before_ms = time.time() * 1000
    answer = upload(sandbox)
    assert answer["code"] == "0000"
    assert answer["msg"] == "success"
    assert answer["success"] is True
    assert answer["failed"] is False
    data = answer["data"]
    assert set(data) == {"videoNo", "videoName", "videoStatus", "uploadTime"}
    assert re.fullmatch(r"VI\d{18}", data["videoNo"])
    assert re.fullmatch(r"[0-9a-f]{32}", data["videoName"])
    assert data["videoStatus"] == "UNPARSE"
    assert isinstance(data["uploadTime"], str)
    assert before_ms - 1000 <= int(data["uploadTime"]) <= time.time() * 1000 + 1000
    assert upload(sandbox)["data"]["videoNo"] != data["videoNo"]
    assert sandbox.accepted[0].video_no == data["videoNo"]


def test_it_receives_repeated_tags_as_a_list(sandbox):
    answer = upload(sandbox, tags=["beach", "family"])
    assert sandbox.uploads[-1].fields["tags"] == ["beach", "family"]
    assert sandbox.videos[answer["data"]["videoNo"]]["tags"] == ["beach", "family"]


def test_it_also_accepts_indexed_tags(sandbox):
    answer = upload(sandbox, **{"tags[1]": "family", "tags[0]": "beach"})
    assert sandbox.videos[answer["data"]["videoNo"]]["tags"] == ["beach", "family"]


def test_it_accepts_multipart_form_data(sandbox):
    form = {"url": (None, VIDEO), "tags": (None, "beach"), "unique_id": (None, "team")}
    response = requests.post(sandbox.url + UPLOAD, files=form, headers=AUTH, timeout=5)
    video = sandbox.videos[response.json()["data"]["videoNo"]]
    assert (video["url"], video["tags"], video["unique_id"]) == (VIDEO, ["beach"], "team")


def test_it_stores_every_documented_field(sandbox, recorder):
    answer = upload(
        sandbox,
        callback=recorder.url,
        unique_id="test1020",
        datetime_taken="2025-10-20 11:00:00",
        camera_model="Canon EOS 5D",
        latitude="-39.9042",
        longitude="116.4074",
        tags=["test1", "test2"],
        retain_original_video="True",
        video_transcription_prompt="Focus on the speaker.",
    )
    video = sandbox.videos[answer["data"]["videoNo"]]
    assert video["unique_id"] == "test1020"
    assert video["callback"] == recorder.url
    assert video["datetime_taken"] == "2025-10-20 11:00:00"
    assert video["camera_model"] == "Canon EOS 5D"
    assert (video["latitude"], video["longitude"]) == ("-39.9042", "116.4074")
    assert video["retain_original_video"] is True
    assert video["video_transcription_prompt"] == "Focus on the speaker."


@pytest.mark.parametrize(
    "text, meaning", [("true", True), ("FALSE", False), ("1", True), ("0", False)]
)
def test_retain_original_video_takes_true_false_one_or_zero(sandbox, text, meaning):
    answer = upload(sandbox, retain_original_video=text)
    assert sandbox.videos[answer["data"]["videoNo"]]["retain_original_video"] is meaning


def test_a_wrong_method_is_http_405(sandbox):
    response = requests.get(sandbox.url + UPLOAD, headers=AUTH, timeout=5)
    assert response.status_code == 405


def test_an_unknown_path_is_a_404_envelope(sandbox):
    response = requests.post(sandbox.url + "/serve/api/v1/upload_file_x", headers=AUTH, timeout=5)
    assert response.status_code == 404
    assert response.json()["failed"] is True


# ---- the upload rate limit -------------------------------------------------------------


def test_the_third_upload_in_the_window_is_refused_and_allowed_after_it(make_sandbox):
    sandbox = make_sandbox(uploads_per_interval=2, rate_interval=0.3)
    assert [upload(sandbox)["code"] for _ in range(3)] == ["0000", "0000", "0429"]
    assert len(sandbox.videos) == 2
    first = sandbox.accepted[0].received_at
    time.sleep(max(0.0, first + 0.31 - time.monotonic()))
    assert upload(sandbox)["code"] == "0000"
    assert sandbox.count("0429") == 1
    assert sandbox.max_accepted_in_window(0.3) == 2


def test_refused_uploads_take_no_slot_of_the_rate_limit(make_sandbox):
    sandbox = make_sandbox(uploads_per_interval=1, rate_interval=60)
    assert upload(sandbox, url="not a url")["code"] == "0001"
    assert upload(sandbox, headers={})["code"] == "0401"
    assert upload(sandbox)["code"] == "0000"
    assert upload(sandbox)["code"] == "0429"


def test_the_rate_limit_can_be_changed_while_running(make_sandbox):
    sandbox = make_sandbox(uploads_per_interval=1, rate_interval=60)
    assert [upload(sandbox)["code"] for _ in range(2)] == ["0000", "0429"]
    sandbox.uploads_per_interval = 3
    assert [upload(sandbox)["code"] for _ in range(3)] == ["0000", "0000", "0429"]


# ---- processing and callbacks ------------------------------------------------------------


def test_it_posts_unparse_then_parse_to_the_callback(make_sandbox, recorder):
    sandbox = make_sandbox(callback_delay=0.1, parse_delay=0.1)
    video_no = upload(sandbox, callback=recorder.url)["data"]["videoNo"]
    assert sandbox.wait_until(lambda: len(recorder.posts) == 2, timeout=3)
    # The sandbox records a callback once its answer is back, just after the recorder saw it.
    assert sandbox.wait_until(lambda: len(sandbox.callbacks_sent) == 2, timeout=3)
    assert recorder.posts == [
        ("/memories/callback", "application/json", {"videoNo": video_no, "status": "UNPARSE"}),
        ("/memories/callback", "application/json", {"videoNo": video_no, "status": "PARSE"}),
    ]
    assert sandbox.callbacks_sent == [(video_no, "UNPARSE", 200), (video_no, "PARSE", 200)]
    assert sandbox.videos[video_no]["status"] == "PARSE"


def test_the_status_stays_unparse_until_the_parse_delay_is_over(make_sandbox):
    sandbox = make_sandbox(callback_delay=0.05, parse_delay=0.3)
    video_no = upload(sandbox)["data"]["videoNo"]
    time.sleep(0.1)
    assert metadata(sandbox, video_no)["data"]["status"] == "UNPARSE"
    assert sandbox.wait_until(lambda: sandbox.videos[video_no]["status"] == "PARSE", timeout=3)


def test_with_callbacks_off_the_status_still_reaches_parse(make_sandbox, recorder):
    sandbox = make_sandbox(callbacks_enabled=False)
    video_no = upload(sandbox, callback=recorder.url)["data"]["videoNo"]
    assert sandbox.wait_until(lambda: sandbox.videos[video_no]["status"] == "PARSE", timeout=3)
    assert list_videos(sandbox)["data"]["videos"][0]["status"] == "PARSE"
    assert metadata(sandbox, video_no)["data"]["status"] == "PARSE"
    time.sleep(0.1)
    assert recorder.posts == []
    assert sandbox.callbacks_sent == []


def test_an_unreachable_callback_is_recorded_and_processing_goes_on(sandbox):
    video_no = upload(sandbox, callback=closed_port_url())["data"]["videoNo"]
    assert sandbox.wait_until(lambda: len(sandbox.callbacks_sent) == 2, timeout=3)
    assert all(isinstance(outcome, str) for _, _, outcome in sandbox.callbacks_sent)
    assert sandbox.videos[video_no]["status"] == "PARSE"


def test_a_forced_status_is_not_overwritten_by_processing(make_sandbox):
    sandbox = make_sandbox(callback_delay=0.05, parse_delay=0.05)
    video_no = upload(sandbox)["data"]["videoNo"]
    sandbox.set_video_status(video_no, "PARSE_ERROR")
    time.sleep(0.2)
    assert sandbox.videos[video_no]["status"] == "PARSE_ERROR"


def test_stop_cancels_pending_callbacks(make_sandbox, recorder):
    sandbox = make_sandbox(callback_delay=0.1, parse_delay=0.1)
    upload(sandbox, callback=recorder.url)
    sandbox.stop()
    time.sleep(0.3)
    assert recorder.posts == []


# ---- list_videos, get_metadata, list_unique_ids --------------------------------------------


def test_list_videos_answers_only_the_asked_scope_in_snake_case(sandbox):
    ours = upload(sandbox, unique_id="team-a", tags=["x"])["data"]["videoNo"]
    upload(sandbox, unique_id="team-b")
    data = list_videos(sandbox, unique_id="team-a")["data"]
    assert (data["current_page"], data["page_size"], data["total_count"]) == (1, 200, 1)
    [video] = data["videos"]
    assert set(video) == {
        "video_no",
        "video_name",
        "duration",
        "size",
        "status",
        "create_time",
        "datetime_taken",
        "camera_model",
        "latitude",
        "longitude",
        "tags",
    }
    assert (video["video_no"], video["tags"]) == (ours, ["x"])
    assert list_videos(sandbox, unique_id="nobody")["data"]["total_count"] == 0


def test_list_videos_filters_by_video_nos_and_pages(sandbox):
    numbers = [upload(sandbox)["data"]["videoNo"] for _ in range(3)]
    data = list_videos(sandbox, video_nos=numbers[:2])["data"]
    assert sorted(v["video_no"] for v in data["videos"]) == sorted(numbers[:2])
    page_two = list_videos(sandbox, page=2, size=2)["data"]
    assert (page_two["total_count"], len(page_two["videos"])) == (3, 1)
    assert list_videos(sandbox, size=500)["data"]["page_size"] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"page": 0},
        {"size": 0},
        {"page": "1"},
        {"unique_id": None},
        {"unique_id": ""},
        {"status": "DONE"},
        {"video_nos": "VI1"},
    ],
)
def test_list_videos_refuses_bad_parameters(sandbox, body):
    assert list_videos(sandbox, **body)["code"] == "0001"


def test_list_videos_refuses_a_form_body(sandbox):
    form = {"page": 1, "size": 10, "unique_id": "default"}
    response = requests.post(sandbox.url + LIST, data=form, headers=AUTH, timeout=5)
    assert response.json()["code"] == "0001"


def test_list_videos_is_rate_limited_per_second(make_sandbox):
    sandbox = make_sandbox(list_rate_per_second=5)
    codes = [list_videos(sandbox)["code"] for _ in range(6)]
    assert codes == ["0000"] * 5 + ["0429"]
    assert sandbox.list_requests == 6
    assert sandbox.max_list_in_window(1.0) == 6  # the client went over: it shows


def test_get_metadata_refuses_an_unknown_video_or_another_scope(sandbox):
    video_no = upload(sandbox, unique_id="team-a")["data"]["videoNo"]
    assert metadata(sandbox, video_no, "team-a")["data"]["video_no"] == video_no
    assert metadata(sandbox, video_no, "team-b")["code"] == "0001"
    assert metadata(sandbox, "VI000000000000000000", "team-a")["code"] == "0001"


def test_list_unique_ids_answers_the_scopes_in_use(sandbox):
    upload(sandbox, unique_id="team-a")
    upload(sandbox)
    response = requests.get(sandbox.url + "/serve/api/v1/list_unique_ids", headers=AUTH, timeout=5)
    assert response.json()["data"] == ["default", "team-a"]


# ---- faults ----------------------------------------------------------------------------------


def test_the_rate_limit_fault_answers_0429_for_the_next_uploads_only(sandbox):
    sandbox.set_fault("rate_limit", times=2)
    assert [upload(sandbox)["code"] for _ in range(3)] == ["0429", "0429", "0000"]
    assert len(sandbox.videos) == 1


def test_a_fault_without_times_lasts_until_cleared(sandbox):
    sandbox.set_fault("rate_limit")
    assert [upload(sandbox)["code"] for _ in range(3)] == ["0429"] * 3
    sandbox.clear_faults()
    assert upload(sandbox)["code"] == "0000"


@pytest.mark.parametrize("status, recorded", [(500, True), (502, False), (503, False), (504, True)])
def test_a_proxy_error_fault_answers_that_status_without_an_envelope(sandbox, status, recorded):
    sandbox.set_fault(f"http_{status}", times=1)
    response = requests.post(sandbox.url + UPLOAD, data={"url": VIDEO}, headers=AUTH, timeout=5)
    assert response.status_code == status
    with pytest.raises(ValueError):
        response.json()
    assert sandbox.videos == {}
    assert sandbox.count(f"http_{status}") == (1 if recorded else 0)
    assert sandbox.count(status) == (1 if recorded else 0)
    assert sandbox.accepted == []


def test_the_slow_fault_stores_the_upload_then_answers_late(sandbox):
    sandbox.set_fault("slow", times=1, seconds=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        upload(sandbox, timeout=0.1)
    assert len(sandbox.accepted) == 1
    started = time.monotonic()
    assert upload(sandbox)["code"] == "0000"
    assert time.monotonic() - started < 0.2


def test_the_malformed_fault_stores_the_upload_and_answers_garbage(sandbox):
    sandbox.set_fault("malformed", times=1)
    response = requests.post(sandbox.url + UPLOAD, data={"url": VIDEO}, headers=AUTH, timeout=5)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    assert len(sandbox.videos) == 1


def test_the_drop_fault_stores_the_upload_and_hangs_up(sandbox):
    sandbox.set_fault("drop", times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        upload(sandbox)
    assert len(sandbox.videos) == 1
    assert upload(sandbox)["code"] == "0000"


@pytest.mark.parametrize("code", ["0402", "0001", "0409", "0401", "0403", "9009"])
def test_the_code_fault_answers_that_code(sandbox, code):
    sandbox.set_fault("code", times=1, code=code, msg="from the test")
    answer = upload(sandbox)
    assert (answer["code"], answer["msg"], answer["failed"]) == (code, "from the test", True)
    assert sandbox.videos == {}
    assert sandbox.count(code) == 1


def test_the_parse_error_fault_fails_the_next_accepted_video_only(sandbox):
    sandbox.set_fault("parse_error", times=1)
    assert upload(sandbox, url="bad")["code"] == "0001"
    failed = upload(sandbox)["data"]["videoNo"]
    parsed = upload(sandbox)["data"]["videoNo"]
    assert sandbox.wait_until(lambda: sandbox.videos[parsed]["status"] == "PARSE", timeout=3)
    assert sandbox.wait_until(lambda: sandbox.videos[failed]["status"] == "PARSE_ERROR", timeout=3)


def test_an_unknown_fault_is_refused(sandbox):
    with pytest.raises(ValueError):
        sandbox.set_fault("meteor")


# ---- int code style ------------------------------------------------------------------------


def test_the_int_code_style_answers_http_style_codes_with_that_status(make_sandbox):
    sandbox = make_sandbox(code_style="int", uploads_per_interval=1)
    response = requests.post(sandbox.url + UPLOAD, data={"url": VIDEO}, headers=AUTH, timeout=5)
    assert (response.status_code, response.json()["code"]) == (200, 200)
    cases = [
        ({"data": {"url": VIDEO}, "headers": {}}, 401),
        ({"json": {"url": VIDEO}, "headers": AUTH}, 415),
        ({"data": {"url": "nope"}, "headers": AUTH}, 400),
        ({"data": {"url": VIDEO}, "headers": AUTH}, 429),
    ]
    for request, code in cases:
        response = requests.post(sandbox.url + UPLOAD, timeout=5, **request)
        assert (response.status_code, response.json()["code"]) == (code, code)
    assert sandbox.count(429) == 1
    assert sandbox.count("0429") == 1


# ---- HTTP control endpoints ----------------------------------------------------------------


def test_faults_can_be_set_and_cleared_over_http(sandbox):
    control = sandbox.url + "/_sandbox/faults"
    fault = {"name": "code", "times": 1, "code": "0402"}
    assert requests.post(control, json=fault, timeout=5).status_code == 200
    assert upload(sandbox)["code"] == "0402"
    assert upload(sandbox)["code"] == "0000"
    requests.post(control, json={"name": "rate_limit"}, timeout=5)
    assert upload(sandbox)["code"] == "0429"
    assert requests.delete(control, timeout=5).status_code == 200
    assert upload(sandbox)["code"] == "0000"
    assert requests.post(control, json={"name": "meteor"}, timeout=5).status_code == 400


def test_stats_count_uploads_codes_and_list_requests(sandbox):
    upload(sandbox)
    upload(sandbox, url="bad")
    list_videos(sandbox)
    stats = requests.get(sandbox.url + "/_sandbox/stats", timeout=5).json()
    assert stats["uploads"] == 2
    assert stats["accepted"] == 1
    assert stats["codes"] == {"0000": 1, "0001": 1}
    assert stats["list_requests"] == 1


# ---- several accounts at one address ---------------------------------------------------------

OTHER = {"Authorization": "sk-mavi-other"}


def test_each_account_has_its_own_limit_and_videos(make_sandbox):
    sandbox = make_sandbox(uploads_per_interval=1)
    other = sandbox.add_account("sk-mavi-other", "other", uploads_per_interval=2)
    assert upload(sandbox)["code"] == "0000"
    assert upload(sandbox)["code"] == "0429"  # this account's one a minute is used
    assert [upload(sandbox, headers=OTHER)["code"] for _ in range(3)] == ["0000", "0000", "0429"]
    assert len(sandbox.videos) == 1 and len(other.videos) == 2
    assert not set(sandbox.videos) & set(other.videos)
    assert upload(sandbox, headers={"Authorization": "sk-mavi-nobody"})["code"] == "0401"
    with pytest.raises(ValueError, match="a key of its own"):
        sandbox.add_account(KEY)


def test_each_account_has_its_switches_over_http(sandbox):
    sandbox.add_account("sk-mavi-other", "other")
    control = sandbox.url + "/_sandbox/accounts/other"
    assert requests.post(control + "/switches", json={"credits_out": True}, timeout=5).ok
    assert upload(sandbox, headers=OTHER)["code"] == "0402"
    assert upload(sandbox)["code"] == "0000"  # the other account's credits are its own
    requests.post(control + "/switches", json={"credits_out": False, "key_revoked": True},
                  timeout=5)  # fmt: skip
    assert upload(sandbox, headers=OTHER)["code"] == "0401"
    list_answer = requests.post(
        sandbox.url + LIST, json={"page": 1, "size": 1, "unique_id": "x"}, headers=OTHER,
        timeout=5,
    ).json()  # fmt: skip
    assert list_answer["code"] == "0401"
    stats = requests.get(control + "/stats", timeout=5).json()
    assert stats["codes"] == {"0402": 1, "0401": 1}
    missing = requests.get(sandbox.url + "/_sandbox/accounts/nobody/stats", timeout=5)
    assert missing.status_code == 404


# ---- the sandbox stands alone -----------------------------------------------------------------


def test_the_sandbox_imports_only_the_standard_library():
    # Its own modules, by relative import inside the package; nothing else of the portal.
    sources = sorted((REPO / "uploads" / "memories" / "sandbox").glob("*.py"))
    assert len(sources) > 1
    modules = set()
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 1:
                assert (source.parent / f"{node.module}.py").exists(), (source.name, node.module)
            elif isinstance(node, ast.ImportFrom):
                modules.add("." * node.level + (node.module or ""))
    assert {m.split(".")[0] for m in modules} <= set(sys.stdlib_module_names)


def test_the_sandbox_works_as_a_context_manager():
    with Sandbox(port=0, api_key=KEY) as sandbox:
        assert upload(sandbox)["code"] == "0000"
    with pytest.raises(requests.exceptions.ConnectionError):
        upload(sandbox, timeout=1)


def test_a_stopped_sandbox_answers_nothing_on_a_kept_alive_connection(make_sandbox):
    sandbox = make_sandbox()
    with requests.Session() as session:
        session.post(sandbox.url + UPLOAD, data={"url": VIDEO}, headers=AUTH, timeout=5)
        sandbox.stop()
        with pytest.raises(requests.exceptions.ConnectionError):
            session.post(sandbox.url + UPLOAD, data={"url": VIDEO}, headers=AUTH, timeout=5)


def test_a_slow_list_switch_delays_only_that_accounts_list_videos(sandbox):
    sandbox.add_account("sk-mavi-other", "other")
    control = sandbox.url + "/_sandbox/accounts/other"
    assert requests.post(control + "/switches", json={"slow_list": 1.0}, timeout=5).ok
    query = {"page": 1, "size": 1, "unique_id": "x"}

    def listed(headers):
        started = time.monotonic()
        answer = requests.post(sandbox.url + LIST, json=query, headers=headers, timeout=5)
        return answer.json()["code"], time.monotonic() - started

    code, took = listed(OTHER)
    assert code == "0000" and took >= 1.0
    code, took = listed({"Authorization": sandbox.api_key})
    assert code == "0000" and took < 1.0  # the other account answers at once
    refused = requests.post(control + "/switches", json={"slow_list": "soon"}, timeout=5)
    assert refused.status_code == 400
