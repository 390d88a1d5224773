"""The one range of dates a person or a script can give: the form's "taken at", a batch's
cells, the API's JSON, the list's filters and the API's cursors.

Far wider than any video's date, and far enough from the calendar's ends (years 1 and
9999) that a day's bounds, the day after and their conversions to and from any time zone
all exist: a date is checked against it, as given, before anything is computed from it.
"""

from datetime import date, datetime

EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2999, 12, 31)
OUT_OF_RANGE = f"Choose a date between {EARLIEST_DATE:%Y-%m-%d} and {LATEST_DATE:%Y-%m-%d}."


def in_range(value: date | datetime) -> bool:
    """Whether a date (or a moment, by its date as written, in its own zone) is in range."""
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE
