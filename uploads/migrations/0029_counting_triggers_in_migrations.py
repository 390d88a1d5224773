"""The triggers with which the database keeps each person's waiting count (Lane), the
status tallies (Tally) and the tag rows (Tag), whatever writes a submission (see
uploads/counters.py for what they keep and why), made here in SQL of their own.

They were made by 0013 through code of the app and put back after every `migrate` when a
table rebuild (SQLite) had dropped them; now a migration makes them, in SQL frozen here,
as they stand since this migration. Existing databases have them, with counts that are
right: they are made again (dropped first), and nothing is counted again.

A later migration that rebuilds uploads_submission on SQLite (most changes of a column
there do) drops them: it must make them again, as this one does (the counters' tests fail
on a fresh database otherwise).
"""

from django.db import migrations

# SQLite: four triggers, one a kind of write (the tags' own for an UPDATE of tags).
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS uploads_keep_counts_insert",
    "DROP TRIGGER IF EXISTS uploads_keep_counts_update",
    "DROP TRIGGER IF EXISTS uploads_keep_tags_update",
    "DROP TRIGGER IF EXISTS uploads_keep_counts_delete",
]

SQLITE_CREATE = [
    """
CREATE TRIGGER uploads_keep_counts_insert AFTER INSERT ON uploads_submission
BEGIN
  INSERT INTO uploads_lane (team_id, submitter_id, waiting, fronted)
    SELECT NEW.team_id, NEW.submitter_id, NEW.fronted_at IS NULL, NEW.fronted_at IS NOT NULL
    WHERE NEW.status = 'queued'
    ON CONFLICT (team_id, submitter_id) DO UPDATE
    SET waiting = waiting + excluded.waiting, fronted = fronted + excluded.fronted;
  INSERT INTO uploads_tally (team_id, submitter_id, status, n)
    VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
    ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = n + 1;
  INSERT INTO uploads_tag (submission_id, name)
    SELECT NEW.id, lower(tag.value) FROM json_each(NEW.tags) AS tag WHERE tag.type = 'text'
    ON CONFLICT DO NOTHING;
END
""",
    """
CREATE TRIGGER uploads_keep_counts_update
AFTER UPDATE OF status, fronted_at, team_id, submitter_id ON uploads_submission
WHEN OLD.status IS NOT NEW.status OR OLD.fronted_at IS NOT NEW.fronted_at
  OR OLD.team_id IS NOT NEW.team_id OR OLD.submitter_id IS NOT NEW.submitter_id
BEGIN
  UPDATE uploads_lane SET waiting = waiting - (OLD.fronted_at IS NULL),
    fronted = fronted - (OLD.fronted_at IS NOT NULL)
    WHERE OLD.status = 'queued' AND team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  INSERT INTO uploads_lane (team_id, submitter_id, waiting, fronted)
    SELECT NEW.team_id, NEW.submitter_id, NEW.fronted_at IS NULL, NEW.fronted_at IS NOT NULL
    WHERE NEW.status = 'queued'
    ON CONFLICT (team_id, submitter_id) DO UPDATE
    SET waiting = waiting + excluded.waiting, fronted = fronted + excluded.fronted;
  UPDATE uploads_tally SET n = n - 1
    WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
  INSERT INTO uploads_tally (team_id, submitter_id, status, n)
    VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
    ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = n + 1;
END
""",
    """
CREATE TRIGGER uploads_keep_tags_update AFTER UPDATE OF tags ON uploads_submission
WHEN OLD.tags IS NOT NEW.tags
BEGIN
  DELETE FROM uploads_tag WHERE submission_id = OLD.id;
  INSERT INTO uploads_tag (submission_id, name)
    SELECT NEW.id, lower(tag.value) FROM json_each(NEW.tags) AS tag WHERE tag.type = 'text'
    ON CONFLICT DO NOTHING;
END
""",
    """
CREATE TRIGGER uploads_keep_counts_delete AFTER DELETE ON uploads_submission
BEGIN
  DELETE FROM uploads_tag WHERE submission_id = OLD.id;
  UPDATE uploads_lane SET waiting = waiting - (OLD.fronted_at IS NULL),
    fronted = fronted - (OLD.fronted_at IS NOT NULL)
    WHERE OLD.status = 'queued' AND team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  UPDATE uploads_tally SET n = n - 1
    WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
END
""",
]

# PostgreSQL: two functions (counts, tags), a trigger each.
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS uploads_keep_counts ON uploads_submission",
    "DROP TRIGGER IF EXISTS uploads_keep_tags ON uploads_submission",
    "DROP FUNCTION IF EXISTS uploads_keep_counts()",
    "DROP FUNCTION IF EXISTS uploads_keep_tags()",
]

