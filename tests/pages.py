"""Every page of the portal outside the admin, as a person opens it: the list the browser
checks (accessibility, phone width) walk, and the URL configuration is compared with.

A view is either a PAGE (checked in a browser) or in NOT_PAGES with the reason it is not
one; a new view in neither fails tests/fast/test_every_page_listed.py, so a new page
cannot slip past the checks.

PAGES: (URL name, variant, who looks at it). `seed` makes the data every page shows and
`url_of` the address of each variant: tests/browser/test_every_page.py opens them in
chromium, tests/fast/test_every_page_listed.py renders them with the test client (on
every database the suite runs on).
"""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from tests.factories import SubmissionFactory
from tests.isolation import url_patterns
from tests.oidc import provider_settings
from uploads.models import (
    ApiToken,
    Batch,
    BatchRow,
    Event,
    Notice,
    Submission,
    UploadGate,
    WebhookEndpoint,
)
from uploads.notifications.email import unsubscribe_token

STATUSES = (
    "queued",
    "sending",
    "processing",
    "parsed",
    "parse_error",
    "failed",
    "needs_review",
    "cancelled",
)

# (URL name, variant, who: "anonymous", "alice" (member), "manager", "victor" (viewer) or
# "root" (superuser))
PAGES = [
    ("login", "", "anonymous"),
    ("login", "with the company's sign-in", "anonymous"),
    ("login", "the company's sign-in only", "anonymous"),
    ("openid_connect_callback", "a sign-in refused", "anonymous"),
    ("home", "with submissions", "alice"),
    ("home", "empty", "bob"),
    ("user_dashboard", "of alice, for a superuser", "root"),
    ("team_dashboard", "for a manager", "manager"),
    ("team_dashboard", "for a member", "alice"),
    ("team_dashboard", "for a viewer", "victor"),
    ("submission_new", "refused to a viewer", "victor"),
    ("submission_list", "", "alice"),
    *(("submission_detail", status, "alice") for status in STATUSES),
    ("submission_detail", "needs_review", "root"),
    ("submission_detail", "failed", "root"),
    ("submission_cancel", "queued", "alice"),
    ("submission_resend", "failed", "root"),
    ("submission_mark_failed", "needs_review", "root"),
    ("submission_new", "", "alice"),
    ("submission_new", "again", "alice"),
    ("submission_new", "with errors", "alice"),
    ("batch_new", "", "alice"),
    ("batch_detail", "", "alice"),
    ("batch_detail", "queued", "alice"),
    ("batch_cancel", "queued", "alice"),
    ("person_settings", "", "alice"),
    ("tokens", "", "alice"),
    ("api:docs", "", "anonymous"),
    ("webhook_list", "", "manager"),
    ("webhook_detail", "with deliveries", "manager"),
    ("webhook_edit", "", "manager"),
    ("webhook_delivery", "failed", "manager"),
    ("unsubscribe", "", "anonymous"),
    ("token_revoke", "", "alice"),
    ("webhook_delete", "", "manager"),
]

# The variants that answer with another status than 200 (the page says why).
STATUS = {"refused to a viewer": 403, "a sign-in refused": 401}
# The variants shown with the company's sign-in configured (its provider is not asked
# anything by these pages), as settings to override.
NOWHERE = "http://127.0.0.1:9"
SETTINGS = {
    "with the company's sign-in": provider_settings(NOWHERE),
    "the company's sign-in only": provider_settings(NOWHERE, only=True),
    "a sign-in refused": provider_settings(NOWHERE),
}

# Views that are not pages, and why.
NOT_PAGES = {
    "logout": "POST only",
    "openid_connect_login": "POST only, the login page's button: a redirect to the provider "
    "(or, when it is down, the page of a sign-in refused)",
    "submission_export": "a CSV download",
    "submission_statuses": "an htmx fragment of the pages above",
    "submission_move_to_front": "POST only",
    "submission_bulk": "POST only (its question is the confirmation page's twin)",
    "batch_template": "a CSV download",
    "batch_progress": "an htmx fragment of the batch page",
    "batch_confirm": "POST only",
    "batch_move_to_front": "POST only",
    "batch_rows_to_fix": "a CSV download",
    "sending_resume": "POST only",
    "memories_callback": "memories.ai's callback, POST only",
    "healthz": "JSON for load balancers",
    "healthz_workers": "JSON for monitoring",
    "metrics": "Prometheus's text, for monitoring",
    "webhook_test": "POST only",
    "webhook_enable": "POST only",
    "webhook_redeliver": "POST only",
    # The API answers JSON to scripts; its docs page (above) is the page.
    **dict.fromkeys(
        [
            "api:me",
            "api:teams",
            "api:submissions",
            "api:submission",
            "api:submission_cancel",
            "api:batches",
            "api:batch",
            "api:batch_confirm",
            "api:schema",
            "api:not_found",
        ],
        "JSON for scripts",
    ),
}


