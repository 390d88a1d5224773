"""The door for emails: a notice becomes one message, sent through Django's email backend.

Every message has a plain-text part, links to the portal's pages (absolute, from
PUBLIC_BASE_URL) and a one-click unsubscribe (List-Unsubscribe and
List-Unsubscribe-Post) through a signed link that needs no login.
"""

import contextlib
import email.policy
import socket
import threading
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail, signing
from django.core.mail import EmailMessage
from django.urls import reverse

from ..models import PersonSettings, Status, Team, Topic

UNSUBSCRIBE_SALT = "uploads.notifications.unsubscribe"


class EmailNotSent(Exception):
    """The mail server refused or could not be reached: the notice is tried again."""


# An unsubscribe link works this long after its email was written: long enough for an
# email read late, short enough that an old email forwarded on is no key to someone's
# settings. (And it stops working once the person changes their email choices.)
UNSUBSCRIBE_MAX_AGE = timedelta(days=60)
# RFC 5322's limit on a line. Python folds header lines longer than 78 characters, and a
# URL has no space to fold at, so it would go out as RFC 2047 encoded words, in which mail
# clients find no `<URL>`: List-Unsubscribe would not work.
HEADER_LINE_LIMIT = 998


class InvalidLink(Exception):
    """An unsubscribe link that does not work; `reason` says why, for the page."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _unsubscribe_version(user):
    """Read afresh, never from a user's cached settings: a link is as current as the row."""
    rows = PersonSettings.objects.filter(user_id=user.pk)
    return rows.values_list("unsubscribe_version", flat=True).first() or 0


def unsubscribe_token(user):
    return signing.dumps([user.pk, _unsubscribe_version(user)], salt=UNSUBSCRIBE_SALT)


def unsubscribe_person(token):
    """The user a link's token was made for; InvalidLink if it is forged, damaged, too old,
    or made before the person last changed their email choices."""
    try:
        user_id, version = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=UNSUBSCRIBE_MAX_AGE)
        user = get_user_model().objects.filter(pk=int(user_id), is_active=True).first()
    except signing.SignatureExpired:
        raise InvalidLink(
            f"This unsubscribe link is more than {UNSUBSCRIBE_MAX_AGE.days} days old."
        ) from None
    except (signing.BadSignature, TypeError, ValueError):
        raise InvalidLink(
            "This unsubscribe link is not valid (it may have been cut short by the mail program)."
        ) from None
    if user is None:
        raise InvalidLink("This unsubscribe link is for nobody who gets emails.")
    if _unsubscribe_version(user) != version:
        raise InvalidLink("Your email choices were changed since this email was sent.")
    return user


class PortalEmail(EmailMessage):
    """An email whose header lines are folded only past RFC 5322's limit (HEADER_LINE_LIMIT)."""

    def message(self, *, policy=email.policy.default):
        return super().message(policy=policy.clone(max_line_length=HEADER_LINE_LIMIT))


def absolute(path):
    return f"{settings.PUBLIC_BASE_URL}{path}"


def send(notice):
    """Send one email notice; EmailNotSent if the mail server did not take it, or did not
    finish the exchange within EMAIL_DEADLINE seconds."""
    message = compose(notice)
    mailer = mail.mailers.default
    watch = _ExchangeDeadline(mailer, settings.EMAIL_DEADLINE)
    try:
        with watch:
            mailer.send_messages([message])
    except OSError as exc:  # smtplib's errors are OSErrors, and so are refused connections
        if watch.fired:
            raise EmailNotSent(
                f"The mail server did not finish within {settings.EMAIL_DEADLINE:g} s."
            ) from None
        raise EmailNotSent(f"The mail server did not take it: {exc}") from None


class _ExchangeDeadline:
    """Bounds a whole SMTP exchange: per-socket timeouts (EMAIL_TIMEOUT) do not stop a
    server that answers one line just before each runs out, and an exchange longer than
    the notice's lease would let another worker send the email again.

    At the deadline a watchdog thread shuts the SMTP connection's socket down (and keeps
    doing so for one opened after), so the blocked call returns with an error."""

    def __init__(self, mailer, seconds):
        self.mailer = mailer
        self.seconds = seconds
        self.fired = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="email-deadline", daemon=True)

    def __enter__(self):
        self._thread.start()

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()

    def _watch(self):
        if self._done.wait(self.seconds):
            return
        self.fired = True
        while not self._done.is_set():
            for smtp in (getattr(self.mailer, "connection", None),
                         getattr(self.mailer, "_partial_connection", None)):  # fmt: skip
                sock = getattr(smtp, "sock", None)
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
            self._done.wait(0.05)


