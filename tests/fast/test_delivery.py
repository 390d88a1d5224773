"""No notification holds up another: fair turns by destination, several at once, one at a
time per endpoint; every attempt ends in an outcome; a gone endpoint is disabled at once;
an email's whole exchange has a deadline."""

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from tests.conftest import deliver_outbox, wait_for
from tests.factories import SubmissionFactory
from uploads.models import Event, Notice, Status, Topic, WebhookEndpoint
from uploads.notifications import delivery

pytestmark = pytest.mark.django_db


def webhook_notices(endpoint, count):
    return [
        Notice.objects.create(
            topic=Topic.DONE, channel=Notice.Channel.WEBHOOK, endpoint=endpoint,
            facts={"submission": 1, "status_label": "Done", "url": "u"},
        )
        for _ in range(count)
    ]  # fmt: skip


def email_notices(person, count):
    return [
        Notice.objects.create(
            topic=Topic.FAILED, channel=Notice.Channel.EMAIL, recipient=person,
            facts={"submission": 1, "status_label": "Failed", "url": "u",
                   "at": timezone.now().isoformat()},
        )
        for _ in range(count)
    ]  # fmt: skip


def test_endpoints_take_turns_whatever_their_backlog(team_a, alice, monkeypatch):
    crowded = WebhookEndpoint.objects.create(team=team_a, url="https://a.example.com/", topics=[])
    webhook_notices(crowded, 4)  # written first: the oldest rows
    quiet = WebhookEndpoint.objects.create(team=team_a, url="https://b.example.com/", topics=[])
    webhook_notices(quiet, 2)
    order = []

    def record(notice):
        order.append(notice.endpoint_id)
        delivery._finish(notice, state=Notice.State.SENT)

    monkeypatch.setattr(delivery, "deliver_one", record)
    assert deliver_outbox() == 6
    a, b = crowded.pk, quiet.pk
    assert order == [a, b, a, b, a, a]


def test_an_endpoint_with_a_delivery_under_way_is_not_claimed_again(team_a):
    endpoint = WebhookEndpoint.objects.create(team=team_a, url="https://a.example.com/", topics=[])
    webhook_notices(endpoint, 2)
    first = delivery.claim_next(Notice.Channel.WEBHOOK)
    assert first is not None
    assert delivery.claim_next(Notice.Channel.WEBHOOK) is None  # another worker finds it busy
    delivery._finish(first, state=Notice.State.SENT)
    assert delivery.claim_next(Notice.Channel.WEBHOOK) is not None


class Hanging:
    """A webhook receiver that holds each request until released; counts how many it holds."""

    def __init__(self):
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.holding = self.most = self.seen = 0
        hanging = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                with hanging.lock:
                    hanging.holding += 1
                    hanging.seen += 1
                    hanging.most = max(hanging.most, hanging.holding)
                hanging.release.wait(30)
                with hanging.lock:
                    hanging.holding -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hanging():
    server = Hanging()
    yield server
    server.close()


@pytest.mark.django_db(transaction=True)  # the worker's threads see committed rows only
def test_a_hanging_endpoint_delays_no_email_and_no_other_endpoint(
    settings, mailbox, hanging, receiver, team_a, alice
):
    settings.WEBHOOK_DEADLINE = 3
    settings.NOTIFY_WEBHOOK_CONCURRENCY = 3
    stuck = WebhookEndpoint.objects.create(team=team_a, url=hanging.url, topics=[])
    webhook_notices(stuck, 5)
    fine = WebhookEndpoint.objects.create(team=team_a, url=receiver.url + "/", topics=[])
    webhook_notices(fine, 3)
    email_notices(alice, 4)
    worker = threading.Thread(target=delivery.deliver_due, kwargs={"time_budget": 1.0})
    started = time.monotonic()
    worker.start()
    try:
        # While the first delivery to the hanging endpoint still hangs, the rest is sent.
        assert wait_for(lambda: len(mailbox.to("alice@example.com")) == 4, timeout=2.5)
        assert wait_for(
            lambda: len(receiver.requests) == 3, timeout=2.5 - (time.monotonic() - started)
        )
        assert hanging.holding == 1
    finally:
        worker.join(timeout=10)
    assert hanging.most == 1  # one delivery at a time to an endpoint, with threads to spare
    assert hanging.seen == 1  # and its other rows waited their turn behind no one
    stuck_rows = Notice.objects.filter(endpoint=stuck)
    assert stuck_rows.filter(state=Notice.State.PENDING, attempts=0).count() == 4
    assert "3 s" in stuck_rows.get(attempts=1).last_error


