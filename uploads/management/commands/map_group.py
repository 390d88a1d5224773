from django.core.management.base import BaseCommand, CommandError

from uploads.models import GroupMapping, Membership, Team


class Command(BaseCommand):
    help = (
        "Give the members of an identity provider's group a role in a team (docs/sign-in.md); "
        "takes effect at each person's next sign-in."
    )

    def add_arguments(self, parser):
        parser.add_argument("group", help="a value of the groups claim, as the provider sends it")
        parser.add_argument("--team", required=True, metavar="SLUG")
        parser.add_argument("--role", required=True, choices=Membership.Role.values)
        parser.add_argument(
            "--remove", action="store_true", help="forget this group's mapping to the team"
        )

    def handle(self, group, team, role, remove, **options):
        found = Team.objects.filter(slug=team).first()
        if found is None:
            known = ", ".join(Team.objects.values_list("slug", flat=True)) or "none yet"
            raise CommandError(f"No team with the slug “{team}” (teams: {known}).")
        if remove:
            deleted, _ = GroupMapping.objects.filter(group=group, team=found).delete()
            self.stdout.write(
                f"“{group}” no longer gives a role in {found.name}."
                if deleted
                else f"“{group}” gave no role in {found.name}: nothing to remove."
            )
            return
        mapping, created = GroupMapping.objects.update_or_create(
            group=group, team=found, defaults={"role": role}
        )
        verb = "now gives" if created else "gives"
        self.stdout.write(f"“{group}” {verb} {mapping.get_role_display()} in {found.name}.")
