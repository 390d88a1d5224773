"""The cache table (settings.CACHES) that holds the callback's abuse counts.

Created here so that `migrate` is all a deployment (and the test database)
needs. It follows the current CACHES setting; `createcachetable` does nothing
for tables that exist.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("uploads", "0004_dashboard_indexes")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
