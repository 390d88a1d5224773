import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    # Apart from 0027: PostgreSQL refuses to alter a table whose rows the same
    # transaction has just updated (pending foreign-key checks).
    dependencies = [
        ("uploads", "0027_memories_accounts"),
    ]

    operations = [
        migrations.AlterField(
            model_name="team",
            name="account",
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name="teams", to="uploads.memoriesaccount", verbose_name="memories.ai account"),
        ),
    ]
