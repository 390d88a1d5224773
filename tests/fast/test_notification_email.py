"""Emails, received by a real SMTP server (aiosmtpd) on loopback: each person's choices,
the daily digest, batch summaries, superusers' alerts and the unsubscribe link."""

import socket
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse

from tests.conftest import deliver_outbox
from tests.factories import SubmissionFactory
from uploads.models import Batch, Event, Notice, PersonSettings, Status, UploadGate
from uploads.notifications import alerts, digest
from uploads.notifications.email import unsubscribe_token

pytestmark = pytest.mark.django_db


def finish(submission, to, message="It ended."):
    submission.transition(to, kind=Event.Kind.CALLBACK, message=message)


def choose(user, **choices):
    person = PersonSettings.of(user)
    for name, value in choices.items():
        setattr(person, name, value)
    person.save()


@pytest.fixture
def sending(team_a, alice):
    return SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)


def test_a_failure_is_emailed_at_once_with_text_links_and_one_click_unsubscribe(
    mailbox, alice, sending
):
    finish(sending, Status.FAILED, "memories.ai refused the link.")
    assert deliver_outbox() == 1
    [message] = mailbox.to("alice@example.com")
    assert f"#{sending.pk} failed" in message["Subject"]
    text = mailbox.text(message)
    assert "memories.ai refused the link." in text
    assert f"https://portal.example.com/submissions/{sending.pk}/" in text
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://portal.example.com/unsubscribe/")
    assert unsubscribe in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_times_in_emails_are_in_the_recipients_zone(mailbox, alice, sending):
    choose(alice, time_zone="Asia/Tokyo")
    finish(sending, Status.FAILED)
    deliver_outbox()
    assert "JST" in mailbox.text(mailbox.to("alice@example.com")[0])


def test_no_problem_email_for_a_person_who_turned_them_off(mailbox, alice, sending):
    choose(alice, email_problems=False)
    finish(sending, Status.NEEDS_REVIEW)
    assert deliver_outbox() == 0
    assert mailbox.to("alice@example.com") == []


def test_done_at_once_is_one_email_and_never_is_none(mailbox, team_a, alice, bob):
    choose(alice, email_done=PersonSettings.Done.AT_ONCE)
    choose(bob, email_done=PersonSettings.Done.NEVER)
    for person in (alice, bob):
        finish(SubmissionFactory(team=team_a, submitter=person, status=Status.PROCESSING), "parsed")
    deliver_outbox()
    assert [m["Subject"].split("] ")[1].split(" ", 2)[2] for m in mailbox.messages] == ["is done"]
    assert len(mailbox.to("alice@example.com")) == 1


def test_the_row_goes_with_the_status_change_it_belongs_to(alice, sending):
    with pytest.raises(RuntimeError), transaction.atomic():
        finish(sending, Status.FAILED)
        assert Notice.objects.count() == 1
        raise RuntimeError("the change is rolled back")
    assert Notice.objects.count() == 0


# --- the digest --------------------------------------------------------------------


def at(day, hour, minute=0, zone=UTC):
    return datetime(2026, 12, day, hour, minute, tzinfo=zone)


def test_the_digest_goes_at_eight_in_the_persons_zone_once_a_day(
    mailbox, team_a, alice, time_machine
):
    # The clock is the digest's own calendar: what is finished is stamped with it.
    time_machine.move_to(at(5, 12, 0), tick=False)
    choose(alice, time_zone="America/New_York")  # UTC-5 in December
    for _ in range(2):
        finish(SubmissionFactory(team=team_a, submitter=alice, status=Status.PROCESSING), "parsed")
    assert deliver_outbox() == 0  # done waits for the digest (the default)

    assert digest.send_due_digests(now=at(5, 12, 59)) == 0  # 07:59 in New York
    assert digest.send_due_digests(now=at(5, 13, 1)) == 1  # 08:01
    deliver_outbox()
    [message] = mailbox.to("alice@example.com")
    assert "daily digest: 2 done" in message["Subject"]

    # Done later that day: not a second digest the same day, even after a restart...
    time_machine.move_to(at(5, 19, 0), tick=False)
    finish(SubmissionFactory(team=team_a, submitter=alice, status=Status.PROCESSING), "parsed")
    assert digest.send_due_digests(now=at(5, 20, 0)) == 0
    assert digest.send_due_digests(now=at(6, 4, 0)) == 0  # 23:00 the same day in New York
    # ...but the next day's.
    assert digest.send_due_digests(now=at(6, 13, 30)) == 1
    deliver_outbox()
    assert len(mailbox.to("alice@example.com")) == 2
    assert Notice.objects.filter(digest_day__isnull=False).count() == 2


