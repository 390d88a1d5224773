"""Submissions as CSV rows, produced while the response streams.

Rows are read from the database in chunks as the client downloads them, so an
export of 100,000 submissions never holds them all in memory.
"""

import csv

from django.urls import reverse
from django.utils import timezone

from ..models import Status

HEADER = (
    "id",
    "url",
    "team",
    "submitted by",
    "status",
    "memories.ai status",
    "video number",
    "camera model",
    "tags",
    "taken at",
    "submitted at",
    "finished at",
    "error code",
    "error message",
    "link",
)
COLUMNS = (
    "pk",
    "url",
    "team__name",
    "submitter__username",
    "status",
    "api_status",
    "video_no",
    "camera_model",
    "tags",
    "datetime_taken",
    "created_at",
    "finished_at",
    "error_code",
    "error_message",
)
# A spreadsheet runs a cell that starts with one of these as a formula
# (OWASP "CSV injection"): such cells get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
STATUS_LABELS = dict(Status.choices)


class _Echo:
    """A file-like object whose write() returns the line: csv.writer formats, we yield."""

    def write(self, value):
        return value


def safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _when(value, zone):
    return timezone.localtime(value, zone).isoformat() if value else ""


def csv_lines(submissions, *, base_url, zone=None):
    """The CSV text, one line at a time, header first; times in `zone` (the person's: the
    lines are written after the view has returned, outside its activated zone)."""
    zone = zone or timezone.get_current_timezone()
    writer = csv.writer(_Echo())
    yield writer.writerow(HEADER)
    detail = reverse("submission_detail", args=[0]).replace("/0/", "/{}/")
    for row in submissions.values_list(*COLUMNS).iterator(chunk_size=2000):
        (pk, url, team, submitter, status, api_status, video_no, camera, tags,
         taken, created, finished, error_code, error_message) = row  # fmt: skip
        cells = (
            pk,
            url,
            team,
            submitter,
            STATUS_LABELS.get(status, status),
            api_status,
            video_no,
            camera,
            "; ".join(str(tag) for tag in tags or ()),
            _when(taken, zone),
            _when(created, zone),
            _when(finished, zone),
            error_code,
            error_message,
            base_url + detail.format(pk),
        )
        yield writer.writerow([safe_cell(cell) for cell in cells])
