"""Team webhooks, delivered to a local receiver: signatures checked by an independent
implementation (the standardwebhooks package), retries and disabling, the URL checker's
refusals and the allowlist, the managers' pages."""

import json
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import deliver_outbox
from tests.factories import SubmissionFactory
from uploads.models import Event, Status
from uploads.notifications import webhooks
from uploads.notifications.records import Notice, Topic, WebhookEndpoint, new_webhook_secret

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(team_a, receiver):
    return WebhookEndpoint.objects.create(
        team=team_a, url=receiver.url + "/hook", topics=[Topic.DONE, Topic.FAILED]
    )


def done(team, person):
    submission = SubmissionFactory(team=team, submitter=person, status=Status.PROCESSING)
    submission.transition(Status.PARSED, kind=Event.Kind.CALLBACK, message="PARSE")
    return submission


def test_a_delivery_is_signed_as_standard_webhooks_says(endpoint, receiver, team_a, alice):
    submission = done(team_a, alice)
    deliver_outbox()
    [(path, headers, body)] = receiver.requests
    assert path == "/hook"
    event = Webhook(endpoint.secret).verify(body, headers)  # raises if the signature is wrong
    assert event["type"] == "submission.done"
    assert event["data"]["submission"] == submission.pk
    assert event["data"]["status"] == "parsed"
    assert headers["webhook-id"] == Notice.objects.get(channel="webhook").uid


def test_a_wrong_secret_and_a_stale_timestamp_are_refused(endpoint, receiver, team_a, alice):
    done(team_a, alice)
    deliver_outbox()
    [(_, headers, body)] = receiver.requests
    with pytest.raises(WebhookVerificationError):
        Webhook(new_webhook_secret()).verify(body, headers)
    stale = str(int(time.time()) - 600)
    old = {
        **headers,
        "webhook-timestamp": stale,
        "webhook-signature": webhooks.sign(endpoint.secret, headers["webhook-id"], stale, body),
    }
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(body, old)


def test_only_the_chosen_events_are_sent(endpoint, receiver, team_a, alice):
    needs = SubmissionFactory(team=team_a, submitter=alice, status=Status.SENDING)
    needs.transition(Status.NEEDS_REVIEW, kind=Event.Kind.UNKNOWN)
    deliver_outbox()
    assert receiver.requests == []


def test_a_slack_endpoint_gets_a_text_body(team_a, receiver, alice):
    WebhookEndpoint.objects.create(
        team=team_a, url=receiver.url, format=WebhookEndpoint.Format.SLACK, topics=[Topic.DONE]
    )
    submission = done(team_a, alice)
    deliver_outbox()
    body = json.loads(receiver.requests[0][2])
    assert list(body) == ["text"]
    assert f"Submission #{submission.pk} Done" in body["text"]


def test_a_failed_delivery_is_retried_with_the_same_webhook_id(endpoint, receiver, team_a, alice):
    receiver.answers = [(500, {})]
    done(team_a, alice)
    deliver_outbox()
    notice = Notice.objects.get(channel="webhook")
    assert notice.state == Notice.State.PENDING and notice.status_code == 500
    assert notice.due_at > notice.created_at + timedelta(seconds=20)  # backoff
    assert deliver_outbox() == 0  # not due yet
    Notice.objects.filter(channel="webhook").update(due_at=notice.created_at)
    deliver_outbox()
    notice.refresh_from_db()
    assert (notice.state, notice.attempts, notice.status_code) == (Notice.State.SENT, 2, 204)
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == [notice.uid] * 2


