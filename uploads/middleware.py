"""Each person's pages in their own time zone."""

from django.utils import timezone

from .models import PersonSettings


class PersonTimeZoneMiddleware:
    """Activates the person's time zone for the request (one query, for logged-in people
    only), so that every time shown or typed, the list's dates, the chart's days and the
    CSV are in it. `request.zone` keeps it for code that runs after the response (a
    streamed CSV)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            request.zone = PersonSettings.of(user).zone
        else:
            request.zone = timezone.get_default_timezone()
        with timezone.override(request.zone):
            return self.get_response(request)
