"""Times as people read them: in their zone, with the zone named, and how far off."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

register = template.Library()

FORMATS = {"minute": "Y-m-d H:i", "second": "Y-m-d H:i:s", "clock": "H:i", "day": "j F Y, H:i"}


@register.simple_tag
def when(value, precision="minute"):
    """A <time> in the current (the person's) zone, its abbreviation after it: "14:05 CET"."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{} {}</time>',
        local.isoformat(),
        date_format(local, FORMATS[precision]),
        local.tzname(),
    )


@register.filter
def from_now(value, now=None):
    """ "in about 12 minutes", "in about 2 hours", "any moment now": for estimates only."""
    if value is None:
        return ""
    seconds = (value - (now or timezone.now())).total_seconds()
    if seconds < 60:
        return "any moment now"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"in about {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    if hours < 48:
        return f"in about {hours} hour{'s' if hours != 1 else ''}"
    return f"in about {round(hours / 24)} days"
