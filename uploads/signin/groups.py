"""A person's memberships brought in line with the groups claim, at each sign-in.

Each group the portal knows (GroupMapping) gives a role in a team; several groups that
name the same team give the strongest of their roles. Memberships made from the groups
are added, changed and removed to match; memberships made by hand are left alone unless
OIDC_GROUPS_ARE_AUTHORITATIVE says the directory owns every membership. Each change is
written to the admin's history (LogEntry), with the group that caused it.
"""

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from ..models import GroupMapping, Membership

STRENGTH = {Membership.Role.VIEWER: 0, Membership.Role.MEMBER: 1, Membership.Role.MANAGER: 2}


def groups_in(claims):
    """The groups claim's values (a list, or one string), from the ID token or userinfo."""
    name = settings.OIDC_GROUPS_CLAIM
    for source in (claims.get("id_token") or {}, claims.get("userinfo") or {}):
        value = source.get(name)
        if isinstance(value, str):
            return [value]
        if isinstance(value, list):
            return [str(item) for item in value]
    return []


def wanted_roles(groups):
    """{team_id: (role, group)}: what the groups give, the strongest role per team."""
    wanted = {}
    for mapping in GroupMapping.objects.filter(group__in=groups):
        held = wanted.get(mapping.team_id)
        if held is None or STRENGTH[mapping.role] > STRENGTH[held[0]]:
            wanted[mapping.team_id] = (mapping.role, mapping.group)
    return wanted


def sync(user, groups, *, authoritative=None):
    """Add, change and remove the user's memberships to match `groups`; returns the
    changes as text. Locks the user's membership rows (by team) for the whole change."""
    if authoritative is None:
        authoritative = settings.OIDC_GROUPS_ARE_AUTHORITATIVE
    wanted = wanted_roles(groups)
    changes = []
    with transaction.atomic():
        current = {
            m.team_id: m
            # Only the membership rows: no join, which would lock the teams too.
            for m in Membership.objects.select_for_update().filter(user=user).order_by("team_id")
        }
        for team_id, (role, group) in sorted(wanted.items()):
            membership = current.get(team_id)
            if membership is None:
                membership = Membership.objects.create(
                    user=user, team_id=team_id, role=role, source=Membership.Source.GROUPS
                )
                changes.append(
                    _log(user, membership, ADDITION, f"added as {role} (group “{group}”)")
                )
            elif _owned_by_groups(membership, authoritative) and (
                membership.role != role or membership.source != Membership.Source.GROUPS
            ):
                was = membership.role
                membership.role, membership.source = role, Membership.Source.GROUPS
                membership.save(update_fields=["role", "source"])
                changes.append(_log(user, membership, CHANGE, f"{was} → {role} (group “{group}”)"))
        for team_id, membership in current.items():
            if team_id in wanted:
                continue
            if _owned_by_groups(membership, authoritative):
                changes.append(
                    _log(user, membership, DELETION, "removed: no group of theirs gives it")
                )
                membership.delete()
    return changes


def _owned_by_groups(membership, authoritative):
    """Whether the groups decide this membership: made from them, or all of them are."""
    return membership.source == Membership.Source.GROUPS or authoritative


def _log(user, membership, flag, what):
    message = f"From the identity provider's groups at sign-in: {what}."
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(Membership),
        object_id=str(membership.pk),
        object_repr=str(membership)[:200],
        action_flag=flag,
        change_message=message,
    )
    return f"{membership.team}: {what}"
