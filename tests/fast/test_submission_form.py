"""Every validation rule of the submission form, with its message beside its field."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.conftest import REPO
from uploads.forms import SubmissionForm
from uploads.urlcheck import addresses


@pytest.fixture
def make_form(alice, team_a, clip_url):
    def make(**fields):
        data = {"team": team_a.pk, "url": clip_url, **fields}
        return SubmissionForm(data, user=alice)

    return make


def error(form, field):
    assert not form.is_valid()
    return " ".join(form.errors[field])


def test_a_minimal_form_is_valid(make_form):
    form = make_form()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["tags"] == []
    assert form.cleaned_data["latitude"] is None


def test_the_url_is_required(make_form):
    assert error(make_form(url=""), "url") == "Enter the video's URL."


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://videos.example.com/a.mp4", "Only http:// and https://"),
        ("file:///etc/passwd", "Only http:// and https://"),
        ("https://user:secret@videos.example.com/a.mp4", "Remove the user name and password"),
        ("https://localhost/a.mp4", "inside our network (localhost)"),
        ("https://intranet/a.mp4", "inside our network (intranet)"),
    ],
)
def test_urls_that_memories_ai_could_not_use_are_refused(make_form, url, fragment, settings):
    settings.URL_PROBE_ALLOW_PRIVATE = False
    assert fragment.lower() in error(make_form(url=url), "url").lower()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/a.mp4",
        "http://127.1/a.mp4",
        "http://0x7f.1/a.mp4",
        "http://2130706433/a.mp4",
        "http://017700000001/a.mp4",
        "http://[::ffff:127.0.0.1]/a.mp4",
        "http://[::1]/a.mp4",
        "http://10.0.0.8/a.mp4",
        "http://192.168.1.10/a.mp4",
        "http://172.16.0.1/a.mp4",
        "http://169.254.169.254/latest/meta-data/",
        "http://0.0.0.0/a.mp4",
        "http://[fe80::1]/a.mp4",
        "http://[fd00::1]/a.mp4",
    ],
)
def test_literal_internal_addresses_in_any_written_form_are_refused(make_form, url, settings):
    settings.URL_PROBE_ALLOW_PRIVATE = False
    assert "memories.ai cannot reach it" in error(make_form(url=url), "url")


def test_internal_addresses_pass_only_when_the_setting_allows(make_form, settings, clip_url):
    settings.URL_PROBE_ALLOW_PRIVATE = True
    assert make_form(url=clip_url).is_valid()
    settings.URL_PROBE_ALLOW_PRIVATE = False
    assert "memories.ai cannot reach it" in error(make_form(url=clip_url), "url")


def test_the_private_address_switch_is_off_by_default():
    env = {k: v for k, v in os.environ.items() if k != "URL_PROBE_ALLOW_PRIVATE"}
    env.update(SECRET_KEY="x", DJANGO_SETTINGS_MODULE="memories_portal.settings")
    code = "from django.conf import settings; print(settings.URL_PROBE_ALLOW_PRIVATE)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env=env, capture_output=True, text=True, check=True, cwd=REPO,
    )  # fmt: skip
    assert out.stdout.strip() == "False"


def test_the_url_is_at_most_2048_characters(make_form):
    url = "https://videos.example.com/" + "a" * 2030
    assert "at most 2048" in error(make_form(url=url), "url")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("latitude", "91", "Latitude must be between −90 and 90."),
        ("latitude", "-90.0000001", "Latitude must be between −90 and 90."),
        ("longitude", "180.5", "Longitude must be between −180 and 180."),
        ("latitude", "north", "Latitude must be a number in decimal degrees."),
        ("latitude", "NaN", "Latitude must be a number in decimal degrees."),
        ("latitude", "1.12345678", "Latitude can have at most 7 decimals."),
    ],
)
def test_coordinates_are_checked(make_form, field, value, message):
    other = "longitude" if field == "latitude" else "latitude"
    assert message in error(make_form(**{field: value, other: "10"}), field)


def test_coordinates_come_in_pairs(make_form):
    msg = "Give both latitude and longitude, or neither."
    assert error(make_form(latitude="39.9"), "longitude") == msg
    assert error(make_form(longitude="116.4"), "latitude") == msg


def test_coordinates_are_normalised_to_decimals(make_form):
    form = make_form(latitude=" 39.9042 ", longitude="-116.4074000")
    assert form.is_valid(), form.errors
    assert form.cleaned_data["latitude"] == Decimal("39.9042")
    assert form.cleaned_data["longitude"] == Decimal("-116.4074000")


def test_the_date_taken_cannot_be_in_the_future(make_form):
    future = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")
    assert error(make_form(datetime_taken=future), "datetime_taken") == (
        "The date taken cannot be in the future."
    )


def test_the_date_taken_accepts_the_browsers_format(make_form):
    form = make_form(datetime_taken="2025-10-20T11:00:05")
    assert form.is_valid(), form.errors


def test_a_malformed_date_is_explained(make_form):
    assert "Enter a date and time" in error(make_form(datetime_taken="yesterday"), "datetime_taken")


def test_tags_are_trimmed_and_deduplicated(make_form):
    form = make_form(tags=" a, b ,a,, c ")
    assert form.is_valid()
    assert form.cleaned_data["tags"] == ["a", "b", "c"]


def test_at_most_20_tags(make_form):
    tags = ",".join(f"t{i}" for i in range(21))
    assert "21 tags given; at most 20 are allowed." in error(make_form(tags=tags), "tags")


def test_a_tag_is_at_most_64_characters(make_form):
    assert "at most 64 are allowed" in error(make_form(tags="ok," + "x" * 65), "tags")


def test_the_prompt_is_at_most_2000_characters(make_form):
    msg = error(make_form(video_transcription_prompt="p" * 2001), "video_transcription_prompt")
    assert "At most 2000 characters" in msg


def test_the_camera_model_is_at_most_128_characters(make_form):
    assert "At most 128 characters." in error(make_form(camera_model="c" * 129), "camera_model")


def test_only_the_standard_web_ports_are_accepted_by_default(make_form, settings):
    settings.URL_PROBE_ALLOWED_PORTS = [80, 443]
    url = "https://videos.example.com:8443/a.mp4"
    assert "only the standard web ports (80 and 443)" in error(make_form(url=url), "url")
    assert addresses.check_url("https://videos.example.com:443/a.mp4", allowed_ports=[80, 443])
