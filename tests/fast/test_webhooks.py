"""Team webhooks, delivered to a local receiver: signatures checked by an independent
implementation (the standardwebhooks package), retries and disabling, the URL checker's
refusals and the allowlist, the managers' pages."""

import html
import json
import time
from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from django.utils import timezone
from standardwebhooks import Webhook, WebhookVerificationError

from tests.conftest import deliver_outbox
from tests.factories import SubmissionFactory
from uploads.models import Event, Notice, Status, Topic, WebhookEndpoint, new_webhook_secret
from uploads.notifications import webhooks

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
    # The team by the name the API gives it, not by its number.
    assert event["data"]["team"] == team_a.slug == "alpha"


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


def test_the_form_speaks_of_webhooks_and_to_a_manager(client, manager, strict):
    client.force_login(manager)
    url = "http://127.0.0.1:8520/hook"
    response = client.post(
        reverse("webhook_list", args=["alpha"]), {"url": url, "format": "json", "topics": "test"}
    )
    page = response.content.decode()
    [error] = response.context["form"].errors["url"]
    assert "webhooks go only to the public internet" in error
    assert "an administrator can allow its host" in error
    assert "memories.ai" not in error
    # No setting named to a manager, on the form or in its help; the summary leads to it.
    assert "WEBHOOK_ALLOWED_HOSTS" not in page
    assert 'id="error-summary"' in page and 'href="#id_url"' in page


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


# --- editing, a delivery's page, redelivering, health --------------------------------


def test_a_manager_edits_an_endpoint_and_keeps_its_secret(client, manager, endpoint, receiver):
    secret = endpoint.secret
    client.force_login(manager)
    url = reverse("webhook_edit", args=["alpha", endpoint.pk])
    page = client.get(url).content.decode()
    assert f'value="{endpoint.url}"' in page and "checked" in page
    form = {"url": receiver.url + "/new", "format": "slack", "topics": [Topic.NEEDS_REVIEW]}
    assert client.post(url, form).status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.format) == (receiver.url + "/new", "slack")
    assert endpoint.topics == [Topic.NEEDS_REVIEW] and endpoint.secret == secret


def test_an_edited_url_is_checked_as_a_new_one_is(client, manager, endpoint, strict):
    client.force_login(manager)
    url = reverse("webhook_edit", args=["alpha", endpoint.pk])
    form = {"url": "http://10.0.0.5/hook", "format": "json", "topics": [Topic.DONE]}
    response = client.post(url, form)
    assert response.status_code == 200 and 'id="id_url_error"' in response.content.decode()
    assert WebhookEndpoint.objects.get().url == endpoint.url


def test_members_and_other_teams_managers_cannot_edit_or_redeliver(
    client, alice, outsider, team_b, endpoint, receiver
):
    notice = Notice.objects.create(channel="webhook", endpoint=endpoint, topic=Topic.TEST)
    other_manager = outsider
    other_manager.memberships.update(role="manager")
    edit = reverse("webhook_edit", args=["alpha", endpoint.pk])
    redeliver = reverse("webhook_redeliver", args=["alpha", endpoint.pk, notice.pk])
    delivery = reverse("webhook_delivery", args=["alpha", endpoint.pk, notice.pk])
    for person in (alice, other_manager):
        client.force_login(person)
        assert client.get(edit).status_code == 404
        assert client.post(edit, {"url": receiver.url, "format": "json"}).status_code == 404
        assert client.get(delivery).status_code == 404
        assert client.post(redeliver).status_code == 404
    assert Notice.objects.count() == 1 and WebhookEndpoint.objects.get().url == endpoint.url


def test_a_deliverys_page_shows_the_body_and_the_answer(client, manager, endpoint, receiver):
    client.force_login(manager)
    client.post(reverse("webhook_test", args=["alpha", endpoint.pk]))
    receiver.answers = [(503, {})]
    deliver_outbox()
    notice = Notice.objects.get()
    page = client.get(reverse("webhook_delivery", args=["alpha", endpoint.pk, notice.pk]))
    text = html.unescape(page.content.decode())
    assert '"type": "test"' in text and "A test event, sent by maria." in text
    assert "It answered 503." in text and "<dd>503</dd>" in text and notice.uid in text


def test_redelivering_writes_a_new_copy_for_the_usual_delivery_and_is_audited(
    client, manager, endpoint, receiver, team_a, alice
):
    done(team_a, alice)
    receiver.answers = [(500, {})]
    deliver_outbox()
    first = Notice.objects.get(channel="webhook")
    client.force_login(manager)
    response = client.post(reverse("webhook_redeliver", args=["alpha", endpoint.pk, first.pk]))
    assert response.status_code == 302
    copy = Notice.objects.filter(channel="webhook").exclude(pk=first.pk).get()
    assert copy.state == Notice.State.PENDING and copy.uid != first.uid
    assert (copy.topic, copy.facts, copy.submission_id) == (
        first.topic,
        first.facts,
        first.submission_id,
    )
    deliver_outbox()
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == [first.uid, copy.uid]
    entry = LogEntry.objects.get()
    assert entry.user == manager and entry.object_id == str(endpoint.pk)
    assert copy.uid in entry.change_message


def test_the_list_shows_each_endpoints_last_success_and_failures_in_a_row(
    client, manager, endpoint, team_a
):
    now = timezone.now()

    def delivery(state, minutes_ago, **fields):
        created_at = now - timedelta(minutes=minutes_ago)
        Notice.objects.create(
            channel="webhook", endpoint=endpoint, topic=Topic.DONE, state=state,
            created_at=created_at, **fields,
        )  # fmt: skip

    delivery(Notice.State.FAILED, 50, last_error="It answered 500.")  # before the success
    delivery(Notice.State.SENT, 40, sent_at=now - timedelta(minutes=40))
    delivery(Notice.State.FAILED, 30, last_error="It answered 500.")
    delivery(Notice.State.PENDING, 20, last_error="It answered 502.")  # failing, retried
    delivery(Notice.State.PENDING, 10)  # not tried yet
    client.force_login(manager)
    page = client.get(reverse("webhook_list", args=["alpha"])).content.decode()
    assert '<td data-label="Failures in a row" class="failing">2</td>' in page
    assert '<td data-label="Last success"><time' in page


def test_the_delivery_log_polls_for_itself(client, manager, endpoint):
    client.force_login(manager)
    url = reverse("webhook_detail", args=["alpha", endpoint.pk])
    assert 'hx-trigger="every 5s"' in client.get(url).content.decode()
    Notice.objects.create(channel="webhook", endpoint=endpoint, topic=Topic.TEST)
    part = client.get(url + "?part=log").content.decode()
    assert "<html" not in part and "Test event" not in part and ">test<" in part
    client.logout()
    assert client.get(url + "?part=log").status_code == 286


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
