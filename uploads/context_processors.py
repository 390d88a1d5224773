from django.conf import settings

from .models import UploadGate


def portal(request):
    """What every page needs: the sandbox banner and the user's teams for the navigation."""
    teams, paused_reason = [], ""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        teams = list(user.teams.filter(is_active=True).order_by("name").values("name", "slug"))
        if user.is_staff:
            gate = UploadGate.objects.filter(pk=1, paused=True).first()
            paused_reason = gate.paused_reason if gate else ""
    return {
        "sending_paused_reason": paused_reason,
        "sandbox_mode": settings.MEMORIES_SANDBOX and not settings.MEMORIES_API_KEY,
        "nav_teams": teams,
    }
