"""The database keeps each person's waiting count (Lane) and status tallies (Tally) itself.

The triggers were made here by code of the app (and put back after every `migrate`);
they are now made by 0029_counting_triggers_in_migrations, in SQL of its own. No
migration between the two writes a submission, so nothing is left uncounted.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("uploads", "0012_fairness")]

    operations = []