def test_after_a_day_of_failures_the_endpoint_is_disabled_and_its_managers_emailed(
    mailbox, endpoint, receiver, team_a, alice, manager
):
    receiver.answers = [(503, {})]
    done(team_a, alice)
    Notice.objects.filter(channel="webhook").update(
        created_at=Notice.objects.get(channel="webhook").created_at - timedelta(days=1)
    )
    deliver_outbox()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "503" in endpoint.disabled_reason
    assert Notice.objects.get(endpoint=endpoint).state == Notice.State.FAILED
    [message] = mailbox.to("maria@example.com")
    assert "disabled" in message["Subject"]
    done(team_a, alice)  # a disabled endpoint gets nothing more
    deliver_outbox()
    assert len(receiver.requests) == 1


# --- the URL checker's refusals ------------------------------------------------------

INTERNAL = [
    "http://127.0.0.1/hook",
    "http://127.1/hook",
    "http://0x7f.1/hook",
    "http://2130706433/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://10.0.0.5/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://localhost/hook",
    "http://intranet/hook",
    "http://chat.internal/hook",
]


@pytest.fixture
def strict(settings):
    """As in production: loopback refused too."""
    settings.URL_PROBE_ALLOW_PRIVATE = False
    settings.URL_PROBE_ALLOWED_PORTS = [80, 443]


@pytest.mark.parametrize("url", INTERNAL)
def test_the_form_refuses_internal_addresses_in_every_written_form(client, manager, strict, url):
    client.force_login(manager)
    response = client.post(
        reverse("webhook_list", args=["alpha"]), {"url": url, "format": "json", "topics": "test"}
    )
    assert response.status_code == 200
    assert 'id="id_url_error"' in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", INTERNAL[:6])
def test_a_delivery_to_an_internal_address_is_refused_without_connecting(
    team_a, alice, strict, url
):
    WebhookEndpoint.objects.create(team=team_a, url=url, topics=[Topic.DONE])
    done(team_a, alice)  # only_loopback fails the test on any other connection
    deliver_outbox()
    notice = Notice.objects.get(channel="webhook")
    assert notice.state == Notice.State.PENDING and notice.status_code is None
    assert notice.last_error


def test_a_redirect_is_not_followed(endpoint, receiver, team_a, alice):
    receiver.answers = [(307, {"Location": "http://10.0.0.5/steal"})]
    done(team_a, alice)
    deliver_outbox()
    notice = Notice.objects.get(channel="webhook")
    assert "redirect" in notice.last_error and notice.state == Notice.State.PENDING
    assert len(receiver.requests) == 1


def test_the_allowlist_lets_an_intranet_receiver_through(
    client, manager, settings, strict, receiver, team_a, alice
):
    url = receiver.url.replace("127.0.0.1", "localhost") + "/ci"
    client.force_login(manager)
    form = {"url": url, "format": "json", "topics": [Topic.DONE]}
    assert client.post(reverse("webhook_list", args=["alpha"]), form).status_code == 200
    settings.WEBHOOK_ALLOWED_HOSTS = ["localhost"]
    assert client.post(reverse("webhook_list", args=["alpha"]), form).status_code == 302
    done(team_a, alice)
    deliver_outbox()
    assert [path for path, _, _ in receiver.requests] == ["/ci"]


# --- the managers' pages -------------------------------------------------------------