POSTGRES_CREATE = [
    """
CREATE OR REPLACE FUNCTION uploads_keep_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.status IS NOT DISTINCT FROM NEW.status
     AND OLD.fronted_at IS NOT DISTINCT FROM NEW.fronted_at
     AND OLD.team_id = NEW.team_id AND OLD.submitter_id = NEW.submitter_id THEN
    RETURN NULL;
  END IF;
  -- The lane first, then the tallies (the lock order of uploads/locks.py).
  IF TG_OP <> 'INSERT' AND OLD.status = 'queued' THEN
    UPDATE uploads_lane
      SET waiting = waiting - (CASE WHEN OLD.fronted_at IS NULL THEN 1 ELSE 0 END),
      fronted = fronted - (CASE WHEN OLD.fronted_at IS NULL THEN 0 ELSE 1 END)
      WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status = 'queued' THEN
    INSERT INTO uploads_lane (team_id, submitter_id, waiting, fronted)
      VALUES (NEW.team_id, NEW.submitter_id,
              CASE WHEN NEW.fronted_at IS NULL THEN 1 ELSE 0 END,
              CASE WHEN NEW.fronted_at IS NULL THEN 0 ELSE 1 END)
      ON CONFLICT (team_id, submitter_id) DO UPDATE
      SET waiting = uploads_lane.waiting + EXCLUDED.waiting,
          fronted = uploads_lane.fronted + EXCLUDED.fronted;
  END IF;
  IF TG_OP = 'UPDATE' AND OLD.team_id = NEW.team_id AND OLD.submitter_id = NEW.submitter_id THEN
    IF OLD.status IS DISTINCT FROM NEW.status THEN
      INSERT INTO uploads_tally (team_id, submitter_id, status, n)
        VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 0) ON CONFLICT DO NOTHING;
      -- One statement for both tallies, in the unique index's order: two changes of
      -- the same person's tallies lock their rows in the same order (no deadlock).
      UPDATE uploads_tally SET n = n + CASE WHEN status = NEW.status THEN 1 ELSE -1 END
        WHERE team_id = NEW.team_id AND submitter_id = NEW.submitter_id
          AND status IN (OLD.status, NEW.status);
    END IF;
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    UPDATE uploads_tally SET n = n - 1
      WHERE team_id = OLD.team_id AND submitter_id = OLD.submitter_id AND status = OLD.status;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO uploads_tally (team_id, submitter_id, status, n)
      VALUES (NEW.team_id, NEW.submitter_id, NEW.status, 1)
      ON CONFLICT (team_id, submitter_id, status) DO UPDATE SET n = uploads_tally.n + 1;
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE OR REPLACE FUNCTION uploads_keep_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND OLD.tags IS NOT DISTINCT FROM NEW.tags THEN
    RETURN NULL;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    DELETE FROM uploads_tag WHERE submission_id = OLD.id;
  END IF;
  IF TG_OP <> 'DELETE' AND jsonb_typeof(NEW.tags) = 'array' THEN
    INSERT INTO uploads_tag (submission_id, name)
      SELECT NEW.id, lower(tag) FROM jsonb_array_elements_text(NEW.tags) AS tag
      ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END $$
""",
    """
CREATE TRIGGER uploads_keep_counts
AFTER INSERT OR DELETE OR UPDATE OF status, fronted_at, team_id, submitter_id ON uploads_submission
FOR EACH ROW EXECUTE FUNCTION uploads_keep_counts()
""",
    """
CREATE TRIGGER uploads_keep_tags
AFTER INSERT OR DELETE OR UPDATE OF tags ON uploads_submission
FOR EACH ROW EXECUTE FUNCTION uploads_keep_tags()
""",
]


class RunSQLOn(migrations.RunSQL):
    """RunSQL on one database vendor alone (the other's statements are its own)."""

    def __init__(self, vendor, sql, reverse_sql):
        super().__init__(sql, reverse_sql, elidable=False)
        self.vendor = vendor

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("uploads", "0028_viewer_and_group_mappings")]

    operations = [
        # Going back leaves them in place: the code of before kept them too.
        RunSQLOn("sqlite", SQLITE_DROP + SQLITE_CREATE, migrations.RunSQL.noop),
        RunSQLOn("postgresql", POSTGRES_DROP + POSTGRES_CREATE, migrations.RunSQL.noop),
    ]
