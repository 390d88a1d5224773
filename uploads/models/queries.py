"""The database's clock, SQL the ORM lacks, and the row locks taken in uploads/locks.py's
order."""

from datetime import UTC, datetime

from django.db import connection
from django.db.models import FloatField, Func, Q
from django.utils import timezone

from .. import locks
from .counters import Lane
from .teams import Team


def database_now():
    """The database's clock: the same for every process, whatever host it runs on."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT STATEMENT_TIMESTAMP()")
            return cursor.fetchone()[0]
        cursor.execute("SELECT STRFTIME('%Y-%m-%d %H:%M:%f', 'NOW')")
        value = datetime.fromisoformat(cursor.fetchone()[0])
    return value.replace(tzinfo=UTC)


def local_time(database_moment):
    """A database-clock time as this host's clock reads it (for scheduling here)."""
    if database_moment is None:
        return None
    return timezone.now() + (database_moment - database_now())


class SecondsBetween(Func):
    """Seconds from one datetime column to another, as a float, in SQL.

    Django's own `F(end) - F(start)` runs a Python function per row on SQLite;
    julianday() is SQLite's built-in and keeps the sort inside the database.
    """

    output_field = FloatField()

    def __init__(self, start, end):
        super().__init__(start, end)

    def _compiled(self, compiler):
        start, start_params = compiler.compile(self.source_expressions[0])
        end, end_params = compiler.compile(self.source_expressions[1])
        return start, end, (*end_params, *start_params)

    def as_sql(self, compiler, connection, **extra_context):
        start, end, params = self._compiled(compiler)
        return f"EXTRACT(EPOCH FROM ({end} - {start}))", params

    def as_sqlite(self, compiler, connection, **extra_context):
        start, end, params = self._compiled(compiler)
        return f"((julianday({end}) - julianday({start})) * 86400.0)", params


def seconds_to_finish():
    """A submission's time from creation to its end, as the duration indexes hold it."""
    return SecondsBetween("created_at", "finished_at")


def ids_of_each(*slices):
    """The ids that each of these sliced querysets selects, in one query.

    Each is read as it is (an index range in its order, up to its limit): a
    UNION ALL of them as subqueries. (An OR of `pk__in` subqueries can lead a
    planner to scan a whole table in the outer query's order instead.)
    """
    parts, params = [], []
    for i, queryset in enumerate(slices):
        sql, part_params = queryset.values_list("pk", flat=True).query.sql_with_params()
        parts.append(f"SELECT * FROM ({sql}) AS part{i}")  # noqa: S608 (Django's own SQL)
        params.extend(part_params)
    if not parts:
        return []
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        return [row[0] for row in cursor.fetchall()]


def lock_team(team_id):
    """The team's row, locked (in the order of uploads/locks.py)."""
    team = Team.objects.select_for_update(no_key=True).get(pk=team_id)
    locks.took("team", team_id, team_id)
    return team


def lock_lanes(pairs):
    """The lanes of these (team id, person id), locked by (team, person) (uploads/locks.py)."""
    pairs = sorted(set(pairs))
    if not pairs:
        return []
    wanted = Q()
    for team_id, submitter_id in pairs:
        wanted |= Q(team_id=team_id, submitter_id=submitter_id)
    lanes = list(
        Lane.objects.select_for_update(no_key=True)
        .filter(wanted)
        .order_by("team_id", "submitter_id")
    )
    for team_id, submitter_id in pairs:
        locks.took("lane", team_id, (team_id, submitter_id))
    return lanes


def lock_lane(team_id, submitter_id):
    return lock_lanes([(team_id, submitter_id)])