def portal_views():
    """The names of every view outside the admin."""
    return {name for _, name, _ in url_patterns() if not name.startswith("admin:")}


def seed(team, alice, manager):
    """One submission of each status (the failed ones with a recorded reason), a checked
    batch with a refused row, and sending paused: every banner and panel is on."""
    now = timezone.now()
    by_status = {}
    for i, status in enumerate(
        ["queued", "sending", "processing", "parsed", "parse_error", "failed",
         "needs_review", "cancelled"]
    ):  # fmt: skip
        submission = SubmissionFactory(
            team=team,
            submitter=alice,
            status=status,
            created_at=now - timedelta(hours=i + 1),
            api_status={"processing": "UNPARSE", "parsed": "PARSE"}.get(status, ""),
            error_code="0504" if status in ("failed", "needs_review") else "",
            error_message="HTTP 504 from upload_url" if status == "failed" else "",
            latitude=Decimal("43.2965000"),
            longitude=Decimal("5.3698000"),
            tags=["beach", "a-rather-long-tag-for-a-narrow-screen"],
            url="https://videos.example.com/" + "a-long-path-segment/" * 6 + f"clip-{i}.mp4",
        )
        submission.record(Event.Kind.CREATED, "Submitted.", actor=alice)
        by_status[status] = submission
    batch = Batch.objects.create(created_by=alice, source="pasted", state="checked", row_count=2)
    BatchRow.objects.create(
        batch=batch, line=1, url="https://videos.example.com/ok.mp4", team=team,
        given={"url": "https://videos.example.com/ok.mp4"}, state=BatchRow.State.READY,
    )  # fmt: skip
    BatchRow.objects.create(
        batch=batch, line=2, url="ftp://nope", given={"url": "ftp://nope"},
        state=BatchRow.State.REFUSED, problem="Only http and https links can be sent.",
    )  # fmt: skip
    # The waiting submission came in a queued batch: its page offers to cancel it.
    queued = Batch.objects.create(created_by=alice, source="pasted", state="queued", row_count=1)
    Submission.objects.filter(pk=by_status["queued"].pk).update(batch=queued)
    UploadGate.get()
    UploadGate.objects.update(paused=True, paused_reason="memories.ai refused the API key.")
    endpoint = WebhookEndpoint.objects.create(
        team=team, url="https://hooks.example.com/" + "portal/" * 8, topics=["submission.failed"]
    )
    Notice.objects.create(
        channel=Notice.Channel.WEBHOOK, endpoint=endpoint, topic="submission.failed",
        submission=by_status["failed"], state=Notice.State.FAILED, attempts=3,
        status_code=502, duration_ms=1234, last_error="It answered 502 Bad Gateway.",
    )  # fmt: skip
    ApiToken.issue(alice, name="camera pipeline", scopes=["read", "submit"])
    return by_status, batch


def url_of(name, variant, by_status, batch, alice, team):
    if name == "webhook_list":
        return reverse(name, args=[team.slug])
    if name == "token_revoke":
        return reverse(name, args=[alice.api_tokens.get().pk])
    if name in ("webhook_detail", "webhook_delete", "webhook_edit"):
        return reverse(name, args=[team.slug, team.webhooks.get().pk])
    if name == "webhook_delivery":
        endpoint = team.webhooks.get()
        return reverse(name, args=[team.slug, endpoint.pk, endpoint.notices.get().pk])
    if name == "unsubscribe":
        return reverse(name, args=[unsubscribe_token(alice)])
    if name in ("submission_detail", "submission_cancel", "submission_resend",
                "submission_mark_failed"):  # fmt: skip
        return reverse(name, args=[by_status[variant].pk])
    if name == "submission_new" and variant == "again":
        return reverse(name) + f"?again={by_status['failed'].pk}"
    if name == "team_dashboard":
        return reverse(name, args=[team.slug])
    if name == "openid_connect_callback":
        return reverse(name, args=["company"])  # without a state: refused
    if name == "user_dashboard":
        return reverse(name, args=[alice.pk])
    if name in ("batch_detail", "batch_cancel"):
        shown = Batch.objects.get(state="queued") if variant == "queued" else batch
        return reverse(name, args=[shown.pk])
    return reverse(name)
