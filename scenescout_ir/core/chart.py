"""A small, self-contained SVG bar chart of response-time samples, written by hand.

No charting library: the chart is a dozen rectangles, two threshold lines and some labels, and a
hand-written SVG has no dependency to install, no fonts or scripts to fetch and opens in any browser
or Allure attachment viewer as is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 52, 12, 40, 30  # the plot area's margins
OK_FILL, TTFB_FILL, FAILED_FILL = "#6b9bd1", "#2f5f98", "#d9534f"
SLO_STROKE, SEV2_STROKE = "#e69f00", "#c0392b"


def _nice_ceiling(value: float) -> float:
    """The next 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (an axis' top)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power


def _seconds(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value * 1000:.3g} ms" if value < 1 else f"{value:.3g} s"


def samples_svg(
    samples: Sequence[tuple[float, float | None, bool]], *, slo_s: float, sev2_s: float, title: str
) -> str:
    """Bars of ``(total_s, first_byte_s, ok)`` per sample, the SLO line and, when in range, the SEV2 line.

    The darker lower part of a bar is the time to first byte; a failed sample is drawn red.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    largest = max((t for t, _, _ in samples), default=0.0)
    top = _nice_ceiling(largest * 1.15)  # the bars fill the chart; a limit above them is named, not drawn
    y = lambda seconds: TOP + plot_h - min(seconds, top) / top * plot_h  # noqa: E731
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0.0, top / 2, top):  # the y axis: three labelled grid lines
        parts.append(f'<line x1="{LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y(tick) + 4:.1f}" text-anchor="end">{_seconds(tick)}</text>')
    count = max(len(samples), 1)
    slot = plot_w / count
    bar = max(min(slot * 0.7, 40.0), 1.0)
    for i, (total, ttfb, ok) in enumerate(samples):
        x = LEFT + i * slot + (slot - bar) / 2
        fill = OK_FILL if ok else FAILED_FILL
        label = f"sample {i + 1}: {total:.3f} s" + (f", first byte {ttfb:.3f} s" if ttfb is not None else "")
        parts.append(
            f'<rect x="{x:.1f}" y="{y(total):.1f}" width="{bar:.1f}" height="{y(0) - y(total):.1f}" '
            f'fill="{fill}"><title>{escape(label)}</title></rect>'
        )
        if ttfb is not None and ok:
            parts.append(
                f'<rect x="{x:.1f}" y="{y(ttfb):.1f}" width="{bar:.1f}" height="{y(0) - y(ttfb):.1f}" '
                f'fill="{TTFB_FILL}"/>'
            )
        if count <= 20:
            parts.append(f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 13}" text-anchor="middle">{i + 1}</text>')
    above = [f"{name} {_seconds(limit)}" for limit, name in ((slo_s, "SLO"), (sev2_s, "SEV2")) if limit > top]
    if above:
        parts.append(
            f'<text x="{WIDTH - RIGHT}" y="32" text-anchor="end" fill="#555">'
            f'{" and ".join(above)}: above the chart</text>'
        )
    for limit, stroke, name in ((slo_s, SLO_STROKE, "SLO"), (sev2_s, SEV2_STROKE, "SEV2")):
        if limit <= top:
            parts.append(
                f'<line x1="{LEFT}" y1="{y(limit):.1f}" x2="{WIDTH - RIGHT}" y2="{y(limit):.1f}" '
                f'stroke="{stroke}" stroke-width="1.5" stroke-dasharray="5,3"/>'
            )
            parts.append(
                f'<text x="{WIDTH - RIGHT}" y="{y(limit) - 3:.1f}" text-anchor="end" fill="{stroke}">'
                f"{name} {_seconds(limit)}</text>"
            )
    parts.append(
        f'<text x="{LEFT}" y="{HEIGHT - 4}" fill="#555">sample (dark: time to first byte; red: failed)</text>'
    )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
