"""Stacked bar charts drawn on the server as inline SVG.

This module only does the geometry: plain numbers in, positions out. The
template (`uploads/_chart.html`) draws them, and prints the same numbers as a
table for people who cannot see the picture. No JavaScript, no chart library.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from django.utils.dateformat import format as format_date
from django.utils.html import format_html, format_html_join


@dataclass(frozen=True)
class Frame:
    """A drawing area, in SVG units, with margins around the plot for the axis labels."""

    name: str
    width: int
    height: int
    left: int
    right: int
    top: int = 12
    bottom: int = 28
    label_every: int = 7  # days between date labels, counted back from today

    @property
    def baseline(self):
        return self.height - self.bottom


# The same chart is drawn twice and CSS shows one: a wide frame for screens,
# a narrow, taller one for phones, so that neither squashes its text.
WIDE = Frame("wide", 720, 220, left=40, right=20)
NARROW = Frame("narrow", 360, 240, left=36, right=18)
FRAMES = (WIDE, NARROW)


@dataclass(frozen=True)
class Series:
    key: str  # also the CSS class suffix: .series-<key>
    label: str
    statuses: tuple


@dataclass
class Segment:
    series: Series
    count: int
    y: float
    height: float


@dataclass
class Bar:
    x: float
    width: float
    segments: list
    row: "Row"
    show_label: bool

    @property
    def label_x(self):
        return round(self.x + self.width / 2, 2)


@dataclass
class Tick:
    value: int
    y: float


@dataclass
class Row:
    date: date
    counts: list  # one count per series, in the chart's order
    total: int
    title: str  # "28 Nov: 3 done, 1 failed"


@dataclass
class Layout:
    frame: Frame
    bars: list
    ticks: list

    @property
    def view_box(self):
        return f"0 0 {self.frame.width} {self.frame.height}"

    @property
    def right_edge(self):
        return self.frame.width - self.frame.right

    @property
    def tick_label_x(self):
        return self.frame.left - 6

    @property
    def date_label_y(self):
        return self.frame.height - 9

    def drawing(self):
        """The grid, axis labels and bars as SVG elements (escaped; numbers need no locale).

        Built here rather than in the template: a month of stacked bars is a few
        hundred elements, and the template language spends more time per element
        than the database spends on the whole chart.
        """
        f = self.frame
        grid = format_html_join(
            "",
            '<line class="grid{}" x1="{}" x2="{}" y1="{}" y2="{}"/>'
            '<text class="axis" x="{}" y="{}" text-anchor="end" dominant-baseline="middle">'
            "{}</text>",
            (
                ("" if t.value else " baseline", f.left, self.right_edge, t.y, t.y,
                 self.tick_label_x, t.y, t.value)
                for t in self.ticks
            ),
        )  # fmt: skip
        bars = format_html_join(
            "",
            '<g class="bar"><title>{}</title>{}</g>{}',
            ((bar.row.title, self._segments(bar), self._date_label(bar)) for bar in self.bars),
        )
        return grid + bars

    def _segments(self, bar):
        return format_html_join(
            "",
            '<rect class="series-{}" x="{}" y="{}" width="{}" height="{}"/>',
            ((s.series.key, bar.x, s.y, bar.width, s.height) for s in bar.segments),
        )

    def _date_label(self, bar):
        if not bar.show_label:
            return ""
        return format_html(
            '<text class="axis" x="{}" y="{}" text-anchor="middle">{}</text>',
            bar.label_x,
            self.date_label_y,
            format_date(bar.row.date, "j M"),
        )


@dataclass
class StackedBarChart:
    title: str
    description: str
    series: tuple
    rows: list
    totals: list  # (series, total over all days)
    layouts: list

    @property
    def total(self):
        return sum(total for _, total in self.totals)


def axis_step(largest, max_ticks=4):
    """A round step (1, 2, 5, 10, 20, 50...) giving at most `max_ticks` steps up to `largest`."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            step = factor * magnitude
            if math.ceil(largest / step) <= max_ticks:
                return step
        magnitude *= 10


def stacked_bars(
    *, title: str, dates: list, series: tuple, count: Callable[[date, Series], int]
) -> StackedBarChart:
    """One bar per date, stacked by series; count(date, series) gives each part."""
    rows = []
    for day in dates:
        counts = [count(day, s) for s in series]
        rows.append(Row(day, counts, sum(counts), _bar_title(day, series, counts)))
    largest = max((row.total for row in rows), default=0)
    step = axis_step(largest)
    top = max(step, step * math.ceil(largest / step))
    totals = [(s, sum(row.counts[i] for row in rows)) for i, s in enumerate(series)]
    return StackedBarChart(
        title=title,
        description=_description(dates, totals),
        series=series,
        rows=rows,
        totals=totals,
        layouts=[_layout(frame, rows, series, top, step) for frame in FRAMES],
    )


def _layout(frame, rows, series, top, step):
    scale = (frame.baseline - frame.top) / top
    slot = (frame.width - frame.left - frame.right) / len(rows)
    bar_width = slot * 0.7
    bars = []
    for i, row in enumerate(rows):
        y = frame.baseline
        segments = []
        for s, n in zip(series, row.counts, strict=True):
            if n:
                y -= n * scale
                segments.append(Segment(s, n, round(y, 2), round(n * scale, 2)))
        bars.append(
            Bar(
                x=round(frame.left + i * slot + (slot - bar_width) / 2, 2),
                width=round(bar_width, 2),
                segments=segments,
                row=row,
                show_label=(len(rows) - 1 - i) % frame.label_every == 0,
            )
        )
    ticks = [Tick(v, round(frame.baseline - v * scale, 2)) for v in range(0, top + 1, step)]
    return Layout(frame, bars, ticks)


def _parts(series, counts):
    return ", ".join(f"{n} {s.label.lower()}" for s, n in zip(series, counts, strict=True) if n)


def _bar_title(day, series, counts):
    return f"{format_date(day, 'j M')}: {_parts(series, counts) or 'none'}"


def _description(dates, totals):
    total = sum(n for _, n in totals)
    span = f"from {format_date(dates[0], 'j M')} to {format_date(dates[-1], 'j M Y')}"
    if not total:
        return f"No submissions {span}."
    parts = _parts([s for s, _ in totals], [n for _, n in totals])
    return f"{total} submission{'s' if total != 1 else ''} {span}: {parts}."