def test_no_digest_when_nothing_was_done(mailbox, alice):
    assert digest.send_due_digests(now=at(5, 12)) == 0


# --- batches -----------------------------------------------------------------------


@pytest.fixture
def batch(alice, team_a):
    made = Batch.objects.create(created_by=alice, source="videos.csv", state=Batch.State.QUEUED)
    rows = [
        SubmissionFactory(team=team_a, submitter=alice, batch=made, status=Status.PROCESSING)
        for _ in range(3)
    ]
    return made, rows


def test_a_batch_sends_no_row_emails_and_one_summary_when_every_row_is_final(mailbox, batch):
    made, rows = batch
    finish(rows[0], Status.PARSE_ERROR)
    finish(rows[1], Status.PARSED)
    deliver_outbox()
    assert mailbox.messages == []  # one still processing: nothing yet, and no row emails
    finish(rows[2], Status.PARSED)
    alerts.finish_batches()  # the periodic safety net does not write a second one
    deliver_outbox()
    [message] = mailbox.messages
    assert f"Batch #{made.pk} finished" in message["Subject"]
    text = mailbox.text(message)
    assert "Done: 2" in text and "Processing failed: 1" in text


def test_rows_in_needs_review_for_a_day_are_reported_instead_of_holding_the_summary(mailbox, batch):
    made, rows = batch
    finish(rows[0], Status.NEEDS_REVIEW)
    finish(rows[1], Status.PARSED)
    finish(rows[2], Status.PARSED)
    assert alerts.finish_batches() == 0  # needs review holds it for a day
    rows[0].__class__.objects.filter(pk=rows[0].pk).update(
        updated_at=rows[0].updated_at - timedelta(days=1, minutes=1)
    )
    assert alerts.finish_batches() == 1
    assert alerts.finish_batches() == 0
    deliver_outbox()
    [message] = mailbox.messages
    assert "1 have needed review for more than a day" in mailbox.text(message)


# --- superusers' alerts ------------------------------------------------------------------


def test_superusers_are_emailed_once_per_pause_with_the_reason(mailbox, superuser, alice):
    UploadGate.pause("memories.ai refused the account (0401): bad key")
    UploadGate.pause("memories.ai refused the account (0401): bad key")  # the same episode
    deliver_outbox()
    [message] = mailbox.messages
    assert message["To"] == "root@example.com"
    assert "bad key" in mailbox.text(message)
    UploadGate.resume()
    UploadGate.pause("No credits left.")
    deliver_outbox()
    assert len(mailbox.to("root@example.com")) == 2


