"""What the database keeps itself: each person's waiting submissions in a team (Lane),
each person's submissions by status in a team (Tally), and every submission's
tags in lower case, one row each (Tag).

Triggers on the submissions table keep them, whatever writes a row: the
portal's one status writer, a bulk insert, the admin, a test's direct UPDATE.
So the queue's places and the dashboards' counts read a few rows per person,
never the whole queue or the whole history, and the tag filter reads an index.

SQLite drops a table's triggers when a migration rebuilds the table; after
every `migrate` (and test database flush) `ensure` puts them back if they are
missing, and counts everything again.

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
# Only changes of these columns move a count.
WATCHED = "status, fronted_at, team_id, submitter_id"

# One statement for two tallies, in the unique index's order: two changes of
# the same person's tallies lock their rows in the same order (no deadlock).
_TALLY_MOVE = f"""
UPDATE {TALLIES} SET n = n + CASE WHEN status = NEW.status THEN 1 ELSE -1 END
WHERE team_id = NEW.team_id AND submitter_id = NEW.submitter_id
  AND status IN (OLD.status, NEW.status)
"""

_SQLITE_TAGS = f"""
  INSERT INTO {TAGS} (submission_id, name)
    SELECT NEW.id, lower(tag.value) FROM json_each(NEW.tags) AS tag WHERE tag.type = 'text'
    ON CONFLICT DO NOTHING;"""

SQLITE_TRIGGERS = {
    "uploads_keep_counts_insert": f"""
CREATE TRIGGER uploads_keep_counts_insert AFTER INSERT ON {SUBMISSIONS}
BEGIN
  INSERT INTO {LANES} (team_id, submitter_id, waiting, fronted)
    SELECT NEW.team_id, NEW.submitter_id, NEW.fronted_at IS NULL, NEW.fronted_at IS NOT NULL
    WHERE NEW.status = 'queued'
    ON CONFLICT (team_id, submitter_id) DO UPDATE
    SET waiting = waiting + excluded.waiting, fronted = fronted + excluded.fronted;
  INSERT INTO {TALLIES} (team_id, submitter_id, status, n)
    VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
    ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = n + 1;{_SQLITE_TAGS}
END""",
    "uploads_keep_counts_update": f"""
CREATE TRIGGER uploads_keep_counts_update AFTER UPDATE OF {WATCHED} ON {SUBMISSIONS}
WHEN OLD.status IS NOT NEW.status OR OLD.fronted_at IS NOT NEW.fronted_at
  OR OLD.team_id IS NOT NEW.team_id OR OLD.submitter_id IS NOT NEW.submitter_id
BEGIN
  UPDATE {LANES} SET waiting = waiting - (OLD.fronted_at IS NULL),
    fronted = fronted - (OLD.fronted_at IS NOT NULL)
    WHERE OLD.status = 'queued' AND team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  INSERT INTO {LANES} (team_id, submitter_id, waiting, fronted)
    SELECT NEW.team_id, NEW.submitter_id, NEW.fronted_at IS NULL, NEW.fronted_at IS NOT NULL
    WHERE NEW.status = 'queued'
    ON CONFLICT (team_id, submitter_id) DO UPDATE
    SET waiting = waiting + excluded.waiting, fronted = fronted + excluded.fronted;
  UPDATE {TALLIES} SET n = n - 1
    WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
  INSERT INTO {TALLIES} (team_id, submitter_id, status, n)
    VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
    ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = n + 1;
END""",
    "uploads_keep_tags_update": f"""
CREATE TRIGGER uploads_keep_tags_update AFTER UPDATE OF tags ON {SUBMISSIONS}
WHEN OLD.tags IS NOT NEW.tags
BEGIN
  DELETE FROM {TAGS} WHERE submission_id = OLD.id;{_SQLITE_TAGS}
END""",
    "uploads_keep_counts_delete": f"""
CREATE TRIGGER uploads_keep_counts_delete AFTER DELETE ON {SUBMISSIONS}
BEGIN
  DELETE FROM {TAGS} WHERE submission_id = OLD.id;
  UPDATE {LANES} SET waiting = waiting - (OLD.fronted_at IS NULL),
    fronted = fronted - (OLD.fronted_at IS NOT NULL)
    WHERE OLD.status = 'queued' AND team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  UPDATE {TALLIES} SET n = n - 1
    WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
