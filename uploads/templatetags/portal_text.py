"""Text as the pages show it."""

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

# Where a long address may break, as typesetters break them: after a "/" (not inside
# "//"), after "=", before "?", "&" and "#". Never inside a word.
_BREAKS = re.compile(r"(?<=/)(?!/)|(?<==)|(?=[?&#])")


@register.filter
def breakable(url):
    """The address, escaped, with <wbr> where a line may break."""
    parts = _BREAKS.split(str(url))
    return mark_safe("<wbr>".join(escape(part) for part in parts if part))  # noqa: S308
