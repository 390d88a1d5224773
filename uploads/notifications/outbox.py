"""What a change writes to the outbox, inside the transaction that makes the change.

Nothing here sends anything: rows are written, and once the transaction commits the
notifications worker is woken to send them (`delivery`). A change rolled back takes
its rows with it; a change committed cannot lose them.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import (
    FINAL_STATUSES,
    AlertEpisode,
    Batch,
    BatchRow,
    Membership,
    Notice,
    PersonSettings,
    Status,
    Submission,
    Topic,
    WebhookEndpoint,
    signals,
)
from ..wake import wake_notifier

STATUS_TOPICS = {
    Status.PARSED: Topic.DONE,
    Status.PARSE_ERROR: Topic.PARSE_ERROR,
    Status.FAILED: Topic.FAILED,
    Status.NEEDS_REVIEW: Topic.NEEDS_REVIEW,
}
PROBLEMS = frozenset({Topic.PARSE_ERROR, Topic.FAILED, Topic.NEEDS_REVIEW})
# A batch's summary does not wait for rows that have sat in needs review this long:
# they are reported as such.
REVIEW_DOES_NOT_HOLD_AFTER = timedelta(days=1)


def status_changed(submission, to, message):
    """`submission` (locked, read afresh, still in its old status) moves to `to`."""
    topic = STATUS_TOPICS.get(to)
    if topic is not None:
        facts = submission_facts(submission, to, message)
        rows = _webhook_rows(submission.team_id, topic, facts, submission=submission)
        if submission.batch_id is None:  # a batch's rows are told in one summary
            rows += _email_rows_for_submitter(submission, topic, facts)
        write(rows)
    if submission.batch_id is not None and (to in FINAL_STATUSES or to == Status.NEEDS_REVIEW):
        finish_batch_if_done(submission.batch_id)


def submission_facts(submission, to, message):
    return {
        "submission": submission.pk,
        "url": submission.url,
        "team": submission.team_id,
        "status": str(to),
        "status_label": Status(to).label,
        "from_status": submission.status,
        "message": message,
        "video_no": submission.video_no,
        "submitter": submission.submitter_id,
        "at": timezone.now().isoformat(),
    }


def _email_rows_for_submitter(submission, topic, facts):
    person = PersonSettings.of_id(submission.submitter_id)
    if topic in PROBLEMS:
        if not person.email_problems:
            return []
        state = Notice.State.PENDING
    elif person.email_done == PersonSettings.Done.AT_ONCE:
        state = Notice.State.PENDING
    elif person.email_done == PersonSettings.Done.DIGEST:
        state = Notice.State.DIGEST
    else:
        return []
    return [
        Notice(
            topic=topic,
            channel=Notice.Channel.EMAIL,
            recipient_id=submission.submitter_id,
            submission_id=submission.pk,
            facts=facts,
            state=state,
        )
    ]


def _webhook_rows(team_ids, topic, facts, **links):
    team_ids = [team_ids] if isinstance(team_ids, int) else team_ids
    endpoints = WebhookEndpoint.objects.filter(team_id__in=team_ids, is_active=True).only(
        "pk", "topics"
    )
    return [
        Notice(topic=topic, channel=Notice.Channel.WEBHOOK, endpoint=e, facts=facts, **links)
        for e in endpoints
        if e.wants(topic)
    ]


# --- batches ------------------------------------------------------------------


def unfinished_rows(batch_id):
    """Whether any of the batch still keeps its summary waiting: held rows not yet queued,
    submissions not final (needs review holds it for a day only)."""
    if BatchRow.objects.filter(batch_id=batch_id, state=BatchRow.State.HELD).exists():
        return True
    waiting = Submission.objects.filter(batch_id=batch_id).exclude(status__in=FINAL_STATUSES)
    waiting = waiting.exclude(
        status=Status.NEEDS_REVIEW,
        updated_at__lt=timezone.now() - REVIEW_DOES_NOT_HOLD_AFTER,
    )
    return waiting.exists()


def finish_batch_if_done(batch_id):
    """Write the batch's summary once, when nothing of it is left to wait for."""
    if unfinished_rows(batch_id):
        return False
    if not Batch.objects.filter(
        pk=batch_id, state=Batch.State.QUEUED, summary_at__isnull=True
    ).update(summary_at=timezone.now()):
        return False  # already summed up (or not queued yet)
    batch = Batch.objects.get(pk=batch_id)
    facts = batch_facts(batch)
    rows = _webhook_rows(facts["teams"], Topic.BATCH_FINISHED, facts, batch=batch)
    if _wants_any_email(batch.created_by_id):
        rows.append(
            Notice(
                topic=Topic.BATCH_FINISHED,
                channel=Notice.Channel.EMAIL,
                recipient_id=batch.created_by_id,
                batch=batch,
                facts=facts,
            )
        )
    write(rows)
    return True


