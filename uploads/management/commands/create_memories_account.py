from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from uploads.models import MemoriesAccount, UploadGate, hint


class Command(BaseCommand):
    help = (
        "Create a memories.ai account (or update an existing one's key, address and rate). "
        "The key is read from a file, never from the command line, where other users and "
        "the shell's history would see it."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--key-file", required=True, metavar="PATH")
        parser.add_argument("--second-key-file", metavar="PATH", help="for rotation")
        parser.add_argument("--api-base-url", default="", metavar="URL")
        parser.add_argument("--uploads-per-minute", type=float, metavar="N")

    @transaction.atomic
    def handle(self, name, key_file, second_key_file, api_base_url, uploads_per_minute, **_):
        account = MemoriesAccount.objects.filter(name=name).first() or MemoriesAccount(name=name)
        created = account.pk is None
        account.api_key = read_key(key_file)
        if second_key_file:
            account.second_api_key = read_key(second_key_file)
        if api_base_url or created:
            account.api_base_url = api_base_url
        if uploads_per_minute is not None:
            account.uploads_per_minute = uploads_per_minute
        try:
            account.full_clean()
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        account.save()
        UploadGate.get(account)
        self.stdout.write(
            f"{'Created' if created else 'Updated'} the memories.ai account “{account}” "
            f"(key {hint(account.api_key)}, {account.per_minute():g} uploads a minute, "
            f"{account.base_url()})."
        )


def read_key(path):
    """The key in the file, without surrounding whitespace (files end with a newline)."""
    try:
        key = Path(path).read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(
            f"The key file {path} cannot be read ({exc.__class__.__name__})."
        ) from None
    if not key:
        raise CommandError(f"The key file {path} is empty.")
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise CommandError(
            f"The key file {path} holds characters a key cannot have (spaces inside, line "
            "breaks, non-ASCII)."
        )
    return key
