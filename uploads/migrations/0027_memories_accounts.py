import django.db.models.deletion
import encrypted_fields.fields
from django.db import migrations, models


def default_account(apps, schema_editor):
    """An existing installation keeps working: one "default" account that follows the
    settings (MEMORIES_API_KEY or the sandbox, MEMORIES_API_BASE_URL,
    MEMORIES_UPLOADS_PER_MINUTE), every team on it, and the one gate made its gate."""
    Account = apps.get_model("uploads", "MemoriesAccount")
    account, _ = Account.objects.get_or_create(
        name="default", defaults={"uploads_per_minute": None}
    )
    apps.get_model("uploads", "Team").objects.filter(account__isnull=True).update(account=account)
    gates = apps.get_model("uploads", "UploadGate").objects
    first = gates.filter(account__isnull=True).order_by("pk").first()
    if first is not None and not gates.filter(account=account).exists():
        gates.filter(pk=first.pk).update(account=account)


class Migration(migrations.Migration):
    dependencies = [
        ("uploads", "0024_process_heartbeats"),
    ]

    operations = [
        migrations.CreateModel(
            name="MemoriesAccount",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=80, unique=True)),
                ("api_base_url", models.CharField(blank=True, help_text="Empty: MEMORIES_API_BASE_URL (https://api.memories.ai unless set otherwise).", max_length=200, verbose_name="API address")),
                ("api_key", encrypted_fields.fields.EncryptedCharField(blank=True, help_text="Empty: MEMORIES_API_KEY.", max_length=400, null=True, verbose_name="API key")),
                ("second_api_key", encrypted_fields.fields.EncryptedCharField(blank=True, help_text="For rotation without downtime: when memories.ai refuses the key (0401), the account moves to this one and goes on sending.", max_length=400, null=True, verbose_name="second API key")),
                ("uploads_per_minute", models.FloatField(blank=True, default=1.0, help_text="How many uploads memories.ai takes from this account a minute. Empty: MEMORIES_UPLOADS_PER_MINUTE.", null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "verbose_name": "memories.ai account",
                "ordering": ["name"],
            },
        ),
        migrations.AddField(
            model_name="team",
            name="account",
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name="teams", to="uploads.memoriesaccount", verbose_name="memories.ai account"),
        ),
        migrations.AddField(
            model_name="uploadgate",
            name="account",
            field=models.OneToOneField(null=True, on_delete=django.db.models.deletion.CASCADE, related_name="gate", to="uploads.memoriesaccount"),
        ),
        migrations.RunPython(default_account, migrations.RunPython.noop),
    ]
