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

WIDTH, HEIGHT = 600, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 24, 12, 28  # margins around the plot, in SVG units
LABEL_EVERY = 7  # days between date labels, counted back from today


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
    date: date
    x: float
    width: float
    segments: list
    total: int
    title: str
    show_label: bool

    @property
    def label_x(self):
        return self.x + self.width / 2


@dataclass
class Tick:
    value: int
    y: float


@dataclass
class Row:
    date: date
    counts: list  # one count per series, in the chart's order
    total: int


@dataclass
class StackedBarChart:
    title: str
    description: str
    series: tuple
    bars: list
    ticks: list
    rows: list
    totals: list  # (series, total over all days)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM
    label_y: int = HEIGHT - 9

    @property
    def view_box(self):
        return f"0 0 {self.width} {self.height}"

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
    table = [[count(day, s) for s in series] for day in dates]
    largest = max((sum(counts) for counts in table), default=0)
    step = axis_step(largest)
    top = max(step, step * math.ceil(largest / step))
    plot_height = HEIGHT - TOP - BOTTOM
    scale = plot_height / top
    slot = (WIDTH - LEFT - RIGHT) / len(dates)
    bar_width = slot * 0.7

    bars, rows = [], []
    for i, (day, counts) in enumerate(zip(dates, table, strict=True)):
        y = HEIGHT - BOTTOM
        segments = []
        for s, n in zip(series, counts, strict=True):
            if n:
                height = n * scale
                y -= height
                segments.append(Segment(s, n, round(y, 2), round(height, 2)))
        total = sum(counts)
        bars.append(
            Bar(
                date=day,
                x=round(LEFT + i * slot + (slot - bar_width) / 2, 2),
                width=round(bar_width, 2),
                segments=segments,
                total=total,
                title=_bar_title(day, series, counts),
                show_label=(len(dates) - 1 - i) % LABEL_EVERY == 0,
            )
        )
        rows.append(Row(day, counts, total))
    ticks = [Tick(v, round(HEIGHT - BOTTOM - v * scale, 2)) for v in range(0, top + 1, step)]
    totals = [(s, sum(counts[i] for counts in table)) for i, s in enumerate(series)]
    return StackedBarChart(
        title=title,
        description=_description(dates, totals),
        series=series,
        bars=bars,
        ticks=ticks,
        rows=rows,
        totals=totals,
    )


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
