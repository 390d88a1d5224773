"""A submission's and a batch row's `probe` is called what it holds: a `UrlCheck`
(uploads/urlcheck/findings.py). Only the column's name changes."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("uploads", "0029_counting_triggers_in_migrations")]

    operations = [
        migrations.RenameField("submission", "probe", "url_check"),
        migrations.RenameField("batchrow", "probe", "url_check"),
    ]
