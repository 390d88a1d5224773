"""How far a batch has got, as numbers and as a bar (inline SVG: no style attributes, which
the Content Security Policy would refuse, and no script)."""

from dataclasses import dataclass

from django.utils.html import format_html, format_html_join

from ..models import Batch, BatchRow, Status
from ..sending import queue
from . import service

Row = BatchRow.State
# (CSS series, label, the row states or submission statuses it counts), in the bar's order.
CHECK_SERIES = (
    ("done", "Ready", (Row.READY, Row.QUEUED)),
    ("failed", "Refused", (Row.REFUSED,)),
    ("needs_review", "Not reached", (Row.UNREACHABLE,)),
    ("cancelled", "Repeated in the batch", (Row.REPEATED,)),
)
SEND_SERIES = (
    ("done", "Done", (Status.PARSED,)),
    ("failed", "Failed", (Status.FAILED, Status.PARSE_ERROR)),
    ("needs_review", "Needs review", (Status.NEEDS_REVIEW,)),
    ("in_progress", "Sending or processing", (Status.SENDING, Status.PROCESSING)),
    ("cancelled", "Cancelled", (Status.CANCELLED,)),
    ("waiting", "Waiting", (Status.QUEUED,)),
)
WIDTH = 1000  # SVG units; the bar stretches to its box


@dataclass
class Part:
    key: str
    label: str
    count: int


@dataclass
class Progress:
    done: int  # rows checked, or submissions final
    total: int
    parts: list[Part]
    unit: str  # what `done` counts, for words: "rows checked", "finished"

    @property
    def text(self):
        return f"{self.done:,} of {self.total:,} {self.unit}"

    def bar(self):
        """The parts side by side, each as wide as its share of the total."""
        x, rects = 0.0, []
        for part in self.parts:
            if not part.count:
                continue
            width = WIDTH * part.count / max(self.total, 1)
            rects.append((part.key, f"{x:.2f}", f"{width:.2f}", part.label, part.count))
            x += width
        drawing = format_html_join(
            "",
            '<rect class="series-{}" x="{}" y="0" width="{}" height="20">'
            "<title>{}: {}</title></rect>",
            rects,
        )
        return format_html(
            '<svg class="progress-svg" viewBox="0 0 {} 20" preserveAspectRatio="none" '
            'aria-hidden="true"><rect class="progress-track" width="{}" height="20"></rect>{}'
            "</svg>",
            WIDTH,
            WIDTH,
            drawing,
        )


def of(batch):
    """The batch's progress: its rows' checks until it is queued, then its submissions."""
    if batch.state != Batch.State.QUEUED:
        counts = service.row_counts(batch)
        return Progress(counts["checked"], batch.row_count, _parts(CHECK_SERIES, counts),
                        "rows checked"), counts  # fmt: skip
    counts = service.submission_counts(batch)
    return Progress(counts["final"], counts["total"], _parts(SEND_SERIES, counts),
                    "finished"), counts  # fmt: skip


def _parts(series, counts):
    return [Part(key, label, sum(counts[s] for s in states)) for key, label, states in series]


def estimated_finish(batch):
    """When the batch's last waiting submission is estimated to be sent; None when none
    waits or sending is paused.

    The last one to go is the last of its person's line in one of its teams, or the last
    moved to the front there: those few are placed, not every waiting row.
    """
    if batch.state != Batch.State.QUEUED:
        return None
    waiting = batch.submissions.filter(status=Status.QUEUED).order_by()
    lasts = []
    for team_id in waiting.values_list("team_id", flat=True).distinct():
        mine = waiting.filter(team_id=team_id)
        own = mine.filter(fronted_at__isnull=True).order_by("-created_at", "-id").first()
        front = mine.filter(fronted_at__isnull=False).order_by("-fronted_at", "-created_at",
                                                               "-id").first()  # fmt: skip
        lasts += [s for s in (own, front) if s is not None]
    etas = [eta for _, eta in queue.places(lasts).values()]
    return max(etas) if etas and None not in etas else None


def of_each(batches):
    """Each batch with its `.progress` (for the recent batches' list)."""
    batches = list(batches)
    for batch in batches:
        batch.progress = of(batch)[0]
    return batches
