"""Each person's own settings: time zone and notifications, on the Settings page."""

import zoneinfo

import pytest
from django.urls import reverse

from uploads.models import PersonSettings

pytestmark = pytest.mark.django_db


def test_a_person_without_settings_has_the_defaults(alice, settings):
    settings.TIME_ZONE = "Europe/Paris"
    chosen = PersonSettings.of(alice)
    assert chosen.pk is None
    assert chosen.zone == zoneinfo.ZoneInfo("Europe/Paris")
    assert chosen.email_problems is True
    assert chosen.email_done == PersonSettings.Done.DIGEST


def test_the_page_shows_the_defaults_and_saves_a_choice(client, alice):
    client.force_login(alice)
    page = client.get(reverse("person_settings"))
    assert page.status_code == 200
    assert "The portal&#x27;s time zone (UTC)" in page.content.decode()
    response = client.post(
        reverse("person_settings"),
        {"time_zone": "America/Chicago", "email_done": "never"},
        follow=True,
    )
    assert "Your settings are saved." in response.content.decode()
    chosen = PersonSettings.objects.get(user=alice)
    assert chosen.zone == zoneinfo.ZoneInfo("America/Chicago")
    # An unticked checkbox is a choice too.
    assert chosen.email_problems is False
    assert chosen.email_done == PersonSettings.Done.NEVER


def test_an_unknown_zone_is_refused_beside_its_field_and_nothing_is_saved(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("person_settings"),
        {"time_zone": "Mars/Olympus_Mons", "email_problems": "on", "email_done": "at_once"},
    )
    assert response.status_code == 200
    assert 'id="id_time_zone_error"' in response.content.decode()
    assert response.context["form"].data["email_done"] == "at_once"
    assert not PersonSettings.objects.filter(user=alice).exists()


def test_each_person_changes_only_their_own(client, alice, bob):
    PersonSettings.objects.create(user=bob, time_zone="Asia/Tokyo")
    client.force_login(alice)
    client.post(reverse("person_settings"), {"time_zone": "Europe/Berlin", "email_done": "digest"})
    assert PersonSettings.of(bob).time_zone == "Asia/Tokyo"
    assert PersonSettings.of(alice).time_zone == "Europe/Berlin"
