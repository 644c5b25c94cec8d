"""Server-side SVG charts for the dashboard: no JavaScript, no CDN, so the console works offline.

Pure (no Django import): the functions return SVG text with every label escaped.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#417690", "#e07b39", "#5b9b59", "#b0413e", "#8064a2", "#c9a227", "#4b4b4b", "#2a9d8f")


def _axis(width: int, height: int, pad_left: int, pad_bottom: int, top_label: str, labels: tuple[str, str]) -> str:
    first, last = labels
    base_y = height - pad_bottom
    return (
        f'<line x1="{pad_left}" y1="{base_y}" x2="{width}" y2="{base_y}" stroke="#999" stroke-width="1"/>'
        f'<line x1="{pad_left}" y1="4" x2="{pad_left}" y2="{base_y}" stroke="#999" stroke-width="1"/>'
        f'<text x="{pad_left - 4}" y="12" font-size="10" text-anchor="end" fill="#555">{escape(top_label)}</text>'
        f'<text x="{pad_left - 4}" y="{base_y}" font-size="10" text-anchor="end" fill="#555">0</text>'
        f'<text x="{pad_left}" y="{height - 4}" font-size="10" fill="#555">{escape(first)}</text>'
        f'<text x="{width}" y="{height - 4}" font-size="10" text-anchor="end" fill="#555">{escape(last)}</text>'
    )


def bar_chart(points: list[tuple[str, int]], *, title: str, width: int = 560, height: int = 150) -> str:
    """One bar per (label, value); each bar's <title> gives its exact value on hover."""
    pad_left, pad_bottom = 40, 18
    top = max((v for _, v in points), default=0)
    scale_max = max(top, 1)
    plot_w, plot_h = width - pad_left, height - pad_bottom - 6
    step = plot_w / max(len(points), 1)
    bars = []
    for i, (label, value) in enumerate(points):
        h = plot_h * value / scale_max
        x = pad_left + i * step + 1
        y = height - pad_bottom - h
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
            f'fill="{PALETTE[0]}" data-value="{value}"><title>{escape(label)}: {value}</title></rect>'
        )
    labels = (points[0][0], points[-1][0]) if points else ("", "")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"{_axis(width, height, pad_left, pad_bottom, str(top), labels)}{''.join(bars)}</svg>"
    )


def line_chart(
    series: dict[str, list[tuple[str, float | None]]], *, title: str, width: int = 560, height: int = 150
) -> str:
    """Lines of rates between 0 and 1 over shared x labels; a None value is a gap (no data that day)."""
    pad_left, pad_bottom = 40, 18
    plot_w, plot_h = width - pad_left, height - pad_bottom - 6
    parts = []
    legend = []
    labels: tuple[str, str] = ("", "")
    for n, (name, points) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        if points:
            labels = (points[0][0], points[-1][0])
        step = plot_w / max(len(points) - 1, 1)
        segment: list[str] = []
        segments: list[list[str]] = []
        for i, (label, value) in enumerate(points):
            if value is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            x = pad_left + i * step
            y = height - pad_bottom - plot_h * value
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                f"<title>{escape(name)} {escape(label)}: {value:.0%}</title></circle>"
            )
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) > 1:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(seg)}"/>')
        legend.append(
            f'<text x="{pad_left + 6}" y="{14 + 12 * n}" font-size="10" fill="{colour}">{escape(name)}</text>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        f"{_axis(width, height, pad_left, pad_bottom, '100%', labels)}{''.join(parts)}{''.join(legend)}</svg>"
    )
