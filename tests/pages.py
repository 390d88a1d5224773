"""Every page of the portal outside the admin, as a person opens it: the list the browser
checks (accessibility, phone width) walk, and the URL configuration is compared with.

A view is either a PAGE (checked in a browser) or in NOT_PAGES with the reason it is not
one; a new view in neither fails tests/fast/test_every_page_listed.py, so a new page
cannot slip past the checks.

PAGES: name -> list of (variant, who looks at it, what to seed). The seed names are
resolved by tests/browser/test_every_page.py.
"""

from tests.isolation import url_patterns

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

# (URL name, variant, who: "anonymous", "alice" (member), "manager" or "root" (superuser))
PAGES = [
    ("login", "", "anonymous"),
    ("home", "with submissions", "alice"),
    ("home", "empty", "bob"),
    ("user_dashboard", "of alice, for a superuser", "root"),
    ("team_dashboard", "for a manager", "manager"),
    ("team_dashboard", "for a member", "alice"),
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
    ("person_settings", "", "alice"),
    ("tokens", "", "alice"),
    ("api:docs", "", "anonymous"),
    ("webhook_list", "", "manager"),
    ("webhook_detail", "with deliveries", "manager"),
    ("unsubscribe", "", "anonymous"),
    ("token_revoke", "", "alice"),
    ("webhook_delete", "", "manager"),
]

# Views that are not pages, and why.
NOT_PAGES = {
    "logout": "POST only",
    "submission_export": "a CSV download",
    "submission_statuses": "an htmx fragment of the pages above",
    "submission_move_to_front": "POST only",
    "batch_template": "a CSV download",
    "batch_progress": "an htmx fragment of the batch page",
    "batch_confirm": "POST only",
    "batch_cancel": "POST only",
    "batch_move_to_front": "POST only",
    "batch_rows_to_fix": "a CSV download",
    "sending_resume": "POST only",
    "memories_callback": "memories.ai's callback, POST only",
    "healthz": "JSON for monitoring",
    "webhook_test": "POST only",
    "webhook_enable": "POST only",
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