def test_superusers_are_emailed_once_when_needs_review_builds_up(
    mailbox, settings, superuser, team_a, alice
):
    settings.NEEDS_REVIEW_ALERT_COUNT = 2
    choose(alice, email_problems=False)
    pile = [
        SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
        for _ in range(3)
    ]
    assert alerts.check_review_pile() == 1
    assert alerts.check_review_pile() == 0  # the same episode
    deliver_outbox()
    [message] = mailbox.to("root@example.com")
    assert "3 submissions need review" in mailbox.text(message)
    for submission in pile:
        finish(submission, Status.PARSED)
    alerts.check_review_pile()  # cleared: the episode ends
    old = SubmissionFactory(team=team_a, submitter=alice, status=Status.NEEDS_REVIEW)
    old.__class__.objects.filter(pk=old.pk).update(updated_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert alerts.check_review_pile() == 1  # the oldest is over an hour old: a new one


# --- unsubscribe -------------------------------------------------------------------------


def test_the_unsubscribe_link_asks_on_get_and_stops_every_email_on_a_one_click_post(
    mailbox, alice, sending
):
    anonymous = Client(enforce_csrf_checks=True)  # a mail client: no session, no CSRF token
    url = reverse("unsubscribe", args=[unsubscribe_token(alice)])
    page = anonymous.get(url)
    assert page.status_code == 200 and "Stop all emails" in page.content.decode()
    assert PersonSettings.of(alice).email_problems  # a GET changes nothing
    response = anonymous.post(url, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    person = PersonSettings.objects.get(user=alice)
    assert not person.email_problems and not person.email_alerts
    assert person.email_done == PersonSettings.Done.NEVER
    finish(sending, Status.FAILED)
    deliver_outbox()
    assert mailbox.messages == []


def test_a_forged_unsubscribe_link_is_refused_with_a_reason(client, alice):
    forged = unsubscribe_token(alice)[:-3] + "abc"
    response = client.post(reverse("unsubscribe", args=[forged]))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    assert PersonSettings.of(alice).email_problems


def test_an_email_written_before_unsubscribing_is_not_sent_after(mailbox, alice, sending):
    finish(sending, Status.FAILED)
    Client().post(reverse("unsubscribe", args=[unsubscribe_token(alice)]))
    deliver_outbox()
    assert mailbox.messages == []
    assert Notice.objects.get().state == Notice.State.DROPPED


def test_an_email_the_mail_server_did_not_take_is_tried_again_later(
    mailbox, settings, alice, sending
):
    working = settings.MAILERS
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    options = {"host": "127.0.0.1", "port": port, "timeout": 5}
    settings.MAILERS = {"default": {**working["default"], "OPTIONS": options}}
    finish(sending, Status.FAILED)
    deliver_outbox()
    notice = Notice.objects.get()
    assert notice.state == Notice.State.PENDING and "mail server" in notice.last_error
    settings.MAILERS = working
    Notice.objects.update(due_at=notice.created_at)
    deliver_outbox()
    assert len(mailbox.to("alice@example.com")) == 1


def test_list_unsubscribe_goes_out_as_a_plain_url_a_mail_client_can_read(
    mailbox, settings, alice, sending
):
    # A long address: the header line is far past 78 characters.
    settings.PUBLIC_BASE_URL = "https://memories-portal.video-operations.example.com"
    finish(sending, Status.FAILED)
    deliver_outbox()
    [message] = mailbox.to("alice@example.com")
    raw = dict(message.raw_items())["List-Unsubscribe"]  # as sent, before any decoding
    assert "=?" not in raw
    url = raw.strip()
    assert url.startswith("<https://memories-portal.video-operations.example.com/unsubscribe/")
    assert url.endswith("/>") and not any(c.isspace() for c in url)
    anonymous = Client(enforce_csrf_checks=True)
    path = url.strip("<>").removeprefix(settings.PUBLIC_BASE_URL)
    assert anonymous.post(path).status_code == 200
    assert not PersonSettings.objects.get(user=alice).email_problems


def test_an_unsubscribe_link_expires(client, alice, time_machine):
    time_machine.move_to("2026-03-01 09:00Z", tick=False)
    url = reverse("unsubscribe", args=[unsubscribe_token(alice)])
    time_machine.move_to("2026-04-29 09:00Z", tick=False)  # 59 days on
    assert client.get(url).status_code == 200
    time_machine.move_to("2026-05-01 09:00Z", tick=False)  # 61 days on
    response = client.post(url)
    assert response.status_code == 400
    assert "more than 60 days old" in response.content.decode()
    assert PersonSettings.of(alice).email_problems


def test_changing_ones_email_choices_revokes_earlier_links(client, alice):
    url = reverse("unsubscribe", args=[unsubscribe_token(alice)])
    client.force_login(alice)
    client.post(
        reverse("person_settings"),
        {"time_zone": "", "email_problems": "on", "email_done": "at_once", "email_alerts": "on"},
    )
    client.logout()
    response = client.post(url)
    assert response.status_code == 400
    assert "email choices were changed" in response.content.decode()
    assert PersonSettings.objects.get(user=alice).email_done == PersonSettings.Done.AT_ONCE
    fresh = reverse("unsubscribe", args=[unsubscribe_token(alice)])
    assert client.post(fresh).status_code == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_an_unsubscribe_link_answers_only_get_and_post(client, alice, method):
    url = reverse("unsubscribe", args=[unsubscribe_token(alice)])
    response = client.generic(method, url)
    assert response.status_code == 405
    assert PersonSettings.of(alice).email_problems
