"""Each memories.ai account's upload rate gate and its pause, shared by every worker."""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from . import signals
from .accounts import MemoriesAccount
from .queries import local_time


def _account(account):
    """An account, from an account, its id, or None (the default account)."""
    if account is None:
        return MemoriesAccount.default()
    if isinstance(account, MemoriesAccount):
        return account
    return MemoriesAccount.objects.get(pk=account)


class UploadGate(models.Model):
    """An account's upload rate gate, shared by every worker process: one row per account.

    A worker may send through an account only after taking a slot with a
    conditional UPDATE that moves `next_allowed_at` forward; whoever changes
    the row got the slot, so any number of workers on any number of machines
    send at most the account's rate. Each account's row is its own: teams on
    different accounts send in parallel, and a pause stops one account only.

    Every method takes the account (an account, its id, or None for the
    default one).
    """

    account = models.OneToOneField(
        MemoriesAccount, on_delete=models.CASCADE, related_name="gate", null=True
    )
    next_allowed_at = models.DateTimeField(default=timezone.now)
    # When the account is free for the next request to leave: held while one is
    # under way (for its whole deadline), an interval after its answer.
    free_at = models.DateTimeField(default=timezone.now)
    # Consecutive "rate limited" answers, for exponential backoff.
    rate_limited_streak = models.PositiveIntegerField(default=0)
    paused = models.BooleanField(default=False)
    paused_reason = models.TextField(blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    # The status-list endpoint has its own, faster limit (5 per second).
    list_next_allowed_at = models.DateTimeField(default=timezone.now)
    # The last status poll's failure (an error, or an answer of an unknown
    # shape), until a poll succeeds: shown by /healthz, never read as "no videos".
    poll_problem = models.TextField(blank=True)
    poll_problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "upload gate"

    def __str__(self):
        state = "Paused" if self.paused else "Sending"
        return f"{self.account}: {state}" if self.account_id else state

    @classmethod
    def get(cls, account=None):
        account_id = account if isinstance(account, int) else _account(account).pk
        gate = cls.objects.filter(account_id=account_id).first()
        if gate is None:
            # Open now by the database's clock, not by the clock of the host that
            # happens to create the row first.
            cls.objects.get_or_create(
                account_id=account_id,
                defaults={
                    "next_allowed_at": Now(),
                    "free_at": Now(),
                    "list_next_allowed_at": Now(),
                },
            )
            gate = cls.objects.get(account_id=account_id)
        return gate

    # Requests are spaced from the previous one's *answer* (memories.ai counts a
    # request somewhere between its departure and its answer), which already
    # covers jitter between leaving here and arriving there; the 0.1% is for
    # clock resolution. (Spacing from departures needed 1% and still met a 0429
    # under load.)
    SAFETY_MARGIN = 1.001

    @classmethod
    def interval(cls, account=None):
        per_minute = _account(account).per_minute()
        return timedelta(seconds=60.0 / per_minute * cls.SAFETY_MARGIN)

    @classmethod
    def of(cls, account=None):
        """The account's gate as the account was read with it (select_related("gate")),
        else as it is now (made on first use)."""
        if isinstance(account, MemoriesAccount):
            cached = account._state.fields_cache.get("gate")
            if cached is not None:
                return cached
        return cls.get(account)

    @classmethod
    def _row(cls, account=None):
        """The account's row, created on first use, as a queryset to update."""
        return cls.objects.filter(pk=cls.of(account).pk)

    @classmethod
    def _take(cls, field, interval, account=None, **conditions):
        """Take a slot when `field` has passed: move it one interval on, or say when it opens.

        Whoever changes the row got the slot; the others get the time to come
        back (on this host's clock). The database's clock decides, so a host
        whose clock runs fast cannot take a slot early.
        """
        row = cls._row(account)
        if row.filter(**{f"{field}__lte": Now()}, **conditions).update(**{field: Now() + interval}):
            return None
        opens_at, now = row.annotate(now=Now()).values_list(field, "now").get()
        return timezone.now() + max(opens_at - now, timedelta(0))

    @classmethod
    def account_free_at(cls, account=None):
        """When the account is free for the next request to leave, on this host's clock."""
        return local_time(cls._row(account).values_list("free_at", flat=True).get())

    @classmethod
    def next_slot_at(cls, account=None):
        """When the account's next upload slot opens, on this host's clock."""
        row = cls._row(account).annotate(opens=Greatest("next_allowed_at", "free_at"))
        return local_time(row.values_list("opens", flat=True).get())

    @classmethod
    def take_slot(cls, account=None, early=timedelta(0)):
        """Take the account's next upload slot, up to `early` before it opens.

        Returns (True, when the request may leave) or (False, when to come back),
        both on this host's clock. The slot decides which worker goes next (it
        may claim and prepare while the slot opens); `reserve_departure`
        decides, as the request leaves, that it may.
        """
        account = _account(account)
        row, interval = cls._row(account), cls.interval(account)
        horizon = Now() + early
        taken = row.filter(next_allowed_at__lte=horizon, free_at__lte=horizon, paused=False).update(
            next_allowed_at=Greatest("next_allowed_at", Now()) + interval
        )
        opens = Greatest("next_allowed_at", "free_at")
        if taken:  # it leaves at the slot it took, one interval before the next
            opens = Greatest(F("next_allowed_at") - interval, "free_at")
        opens_at, now = row.annotate(opens=opens, now=Now()).values_list("opens", "now").get()
        return bool(taken), timezone.now() + max(opens_at - now, timedelta(0))

    @classmethod
    def take_list_slot(cls, account=None):
        """Like take_slot, for list_videos requests: None, or when the next slot opens."""
        # Spaced from departures: the 1% absorbs jitter between leaving and arriving.
        interval = timedelta(seconds=1.01 / settings.MEMORIES_LIST_PER_SECOND)
        return cls._take("list_next_allowed_at", interval, account)

    @classmethod
    def reserve_departure(cls, deadline_seconds, account=None):
        """As a request is about to leave: True if it may, now.

        Only when no other request of the account is under way or answered less
        than an interval ago: a worker that took its slot and then stalled finds
        the account busy and does not send. Until the answer comes, the account
        is held for the request's whole deadline, plus the interval.
        """
        account = _account(account)
        interval = cls.interval(account)
        held = timedelta(seconds=deadline_seconds) + interval
        return bool(
            cls._row(account)
            .filter(free_at__lte=Now(), paused=False)
            .update(
                free_at=Now() + held,
                next_allowed_at=Greatest(F("next_allowed_at"), Now() + interval),
            )
        )

    @classmethod
    def answered(cls, account=None):
        """The request's answer is in (or it failed): the next may leave an interval from now.

        memories.ai counts a request somewhere between its departure and its
        answer, so spacing from the answer keeps requests an interval apart
        however slowly this one went.
        """
        account = _account(account)
        interval = cls.interval(account)
        cls._row(account).update(
            free_at=Now() + interval,
            next_allowed_at=Greatest(F("next_allowed_at"), Now() + interval),
        )

    @classmethod
    def push_back(cls, delay, account=None):
        """After a rate-limit answer: no slot before `delay` from now, nor the planned one."""
        cls._row(account).update(
            next_allowed_at=Greatest(F("next_allowed_at"), Now() + delay),
            free_at=Greatest(F("free_at"), Now() + delay),
            rate_limited_streak=F("rate_limited_streak") + 1,
        )

    @classmethod
    def reset_streak(cls, account=None):
        cls._row(account).filter(rate_limited_streak__gt=0).update(rate_limited_streak=0)

    @classmethod
    def pause(cls, reason, account=None):
        """Stop this account's sending (its teams only) with the reason; the people to tell
        are emailed once per pause (an episode: from the pause to its resumption), by the
        receivers of `signals.sending_paused` (AppConfig.ready), in this transaction."""
        account = _account(account)
        with transaction.atomic():
            row = cls._row(account)
            # The conditional update decides which call starts the episode.
            began = row.filter(paused=False).update(
                paused=True, paused_reason=reason, paused_at=timezone.now()
            )
            if not began:
                row.update(paused_reason=reason)
                return
            signals.sending_paused.send(cls, reason=reason, account=account)

    @classmethod
    def resume(cls, account=None):
        with transaction.atomic():
            cls._row(account).update(paused=False, paused_reason="", paused_at=None)
