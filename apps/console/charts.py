"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, so the console works offline.

Pure (no Django import): the functions return SVG text with every label escaped. Both charts draw a y axis with
round ticks and grid lines, and dated x labels a week apart, so a reader can read a value off them; every bar and
point also carries its exact value in a <title> (shown on hover, read by screen readers).
"""

from __future__ import annotations

from html import escape

PALETTE = ("#417690", "#c05a1c", "#3d7a3b", "#b0413e", "#6b4f96", "#8a6d00", "#4b4b4b", "#1f7a70")
AXIS_COLOUR = "#767676"  # 4.5:1 on white: axis labels stay readable
GRID_COLOUR = "#e3e3e3"
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 48, 12, 10, 22
X_LABEL_EVERY = 7  # days between dated x labels


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `value` (at least 1)."""
    if value <= 1:
        return 1
    magnitude = 1.0
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _number(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def _frame(width: int, height: int, ticks: list[tuple[float, str]], x_labels: list[tuple[float, str]]) -> str:
    """Grid lines and labels of the y ticks (fractions 0..1 of the plot's height), the axes, the x labels."""
    plot_h = height - PAD_TOP - PAD_BOTTOM
    base_y = height - PAD_BOTTOM
    parts = []
    for fraction, label in ticks:
        y = base_y - plot_h * fraction
        if fraction > 0:
            parts.append(
                f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{width - PAD_RIGHT}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>'
            )
        parts.append(
            f'<text x="{PAD_LEFT - 6}" y="{y + 3.5:.1f}" font-size="11" text-anchor="end" '
            f'fill="{AXIS_COLOUR}">{escape(label)}</text>'
        )
    parts.append(f'<line x1="{PAD_LEFT}" y1="{base_y}" x2="{width - PAD_RIGHT}" y2="{base_y}" stroke="{AXIS_COLOUR}"/>')
    parts.append(f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{base_y}" stroke="{AXIS_COLOUR}"/>')
    for x, label in x_labels:
        anchor = "start" if x <= PAD_LEFT + 30 else "end" if x >= width - PAD_RIGHT - 30 else "middle"
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" font-size="11" text-anchor="{anchor}" '
            f'fill="{AXIS_COLOUR}">{escape(label)}</text>'
        )
    return "".join(parts)


def _x_labels(labels: list[str], position: list[float]) -> list[tuple[float, str]]:
    """Every X_LABEL_EVERY-th label counted back from the last (today is always labelled)."""
    last = len(labels) - 1
    return [(position[i], labels[i]) for i in range(last, -1, -X_LABEL_EVERY)][::-1]


def _svg(width: int, height: int, title: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>{body}</svg>'
    )


def bar_chart(points: list[tuple[str, int]], *, title: str, width: int = 620, height: int = 170) -> str:
    """One bar per (label, value); each bar's <title> gives its exact value on hover."""
    top = nice_ceiling(max((v for _, v in points), default=0))
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    step = plot_w / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / top
        x = PAD_LEFT + i * step + 1
        y = height - PAD_BOTTOM - h
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}" data-value="{value}"><title>{escape(label)}: {value}</title></rect>'
        )
    ticks = [(0.0, "0"), (0.5, _number(top / 2)), (1.0, _number(top))]
    centres = [PAD_LEFT + (i + 0.5) * step for i in range(len(points))]
    frame = _frame(width, height, ticks, _x_labels([label for label, _ in points], centres))
    return _svg(width, height, title, frame + "".join(bars))


def line_chart(
    series: dict[str, list[tuple[str, float | None]]], *, title: str, width: int = 620, height: int = 170
) -> str:
    """Lines of rates between 0 and 1 over shared x labels; a None value is a gap (no data that day), a day
    alone between gaps is a point. The legend sits under the chart, one colour per series."""
    plot_w, plot_h = width - PAD_LEFT - PAD_RIGHT, height - PAD_TOP - PAD_BOTTOM
    parts = []
    labels: list[str] = []
    for n, (name, points) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        labels = labels or [label for label, _ in points]
        step = plot_w / max(len(points) - 1, 1)
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, (label, value) in enumerate(points):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = PAD_LEFT + i * step
            y = height - PAD_BOTTOM - plot_h * value
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}">'
                f"<title>{escape(name)} {escape(label)}: {value:.0%}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(seg)}"/>')
    step = plot_w / max(len(labels) - 1, 1)
    frame = _frame(
        width,
        height,
        [(0.0, "0%"), (0.5, "50%"), (1.0, "100%")],
        _x_labels(labels, [PAD_LEFT + i * step for i in range(len(labels))]),
    )
    return _svg(width, height, title, frame + "".join(parts))


def legend(series: list[str]) -> list[tuple[str, str]]:
    """(name, colour) of each series of a line chart, in the chart's order: the page prints it as text."""
    return [(name, PALETTE[n % len(PALETTE)]) for n, name in enumerate(series)]
