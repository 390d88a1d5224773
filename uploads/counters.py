"""What the database keeps itself: each person's waiting submissions in a team (Lane),
each person's submissions by status in a team (Tally), and every submission's
tags in lower case, one row each (Tag).

Triggers on the submissions table keep them, whatever writes a row: the
portal's one status writer, a bulk insert, the admin, a test's direct UPDATE.
So the queue's places and the dashboards' counts read a few rows per person,
never the whole queue or the whole history, and the tag filter reads an index.

The triggers are made by a migration, in SQL of their own for SQLite and for
PostgreSQL (uploads/migrations/0029_counting_triggers_in_migrations.py). SQLite drops a
table's triggers when a migration rebuilds the table: a later migration that rebuilds
the submissions table must make them again. Here: `drift`, which compares every kept
count with the submissions themselves, and `recount`, which counts everything again.

The triggers take a submission's lane (when it enters or leaves the queue) and its
tallies at the status write: a path that also needs the team, the lane or the quota
row takes them before that write, in the one lock order of uploads/locks.py.
"""

# Only this module's own constant table names are put into the SQL text: no values.
# ruff: noqa: S608

from django.db import connection as default_connection

SUBMISSIONS, LANES, TALLIES, TAGS = (
    "uploads_submission",
    "uploads_lane",
    "uploads_tally",
    "uploads_tag",
)

# Counting everything again: the lanes keep their turns, the tallies are rebuilt.
RECOUNT = (
    f"UPDATE {LANES} SET waiting = 0, fronted = 0",
    f"""INSERT INTO {LANES} (team_id, submitter_id, waiting, fronted)
    SELECT team_id, submitter_id,
           SUM(CASE WHEN fronted_at IS NULL THEN 1 ELSE 0 END),
           SUM(CASE WHEN fronted_at IS NULL THEN 0 ELSE 1 END)
    FROM {SUBMISSIONS} WHERE status = 'queued' GROUP BY team_id, submitter_id
    ON CONFLICT (team_id, submitter_id) DO UPDATE
    SET waiting = EXCLUDED.waiting, fronted = EXCLUDED.fronted""",
    f"DELETE FROM {TALLIES}",
    f"""INSERT INTO {TALLIES} (team_id, submitter_id, status, n)
    SELECT team_id, submitter_id, status, COUNT(*) FROM {SUBMISSIONS}
    WHERE true GROUP BY team_id, submitter_id, status""",
    f"DELETE FROM {TAGS}",
)
RETAG = {
    "sqlite": f"""INSERT INTO {TAGS} (submission_id, name)
    SELECT s.id, lower(tag.value) FROM {SUBMISSIONS} AS s, json_each(s.tags) AS tag
    WHERE tag.type = 'text' ON CONFLICT DO NOTHING""",
    "postgresql": f"""INSERT INTO {TAGS} (submission_id, name)
    SELECT s.id, lower(tag) FROM {SUBMISSIONS} AS s CROSS JOIN LATERAL
      jsonb_array_elements_text(CASE WHEN jsonb_typeof(s.tags) = 'array'
                                     THEN s.tags ELSE '[]'::jsonb END) AS tag
    ON CONFLICT DO NOTHING""",
}


def recount(connection=default_connection):
    """Count every lane, tally and tag row again from the submissions (a repair: the
    triggers keep them right as they are written)."""
    with connection.cursor() as cursor:
        for statement in (*RECOUNT, RETAG[connection.vendor]):
            cursor.execute(statement)


def drift():
    """Every count the database keeps (lanes, tallies, tag rows, the quota's units used)
    against a COUNT(*) of the submissions themselves: the differences, [] when none.

    A check (for tests, benchmarks and a curious operator), not a repair: `recount`
    counts everything again. It reads whole tables."""
    from collections import Counter

    from django.db.models import Count

    from .models import Lane, QuotaMonth, Status, Submission, Tag, Tally

    found = []
    queued = Counter(
        (team, person, fronted is not None)
        for team, person, fronted in Submission.objects.filter(status=Status.QUEUED).values_list(
            "team_id", "submitter_id", "fronted_at"
        )
    )
    for lane in Lane.objects.all():
        key = lane.team_id, lane.submitter_id
        truth = queued[(*key, False)], queued[(*key, True)]
        if (lane.waiting, lane.fronted) != truth:
            found.append(
                f"lane {key}: (waiting, fronted) {(lane.waiting, lane.fronted)} != {truth}"
            )
    lanes = set(Lane.objects.values_list("team_id", "submitter_id"))
    found += [f"no lane for {key[:2]}" for key in queued if key[:2] not in lanes]
    by_status = Submission.objects.values_list("team_id", "submitter_id", "status")
    truth = Counter({key[:3]: key[3] for key in by_status.annotate(n=Count("id")).order_by()})
    kept = {(t.team_id, t.submitter_id, t.status): t.n for t in Tally.objects.exclude(n=0)}
    if kept != dict(truth):
        found.append(f"tallies {kept} != {dict(truth)}")
    tags = {
        (pk, tag.lower())
        for pk, names in Submission.objects.values_list("pk", "tags")
        for tag in (names if isinstance(names, list) else [])
        if isinstance(tag, str)
    }
    if set(Tag.objects.values_list("submission_id", "name")) != tags:
        found.append("the tag rows differ from the submissions' tags")
    counted = Submission.objects.exclude(counted_in=None).values_list("team_id", "counted_in")
    truth = Counter({key[:2]: key[2] for key in counted.annotate(n=Count("id")).order_by()})
    used = {(q.team_id, q.month): q.used for q in QuotaMonth.objects.exclude(used=0)}
    if used != dict(truth):
        found.append(f"quota units used {used} != counted {dict(truth)}")
    return found
