from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from uploads.models import Membership, MemoriesAccount, Team


class Command(BaseCommand):
    help = "Create a team (or complete an existing one) and add existing users to it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--unique-id", help="memories.ai scope (default: the team's slug)")
        parser.add_argument("--member", action="append", default=[], metavar="USERNAME")
        parser.add_argument("--manager", action="append", default=[], metavar="USERNAME")
        parser.add_argument(
            "--viewer", action="append", default=[], metavar="USERNAME", help="read only"
        )
        parser.add_argument(
            "--account",
            metavar="NAME",
            help="the memories.ai account it sends through (default: the “default” account)",
        )

    @transaction.atomic
    def handle(self, name, unique_id, member, manager, viewer, account=None, **options):
        users = get_user_model().objects
        chosen = None
        if account is not None:
            chosen = MemoriesAccount.objects.filter(name=account).first()
            if chosen is None:
                names = ", ".join(MemoriesAccount.objects.values_list("name", flat=True))
                raise CommandError(
                    f"No memories.ai account “{account}” (there are: {names or 'none'}). "
                    "Create it with create_memories_account first."
                )
        wanted = [(u, Membership.Role.MEMBER) for u in member]
        wanted += [(u, Membership.Role.MANAGER) for u in manager]
        wanted += [(u, Membership.Role.VIEWER) for u in viewer]
        missing = sorted(
            {u for u, _ in wanted}
            - set(
                users.filter(username__in=[u for u, _ in wanted]).values_list("username", flat=True)
            )
        )
        if missing:
            raise CommandError(f"No such user(s): {', '.join(missing)}. Create them first.")

        team = Team.objects.filter(name=name).first()
        if team is None:
            team = Team(name=name, unique_id=unique_id or "")
            team.account = chosen or MemoriesAccount.default()
            team.full_clean(exclude=["slug", "unique_id"])
            team.save()
            self.stdout.write(f"Created team “{team.name}” (scope {team.unique_id}).")
        elif unique_id and unique_id != team.unique_id:
            team.unique_id = unique_id
            try:
                team.full_clean()
            except Exception as exc:
                raise CommandError(str(exc)) from exc
            team.save()
            self.stdout.write(f"Team “{team.name}” now sends to scope {team.unique_id}.")
        if chosen is not None and team.account_id != chosen.pk:
            team.account = chosen
            team.save(update_fields=["account"])
            self.stdout.write(f"Team “{team.name}” now sends through the account “{chosen}”.")

        for username, role in wanted:
            user = users.get(username=username)
            membership, created = Membership.objects.get_or_create(
                team=team, user=user, defaults={"role": role}
            )
            if created:
                self.stdout.write(f"Added {username} as {membership.get_role_display()}.")
            elif role == Membership.Role.MANAGER and membership.role != role:
                membership.role = role
                membership.save(update_fields=["role"])
                self.stdout.write(f"{username} is now a Manager.")