END""",
}

POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION uploads_keep_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
     AND OLD.fronted_at IS NOT DISTINCT FROM NEW.fronted_at
     AND OLD.team_id = NEW.team_id AND OLD.submitter_id = NEW.submitter_id THEN
    RETURN NULL;
  END IF;
  -- The lane first, then the tallies (the lock order of uploads/locks.py).
  IF TG_OP <> 'INSERT' AND OLD.status = 'queued' THEN
    UPDATE {LANES} SET waiting = waiting - (CASE WHEN OLD.fronted_at IS NULL THEN 1 ELSE 0 END),
      fronted = fronted - (CASE WHEN OLD.fronted_at IS NULL THEN 0 ELSE 1 END)
      WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status = 'queued' THEN
    INSERT INTO {LANES} (team_id, submitter_id, waiting, fronted)
      VALUES (NEW.team_id, NEW.submitter_id,
              CASE WHEN NEW.fronted_at IS NULL THEN 1 ELSE 0 END,
              CASE WHEN NEW.fronted_at IS NULL THEN 0 ELSE 1 END)
      ON CONFLICT (team_id, submitter_id) DO UPDATE
      SET waiting = {LANES}.waiting + EXCLUDED.waiting,
          fronted = {LANES}.fronted + EXCLUDED.fronted;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.team_id = NEW.team_id AND OLD.submitter_id = NEW.submitter_id THEN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
      INSERT INTO {TALLIES} (team_id, submitter_id, status, n)
        VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 0) ON CONFLICT DO NOTHING;
      {_TALLY_MOVE};
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    UPDATE {TALLIES} SET n = n - 1
      WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO {TALLIES} (team_id, submitter_id, status, n)
      VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
      ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = {TALLIES}.n + 1;
  END IF;
  RETURN NULL;
END $$"""

POSTGRES_TAGS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION uploads_keep_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.tags IS NOT DISTINCT FROM NEW.tags THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM {TAGS} WHERE submission_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND jsonb_typeof(NEW.tags) = 'array' THEN
    INSERT INTO {TAGS} (submission_id, name)
      SELECT NEW.id, lower(tag) FROM jsonb_array_elements_text(NEW.tags) AS tag
      ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$"""

POSTGRES_TRIGGERS = {
    "uploads_keep_counts": f"""
CREATE TRIGGER uploads_keep_counts
AFTER INSERT OR DELETE OR UPDATE OF {WATCHED} ON {SUBMISSIONS}
FOR EACH ROW EXECUTE FUNCTION uploads_keep_counts()""",
    "uploads_keep_tags": f"""
CREATE TRIGGER uploads_keep_tags
AFTER INSERT OR DELETE OR UPDATE OF tags ON {SUBMISSIONS}
FOR EACH ROW EXECUTE FUNCTION uploads_keep_tags()""",
}

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


def installed(connection=default_connection):
    """True when every trigger is in place."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT COUNT(*) FROM pg_trigger WHERE tgname LIKE 'uploads_keep_%%' "
                "AND tgrelid = %s::regclass",
                [SUBMISSIONS],
            )
            return cursor.fetchone()[0] == len(POSTGRES_TRIGGERS)
        cursor.execute(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
            "AND name LIKE 'uploads_keep_%%'",
            [SUBMISSIONS],
        )
        return cursor.fetchone()[0] == len(SQLITE_TRIGGERS)


def install(connection=default_connection):
    """(Re)create the triggers and count everything again."""
    uninstall(connection)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(POSTGRES_FUNCTION)
            cursor.execute(POSTGRES_TAGS_FUNCTION)
            for sql in POSTGRES_TRIGGERS.values():
                cursor.execute(sql)
        else:
            for sql in SQLITE_TRIGGERS.values():
                cursor.execute(sql)
        for statement in (*RECOUNT, RETAG[connection.vendor]):
            cursor.execute(statement)


def uninstall(connection=default_connection):
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in POSTGRES_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {SUBMISSIONS}")
            cursor.execute("DROP FUNCTION IF EXISTS uploads_keep_counts()")
            cursor.execute("DROP FUNCTION IF EXISTS uploads_keep_tags()")
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "AND name LIKE 'uploads_%%'",
                [SUBMISSIONS],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


def ensure(connection=default_connection):
    """After a migration: put the triggers back if a table rebuild dropped them."""
    tables = set(connection.introspection.table_names())
    if {SUBMISSIONS, LANES, TALLIES, TAGS} <= tables and not installed(connection):
        install(connection)
        return True
    return False


def drift():
    """Every count the database keeps (lanes, tallies, tag rows, the quota's units used)
    against a COUNT(*) of the submissions themselves: the differences, [] when none.

    A check (for tests, benchmarks and a curious operator), not a repair: `install`
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
