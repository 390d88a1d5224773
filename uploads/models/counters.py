"""The counter tables: each person's lane in a team's line, the tallies the dashboards read,
tags, and each team's monthly quota. The database's triggers keep lanes and tallies
(uploads/counters.py)."""

from django.conf import settings
from django.db import models

from .teams import Team


class Lane(models.Model):
    """One person's line in one team: how many of theirs wait, and when their turn last came.

    The counts are kept by the database itself (triggers on the submissions
    table, `uploads/counters.py`), whatever writes a submission: places in the
    queue are computed from these few rows, never by counting the queue.
    `last_turn` is the team's turn number at this person's last send: within a
    team, turns go round its people, the one served longest ago first.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="lanes")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lanes"
    )
    # Waiting in this person's own turns, and waiting moved to the team's front.
    waiting = models.IntegerField(default=0)
    fronted = models.IntegerField(default=0)
    last_turn = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "submitter"], name="one_lane_per_person")
        ]

    def __str__(self):
        return f"{self.submitter_id} in {self.team_id}: {self.waiting} waiting"

    @property
    def queued(self):
        return self.waiting + self.fronted


class Tally(models.Model):
    """How many submissions of one person in one team have each status.

    Kept by the database (triggers, `uploads/counters.py`) like the lanes'
    counts: the dashboards' counts by status and per member read these few
    rows, whatever the length of the history.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    submitter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "submitter", "status"], name="one_tally_per_status"
            )
        ]

    def __str__(self):
        return f"{self.submitter_id} in {self.team_id}: {self.n} {self.status}"


class Tag(models.Model):
    """One tag of one submission, in lower case: the list's tag filter reads these.

    Kept by the database from `Submission.tags` (triggers, uploads/counters.py).
    """

    submission = models.ForeignKey("Submission", on_delete=models.CASCADE, related_name="+")
    name = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["submission", "name"], name="one_tag_per_name")
        ]

    def __str__(self):
        return self.name


class QuotaMonth(models.Model):
    """A team's uploads counted in one month (the portal's time zone): the quota's counter.

    Taken under its row lock (`uploads/sending/admission.py`), so two submissions
    at once cannot both take the last unit.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="quota_months")
    month = models.DateField(help_text="The month's first day.")
    used = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "month"], name="one_quota_row_per_month")
        ]

    def __str__(self):
        return f"{self.team_id} {self.month:%Y-%m}: {self.used}"