def compose(notice):
    user = notice.recipient
    zone = PersonSettings.of(user).zone
    subject, lines = WRITERS[notice.topic](notice, zone)
    unsubscribe = absolute(reverse("unsubscribe", args=[unsubscribe_token(user)]))
    body = "\n".join(
        [
            f"Hello {user.get_short_name() or user.get_username()},",
            "",
            *lines,
            "",
            "--",
            f"Choose which emails you get: {absolute(reverse('person_settings'))}#notifications",
            f"Stop all of them: {unsubscribe}",
        ]
    )
    return PortalEmail(
        subject=f"[Memories Portal] {subject}",
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
    )


def _when(iso, zone):
    moment = datetime.fromisoformat(iso).astimezone(zone)
    return moment.strftime("%Y-%m-%d %H:%M ") + (moment.tzname() or "")


def _submission_lines(facts, zone):
    link = absolute(reverse("submission_detail", args=[facts["submission"]]))
    lines = [
        f"Submission #{facts['submission']}: {facts['status_label']}",
        f"  {facts['url']}",
        f"  at {_when(facts['at'], zone)}",
    ]
    if facts.get("message"):
        lines.append(f"  {facts['message']}")
    lines.append(f"  {link}")
    return lines


def _submission(notice, zone):
    facts = notice.facts
    verb = {
        Topic.DONE: "is done",
        Topic.PARSE_ERROR: "failed in processing",
        Topic.FAILED: "failed",
        Topic.NEEDS_REVIEW: "needs review",
    }[notice.topic]
    return f"Submission #{facts['submission']} {verb}", _submission_lines(facts, zone)


def _digest(notice, zone):
    items = list(notice.items.order_by("created_at", "pk"))
    lines = [f"{len(items)} of your submissions were done since the last digest:", ""]
    for item in items:
        lines += [*_submission_lines(item.facts, zone), ""]
    return f"Your daily digest: {len(items)} done", lines


def _batch(notice, zone):
    facts = notice.facts
    counts = facts["counts"]
    link = absolute(reverse("batch_detail", args=[facts["batch"]]))
    lines = [f"Every row of batch #{facts['batch']} ({facts['source']}) is finished:", ""]
    lines += [f"  {Status(status).label}: {n}" for status, n in sorted(counts.items())]
    if facts.get("needs_review"):
        lines += [
            "",
            f"{facts['needs_review']} have needed review for more than a day; "
            "they are reported here rather than holding this summary back.",
        ]
    lines += ["", link]
    return f"Batch #{facts['batch']} finished", lines


def _paused(notice, zone):
    account = notice.facts.get("account")
    through = f" through the account “{account}”" if account else ""
    return "Sending is paused", [
        f"Sending to memories.ai{through} stopped; nothing more is sent through it until a "
        "superuser resumes it. Other accounts go on.",
        "",
        f"Reason: {notice.facts['reason']}",
        "",
        f"Resume it from the dashboard: {absolute(reverse('home'))}",
    ]


def _review(notice, zone):
    facts = notice.facts
    return "Submissions are waiting for review", [
        f"{facts['count']} submissions need review; the oldest has waited since "
        f"{_when(facts['oldest'], zone)}.",
        "",
        f"{absolute(reverse('submission_list'))}?status={Status.NEEDS_REVIEW}",
    ]


def _endpoint(notice, zone):
    facts = notice.facts
    team = Team.objects.filter(pk=facts["team"]).first()
    link = absolute(reverse("webhook_detail", args=[team.slug, facts["endpoint"]])) if team else ""
    return "A webhook endpoint was disabled", [
        f"The endpoint {facts['url']} of {team} was disabled:",
        f"  {facts['reason']}",
        "",
        f"Enable it again once it answers: {link}",
    ]


WRITERS = {
    Topic.DONE: _submission,
    Topic.PARSE_ERROR: _submission,
    Topic.FAILED: _submission,
    Topic.NEEDS_REVIEW: _submission,
    Topic.DIGEST: _digest,
    Topic.BATCH_FINISHED: _batch,
    Topic.SENDING_PAUSED: _paused,
    Topic.REVIEW_PILING_UP: _review,
    Topic.ENDPOINT_DISABLED: _endpoint,
}


def still_wanted(notice):
    """False when the person turned these emails off after the notice was written."""
    person = PersonSettings.of(notice.recipient)
    if notice.topic in (Topic.SENDING_PAUSED, Topic.REVIEW_PILING_UP, Topic.ENDPOINT_DISABLED):
        return person.email_alerts
    if notice.topic in (Topic.PARSE_ERROR, Topic.FAILED, Topic.NEEDS_REVIEW):
        return person.email_problems
    if notice.topic == Topic.BATCH_FINISHED:
        return person.email_problems or person.email_done != PersonSettings.Done.NEVER
    return notice.topic == Topic.DIGEST or person.email_done != PersonSettings.Done.NEVER