def test_an_unexpected_error_is_a_failed_attempt_with_its_reason(mailbox, team_a, alice, settings):
    alice.email = "ann smith@example.com"  # the form would refuse it; it came another way
    alice.save()
    [notice] = email_notices(alice, 1)
    deliver_outbox()
    notice.refresh_from_db()
    assert notice.state == Notice.State.PENDING and notice.attempts == 1
    assert notice.last_error.startswith("The delivery failed unexpectedly: ")
    assert notice.due_at > timezone.now()  # tried again on the schedule, not at once
    two_days_ago = timezone.now() - timezone.timedelta(days=2)
    Notice.objects.filter(pk=notice.pk).update(due_at=two_days_ago, created_at=two_days_ago)
    deliver_outbox()
    notice.refresh_from_db()
    assert notice.state == Notice.State.FAILED and notice.attempts == 2
    assert notice.last_error.startswith("Given up after 2 attempts over a day; the last one: ")


def test_a_notice_given_up_says_so_on_the_endpoints_log(client, manager, receiver, team_a, alice):
    endpoint = WebhookEndpoint.objects.create(team=team_a, url=receiver.url + "/", topics=[])
    receiver.answers = [(500, {})]
    [notice] = webhook_notices(endpoint, 1)
    Notice.objects.filter(pk=notice.pk).update(
        created_at=timezone.now() - timezone.timedelta(days=1, seconds=1)
    )
    deliver_outbox()
    client.force_login(manager)
    page = client.get(endpoint.get_absolute_url()).content.decode()
    assert "Given up after 1 attempts over a day; the last one: It answered 500." in page


@pytest.mark.parametrize("status", [410, 301, 308])
def test_an_endpoint_that_is_gone_for_good_is_disabled_at_once(
    mailbox, receiver, team_a, alice, manager, status
):
    endpoint = WebhookEndpoint.objects.create(team=team_a, url=receiver.url + "/", topics=[])
    receiver.answers = [(status, {"Location": "https://elsewhere.example.com/"})]
    first, waiting = webhook_notices(endpoint, 2)
    deliver_outbox()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and str(status) in endpoint.disabled_reason
    first.refresh_from_db()
    waiting.refresh_from_db()
    assert first.state == Notice.State.FAILED and "disabled" in first.last_error
    assert waiting.state == Notice.State.DROPPED
    assert len(receiver.requests) == 1
    [message] = mailbox.to("maria@example.com")
    assert "disabled" in message["Subject"]


def test_a_temporary_redirect_is_a_failed_attempt_tried_again(receiver, team_a, alice):
    endpoint = WebhookEndpoint.objects.create(team=team_a, url=receiver.url + "/", topics=[])
    receiver.answers = [(307, {"Location": "https://elsewhere.example.com/"})]
    [notice] = webhook_notices(endpoint, 1)
    deliver_outbox()
    notice.refresh_from_db()
    endpoint.refresh_from_db()
    assert endpoint.is_active and notice.state == Notice.State.PENDING
    assert "redirect (307)" in notice.last_error


class SilentSmtp:
    """A mail server that greets, then answers one line just before each read times out."""

    def __init__(self, every):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = self.socket.getsockname()[1]
        self.stop = threading.Event()
        self.every = every
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        connection, _ = self.socket.accept()
        connection.sendall(b"220 slow.example.com ESMTP\r\n")
        gives_up = time.monotonic() + 10  # so that a missing deadline fails, not hangs
        with connection:
            while not self.stop.wait(self.every) and time.monotonic() < gives_up:
                try:
                    connection.sendall(b"250-still thinking\r\n")  # a reply that never ends
                except OSError:
                    return

    def close(self):
        self.stop.set()
        self.socket.close()


def test_an_email_exchange_has_a_deadline_for_the_whole_of_it(settings, alice):
    server = SilentSmtp(every=0.5)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": server.port, "timeout": 1},
        }
    }
    settings.EMAIL_DEADLINE = 2
    [notice] = email_notices(alice, 1)
    started = time.monotonic()
    try:
        deliver_outbox()
    finally:
        server.close()
    assert time.monotonic() - started < 5
    notice.refresh_from_db()
    assert notice.state == Notice.State.PENDING
    assert "did not finish within 2 s" in notice.last_error


def test_a_status_change_still_reaches_both_doors(mailbox, receiver, team_a, alice):
    WebhookEndpoint.objects.create(team=team_a, url=receiver.url + "/", topics=[Topic.FAILED])
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    submission.transition(Status.FAILED, kind=Event.Kind.REFUSED, message="No.")
    assert deliver_outbox() == 2
    assert len(mailbox.to("alice@example.com")) == 1 and len(receiver.requests) == 1