def test_a_manager_adds_an_endpoint_and_sees_its_secret_once(client, manager, receiver):
    client.force_login(manager)
    response = client.post(
        reverse("webhook_list", args=["alpha"]),
        {"url": receiver.url, "format": "json", "topics": [Topic.FAILED, Topic.BATCH_FINISHED]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret.startswith("whsec_")
    assert endpoint.topics == [Topic.FAILED, Topic.BATCH_FINISHED]
    assert endpoint.created_by == manager
    assert endpoint.secret in client.get(response.url).content.decode()
    assert endpoint.secret not in client.get(response.url).content.decode()


def test_send_a_test_event_appears_in_the_delivery_log(client, manager, endpoint, receiver):
    client.force_login(manager)
    response = client.post(reverse("webhook_test", args=["alpha", endpoint.pk]))
    assert response.status_code == 302
    deliver_outbox()
    event = Webhook(endpoint.secret).verify(receiver.requests[0][2], receiver.requests[0][1])
    assert event["type"] == "test"
    page = client.get(reverse("webhook_detail", args=["alpha", endpoint.pk])).content.decode()
    assert '<td data-label="Status code">204</td>' in page


def test_superusers_see_endpoints_and_their_read_only_log_in_the_admin(
    client, superuser, endpoint, receiver, team_a, alice
):
    done(team_a, alice)
    deliver_outbox()
    client.force_login(superuser)
    page = client.get(reverse("admin:uploads_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and "submission.done" in page.content.decode()
    notice = Notice.objects.get(channel="webhook")
    assert client.get(reverse("admin:uploads_notice_changelist")).status_code == 200
    change = reverse("admin:uploads_notice_change", args=[notice.pk])
    assert client.post(change, {"state": "pending"}).status_code == 403


def test_deleting_an_endpoint_asks_first(client, manager, endpoint, team_a):
    client.force_login(manager)
    url = reverse("webhook_delete", args=[team_a.slug, endpoint.pk])
    detail = client.get(endpoint.get_absolute_url()).content.decode()
    assert "its delivery log is deleted too" in detail  # the dialog asks
    page = client.get(url)
    assert page.status_code == 200
    assert "Yes, delete it" in page.content.decode()
    assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    response = client.post(url, {"confirmed": "yes"})
    assert response.status_code == 302
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_a_slack_text_escapes_what_slack_would_read_as_a_mention_or_a_link(team_a, receiver, alice):
    WebhookEndpoint.objects.create(
        team=team_a, url=receiver.url, format=WebhookEndpoint.Format.SLACK, topics=[Topic.DONE]
    )
    url = "https://videos.example.com/a.mp4?<!channel>&x=<https://evil.example|Reset your password>"
    submission = SubmissionFactory(team=team_a, submitter=alice, status=Status.PROCESSING, url=url)
    submission.transition(Status.PARSED, kind=Event.Kind.CALLBACK, message="PARSE")
    deliver_outbox()
    text = json.loads(receiver.requests[0][2])["text"]
    assert "<" not in text and ">" not in text
    assert (
        "https://videos.example.com/a.mp4?&lt;!channel&gt;&amp;x="
        "&lt;https://evil.example|Reset your password&gt;"
    ) in text


def test_the_new_secret_is_never_kept_in_the_session(client, manager, receiver):
    client.force_login(manager)
    client.post(
        reverse("webhook_list", args=["alpha"]),
        {"url": receiver.url, "format": "json", "topics": [Topic.FAILED]},
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret not in str(dict(client.session))


def test_the_secret_is_not_shown_on_a_page_opened_long_after(
    client, manager, receiver, time_machine
):
    time_machine.move_to("2026-06-01 12:00Z", tick=False)
    client.force_login(manager)
    response = client.post(
        reverse("webhook_list", args=["alpha"]),
        {"url": receiver.url, "format": "json", "topics": [Topic.FAILED]},
    )
    time_machine.move_to("2026-06-01 12:06Z", tick=False)
    page = client.get(response.url).content.decode()
    assert WebhookEndpoint.objects.get().secret not in page


def test_send_a_test_event_is_limited_per_endpoint(client, manager, endpoint, team_a, receiver):
    client.force_login(manager)
    other = WebhookEndpoint.objects.create(team=team_a, url=receiver.url, topics=[Topic.DONE])
    for _ in range(25):
        client.post(reverse("webhook_test", args=["alpha", endpoint.pk]))
    page = client.post(reverse("webhook_test", args=["alpha", endpoint.pk]), follow=True)
    assert "No test event sent: at most 3 a minute" in page.content.decode()
    client.post(reverse("webhook_test", args=["alpha", other.pk]))
    tests = Notice.objects.filter(topic=Topic.TEST)
    assert tests.filter(endpoint=endpoint).count() == 3
    assert tests.filter(endpoint=other).count() == 1
