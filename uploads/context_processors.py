from django.conf import settings


def portal(request):
    """What every page needs: the sandbox banner and the user's teams for the navigation."""
    teams = []
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        teams = list(user.teams.filter(is_active=True).order_by("name").values("name", "slug"))
    return {
        "sandbox_mode": settings.MEMORIES_SANDBOX and not settings.MEMORIES_API_KEY,
        "nav_teams": teams,
    }
