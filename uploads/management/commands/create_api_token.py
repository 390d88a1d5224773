"""A personal access token for a user, from the command line: for service users, the
accounts of pipelines that must outlive any one person."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from uploads.models import ApiToken, Membership, Team


class Command(BaseCommand):
    help = (
        "Make an API token for a user and print it (once). With --service-user the user is "
        "created first: no password (it cannot log in), a member of the --team given."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="What the token is for.")
        parser.add_argument(
            "--scope", action="append", choices=ApiToken.Scope.values, default=[],
            help="read, submit (repeat for both; default: both)",
        )  # fmt: skip
        parser.add_argument(
            "--days", type=int, help="Expires after this many days (default: never)."
        )
        parser.add_argument("--service-user", action="store_true", help="Create the user.")
        parser.add_argument("--team", action="append", default=[], metavar="SLUG",
                            help="Add the user to this team (repeatable).")  # fmt: skip

    @transaction.atomic
    def handle(self, username, name, scope, days, service_user, team, **options):
        users = get_user_model().objects
        if service_user:
            if users.filter(username=username).exists():
                raise CommandError(f"{username} exists already: leave out --service-user.")
            user = users.create_user(username=username, password=None)  # unusable password
            self.stdout.write(f"Created the service user {username} (it cannot log in).")
        else:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"No such user: {username} (--service-user creates one).")
        for slug in team:
            found = Team.objects.filter(slug=slug).first()
            if found is None:
                raise CommandError(f"No such team: {slug}.")
            Membership.objects.get_or_create(team=found, user=user)
            self.stdout.write(f"{username} is a member of {found.name}.")
        if days is not None and days < 1:
            raise CommandError("--days must be at least 1.")
        expires = timezone.now() + timedelta(days=days) if days else None
        scopes = scope or ApiToken.Scope.values
        _, secret = ApiToken.issue(user, name=name, scopes=scopes, expires_at=expires)
        self.stdout.write(f"Token “{name}” ({', '.join(sorted(scopes))}); shown only now:")
        self.stdout.write(secret)
