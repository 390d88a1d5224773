from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from uploads.models import Membership, Team


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

    @transaction.atomic
    def handle(self, name, unique_id, member, manager, viewer, **options):
        users = get_user_model().objects
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
