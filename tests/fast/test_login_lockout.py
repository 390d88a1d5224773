"""Brute-force protection (django-axes) on the site login and the admin login."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests-123"
LOGINS = ["login", "admin:login"]


@pytest.fixture
def root(superuser):
    """The superuser with a password: it can log in to both the site and the admin."""
    superuser.set_password(PASSWORD)
    superuser.save()
    return superuser


def log_in(client, url_name, password, **extra):
    return client.post(reverse(url_name), {"username": "root", "password": password}, **extra)


def logged_in(client):
    return "_auth_user_id" in client.session


def fail(client, url_name, times, **extra):
    """Fail `times` logins; the form answers each, and the fifth failure locks out."""
    for n in range(1, times + 1):
        response = log_in(client, url_name, f"wrong-{n}", **extra)
        assert response.status_code == (429 if n >= 5 else 200)
        assert not logged_in(client)


@pytest.mark.parametrize("url_name", LOGINS)
def test_a_right_password_works_after_fewer_failures_than_the_limit(client, root, url_name):
    fail(client, url_name, 4)
    assert log_in(client, url_name, PASSWORD).status_code == 302
    assert logged_in(client)


@pytest.mark.parametrize("url_name", LOGINS)
def test_five_failures_lock_the_address_out_even_with_the_right_password(client, root, url_name):
    fail(client, url_name, 5)
    response = log_in(client, url_name, PASSWORD)
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert not logged_in(client)


@pytest.mark.parametrize("url_name", LOGINS)
def test_a_spoofed_forwarded_header_does_not_get_around_the_lockout(client, root, url_name):
    for n in range(5):
        log_in(client, url_name, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
    response = log_in(client, url_name, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.200")
    assert response.status_code == 429
    assert not logged_in(client)


@pytest.mark.parametrize("url_name", LOGINS)
def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_saw(
    client, root, settings, url_name
):
    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    for n in range(5):
        spoofed = f"203.0.113.{n}, 198.51.100.7"  # the client wrote the first part
        log_in(client, url_name, "wrong", HTTP_X_FORWARDED_FOR=spoofed, **proxy)
    again = {"HTTP_X_FORWARDED_FOR": "192.0.2.1, 198.51.100.7", **proxy}
    assert log_in(client, url_name, PASSWORD, **again).status_code == 429
    # Someone else behind the same proxy may still log in.
    other = {"HTTP_X_FORWARDED_FOR": "198.51.100.8", **proxy}
    assert log_in(client, url_name, PASSWORD, **other).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, root, settings):
    cool_off = settings.AXES_COOLOFF_TIME
    assert cool_off == timedelta(minutes=15)
    fail(client, "login", 5)
    assert log_in(client, "login", PASSWORD).status_code == 429
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert log_in(client, "login", PASSWORD).status_code == 302
    assert logged_in(client)


def test_force_login_is_untouched_by_the_lockout(client, root, alice):
    fail(client, "login", 5)
    client.force_login(alice)
    assert client.get(reverse("submission_list")).status_code == 200
