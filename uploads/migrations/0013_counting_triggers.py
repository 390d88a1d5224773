"""The database keeps each person's waiting count (Lane) and status tallies (Tally) itself."""

from django.db import migrations


def install(apps, schema_editor):
    from uploads import counters

    counters.install(schema_editor.connection)


def uninstall(apps, schema_editor):
    from uploads import counters

    counters.uninstall(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("uploads", "0012_fairness")]

    operations = [migrations.RunPython(install, uninstall)]