def batch_facts(batch):
    rows = Submission.objects.filter(batch_id=batch.pk)
    counts = dict(rows.values_list("status").annotate(n=Count("pk")).order_by())
    teams = sorted(set(rows.values_list("team_id", flat=True)))
    return {
        "batch": batch.pk,
        "source": batch.source,
        "counts": {str(k): v for k, v in counts.items()},
        "needs_review": counts.get(Status.NEEDS_REVIEW, 0),
        "teams": teams,
        "at": timezone.now().isoformat(),
    }


def _wants_any_email(user_id):
    person = PersonSettings.of_id(user_id)
    return person.email_problems or person.email_done != PersonSettings.Done.NEVER


# --- alerts and the rest ----------------------------------------------------------


def alert_superusers(kind, topic, facts):
    """Email every superuser who keeps alerts on, once per episode of `kind`."""
    with transaction.atomic():
        if not AlertEpisode.begin(kind):
            return 0
        people = get_user_model().objects.filter(is_superuser=True, is_active=True)
        return write(_alert_rows(people, topic, facts))


def endpoint_disabled(endpoint, reason):
    """The team's managers are told that this endpoint stopped receiving."""
    managers = get_user_model().objects.filter(
        is_active=True,
        memberships__team_id=endpoint.team_id,
        memberships__role=Membership.Role.MANAGER,
    )
    facts = {"endpoint": endpoint.pk, "url": endpoint.url, "reason": reason}
    facts["team"] = endpoint.team_id
    return write(_alert_rows(managers, Topic.ENDPOINT_DISABLED, facts))


def _alert_rows(people, topic, facts):
    people = people.filter(~Q(person_settings__email_alerts=False)).exclude(email="")
    return [
        Notice(topic=topic, channel=Notice.Channel.EMAIL, recipient_id=pk, facts=facts)
        for pk in people.values_list("pk", flat=True).distinct()
    ]


def queue_test_event(endpoint, actor):
    """A "test" event for one endpoint, from its page's button."""
    facts = {
        "message": f"A test event, sent by {actor.get_username()}.",
        "team": endpoint.team_id,
        "at": timezone.now().isoformat(),
    }
    test = Notice(topic=Topic.TEST, channel=Notice.Channel.WEBHOOK, endpoint=endpoint)
    test.facts = facts
    return write([test])


def write(rows):
    """Insert the rows in one query; wake the notifications worker once the change commits."""
    if not rows:
        return 0
    Notice.objects.bulk_create(rows)
    if any(row.state == Notice.State.PENDING for row in rows):
        transaction.on_commit(wake_notifier)
    return len(rows)


def sending_paused(reason, account):
    """An account's sending paused (the gate's pause decides it is a new episode): its
    superusers and the managers of the teams that send through it are emailed."""
    people = get_user_model().objects.filter(
        Q(is_superuser=True)
        | Q(
            memberships__team__account=account,
            memberships__team__is_active=True,
            memberships__role=Membership.Role.MANAGER,
        ),
        is_active=True,
    )
    facts = {"reason": reason, "account": account.name}
    return write(_alert_rows(people, Topic.SENDING_PAUSED, facts))


def _on_status_changed(sender, *, submission, to, message, **kwargs):
    status_changed(submission, to, message)


def _on_sending_paused(sender, *, reason, account, **kwargs):
    sending_paused(reason, account)


def subscribe():
    """Write the outbox's rows for every status change and pause, in the transaction that
    makes it: the models announce them (uploads/models/signals.py); AppConfig.ready
    subscribes."""
    signals.status_changed.connect(_on_status_changed, dispatch_uid="uploads.outbox.status")
    signals.sending_paused.connect(_on_sending_paused, dispatch_uid="uploads.outbox.paused")
