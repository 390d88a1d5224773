"""The door for webhooks: signing as Standard Webhooks says, and the POST through the
URL checker's pinned connection (`probe.post`), the only code that reaches user-given URLs.

Receivers check `webhook-signature` (`v1,` and the base64 HMAC-SHA256, keyed with the
secret's bytes after `whsec_`, of "{webhook-id}.{webhook-timestamp}.{body}"), refuse
old timestamps, and drop a `webhook-id` they have seen (it is the same on every retry).
"""

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.urls import reverse

from ..models import Status, Team, Topic, WebhookEndpoint
from ..urlcheck import policy, probe
from .email import absolute

USER_AGENT = "MemoriesPortal-Webhooks/1.0"


@dataclass
class Delivered:
    status_code: int
    seconds: float


@dataclass
class NotDelivered(Exception):
    """No 2xx answer (or none at all): delivery.py decides what comes next."""

    message: str
    status_code: int | None = None
    seconds: float | None = None


def sign(secret, msg_id, timestamp, body):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def body_for(notice, endpoint):
    """The bytes to send: the JSON event, or Slack's {"text": ...}."""
    if endpoint.format == WebhookEndpoint.Format.SLACK:
        payload = {"text": slack_escaped(summary_line(notice))}
    else:
        payload = {"type": notice.topic, "timestamp": notice.created_at.isoformat()}
        payload["data"] = public_facts(notice)
    return json.dumps(payload, separators=(",", ":")).encode()


def slack_escaped(text):
    """Text Slack shows as written: its control sequences (`<!channel>`, `<url|label>`,
    `<@user>`) all start with `<`, so &, < and > are escaped as Slack asks
    (https://api.slack.com/reference/surfaces/formatting#escaping); a submitted URL can
    then mention no one and disguise no link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def public_facts(notice):
    facts = {k: v for k, v in notice.facts.items() if k not in ("submitter", "teams")}
    if isinstance(facts.get("team"), int):
        # Kept as the team's number (the emails look it up); sent as its slug, the name
        # the API and the pages' addresses give it.
        facts["team"] = Team.objects.filter(pk=facts["team"]).values_list("slug", flat=True).first()
    if "submission" in facts:
        facts["link"] = absolute(reverse("submission_detail", args=[facts["submission"]]))
    if "batch" in facts:
        facts["link"] = absolute(reverse("batch_detail", args=[facts["batch"]]))
    return facts


def summary_line(notice):
    facts = notice.facts
    if notice.topic == Topic.TEST:
        return f"Memories Portal: {facts['message']}"
    if notice.topic == Topic.BATCH_FINISHED:
        counts = ", ".join(f"{Status(s).label} {n}" for s, n in sorted(facts["counts"].items()))
        link = absolute(reverse("batch_detail", args=[facts["batch"]]))
        return f"Batch #{facts['batch']} ({facts['source']}) finished: {counts}. {link}"
    link = absolute(reverse("submission_detail", args=[facts["submission"]]))
    return f"Submission #{facts['submission']} {facts['status_label']}: {facts['url']} {link}"


def deliver(notice):
    """POST the notice to its endpoint, signed; Delivered, or raise NotDelivered."""
    endpoint = notice.endpoint
    body = body_for(notice, endpoint)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": notice.uid,
        "webhook-timestamp": timestamp,
        "webhook-signature": sign(endpoint.secret, notice.uid, timestamp, body),
    }
    try:
        result = probe.post(endpoint.url, body, headers, **policy.webhook_options())
    except probe.ProbeError as exc:
        redirect = exc.status_code if isinstance(exc, probe.ProbeRedirected) else None
        raise NotDelivered(exc.message, redirect) from None
    if not 200 <= result.status_code < 300:
        raise NotDelivered(f"It answered {result.status_code}.", result.status_code, result.seconds)
    return Delivered(result.status_code, result.seconds)
