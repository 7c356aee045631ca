"""A chord diagram drawn on the server, as SVG: no script needed, and its table is beside it.

:func:`layout` turns a square flow matrix into arcs (one per area, sized by its outflows plus
inflows) and ribbons (one per ordered pair with a flow, from the origin's arc to the
destination's); :func:`svg` renders them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

PALETTE = ["#1f4e79", "#c0504d", "#2e7d32", "#7b3f98", "#8a5a00", "#00695c", "#ad1457", "#455a64",
           "#5d4037", "#283593", "#558b2f", "#6a1b9a"]


@dataclass
class Arc:
    name: str
    start: float
    end: float
    color: str


@dataclass
class Ribbon:
    origin: int
    destination: int
    value: float
    source_span: tuple[float, float]
    target_span: tuple[float, float]


def layout(names: list[str], matrix: list[list[float]], pad: float = 0.03) -> tuple[list[Arc], list[Ribbon]]:
    """Arcs and ribbons of ``matrix[i][j]`` = flow from ``names[i]`` to ``names[j]`` (negative flows are not
    drawn: a ribbon cannot be narrower than nothing)."""
    n = len(names)
    matrix = [[max(v, 0.0) for v in row] for row in matrix]  # a negative flow (some methods give them) is not drawn
    totals = [sum(matrix[i]) + sum(matrix[j][i] for j in range(n)) for i in range(n)]
    grand = sum(totals)
    if grand <= 0:
        return [], []
    span = 2 * math.pi - pad * n
    arcs, pos, angle = [], [], 0.0
    for i, name in enumerate(names):
        width = span * totals[i] / grand
        arcs.append(Arc(name, angle, angle + width, PALETTE[i % len(PALETTE)]))
        pos.append(angle)
        angle += width + pad
    ribbons = []
    out_cursor = pos[:]
    for i in range(n):  # outflows first on each arc, then inflows
        for j in range(n):
            if matrix[i][j] > 0:
                w = span * matrix[i][j] / grand
                ribbons.append(Ribbon(i, j, matrix[i][j], (out_cursor[i], out_cursor[i] + w), (0.0, 0.0)))
                out_cursor[i] += w
    in_cursor = out_cursor
    for r in ribbons:
        w = span * r.value / grand
        r.target_span = (in_cursor[r.destination], in_cursor[r.destination] + w)
        in_cursor[r.destination] += w
    return arcs, ribbons


def _pt(angle: float, radius: float) -> str:
    return f"{radius * math.sin(angle):.2f},{-radius * math.cos(angle):.2f}"


#: the circle's radius and the room left around it for labels, in the drawing's own units (it scales to
#: its box: 100 % of the width, at most its natural size)
RADIUS, ROOM, FONT = 170, 118, 13
MIN_LABELLED = 0.09  # radians: narrower arcs get no label (the legend and the table name them)


def _lines(text: str, width: int = 16) -> list[str]:
    """``text`` in at most two lines of about ``width`` characters, cut at spaces (the last one ellipsised)."""
    words, lines = text.split(), [""]
    for w in words:
        if lines[-1] and len(lines[-1]) + 1 + len(w) > width:
            if len(lines) == 2:
                lines[-1] = lines[-1].rstrip(",") + "…"
                break
            lines.append("")
        lines[-1] = f"{lines[-1]} {w}".strip()
    return [line if len(line) <= width + 2 else line[: width] + "…" for line in lines]


def svg(names: list[str], matrix: list[list[float]], *, title: str = "Flows") -> str:
    """The chord diagram: ``names`` label the arcs (short names; the legend beside it has the full ones)."""
    arcs, ribbons = layout(names, matrix)
    r_out, r_in = RADIUS, RADIUS - 14
    half = RADIUS + ROOM
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{-half} {-half + 40} {2 * half} {2 * half - 80}" '
            f'class="chord-svg" role="img" aria-labelledby="chord-title">'
            f'<title id="chord-title">{escape(title)} (the legend and the table list every flow)</title>')
    parts = [head]
    for r in ribbons:
        (a0, a1), (b0, b1) = r.source_span, r.target_span
        color = arcs[r.origin].color
        path = (f"M{_pt(a0, r_in)} A{r_in},{r_in} 0 0,1 {_pt(a1, r_in)} Q0,0 {_pt(b0, r_in)} "
                f"A{r_in},{r_in} 0 0,1 {_pt(b1, r_in)} Q0,0 {_pt(a0, r_in)}Z")
        parts.append(f'<path d="{path}" fill="{color}" fill-opacity="0.55" stroke="{color}" stroke-width="0.5">'
                     f'<title>{escape(names[r.origin])} → {escape(names[r.destination])}: '
                     f'{r.value:,.0f}</title></path>')
    for a in arcs:
        large = 1 if a.end - a.start > math.pi else 0
        path = (f"M{_pt(a.start, r_out)} A{r_out},{r_out} 0 {large},1 {_pt(a.end, r_out)} "
                f"L{_pt(a.end, r_in)} A{r_in},{r_in} 0 {large},0 {_pt(a.start, r_in)}Z")
        parts.append(f'<path d="{path}" fill="{a.color}"><title>{escape(a.name)}</title></path>')
        if a.end - a.start < MIN_LABELLED:
            continue
        mid = (a.start + a.end) / 2
        x, y = (r_out + 8) * math.sin(mid), -(r_out + 8) * math.cos(mid)
        anchor = "start" if math.sin(mid) > 0.15 else "end" if math.sin(mid) < -0.15 else "middle"
        lines = _lines(a.name)
        y += -FONT * (len(lines) - 1) if math.cos(mid) > 0.3 else FONT * 0.8 if math.cos(mid) < -0.3 else 0
        spans = "".join(f'<tspan x="{x:.1f}" dy="{0 if i == 0 else FONT + 1}">{escape(t)}</tspan>'
                        for i, t in enumerate(lines))
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{FONT}" text-anchor="{anchor}" fill="#222" '
                     f'aria-hidden="true">{spans}</text>')
    parts.append("</svg>")
    return "".join(parts)
