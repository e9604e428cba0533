"""A laid-out graph as inline SVG: a box per node (coloured by its mark: current, applied, pending, behind, failed), an
arrow per edge. Colours are attributes, not a style sheet, so the drawing is the same pasted alone or in the report."""

from __future__ import annotations

from html import escape

from .layout import place

# mark -> (fill, text colour); an unmarked node is white.
COLOURS = {
    "current": ("#2e7d32", "#ffffff"),
    "applied": ("#c8e6c9", "#1b1b1b"),
    "pending": ("#ffe0b2", "#1b1b1b"),
    "up to date": ("#c8e6c9", "#1b1b1b"),
    "behind": ("#ffe0b2", "#1b1b1b"),
    "failed": ("#ffcdd2", "#1b1b1b"),
}
_UNMARKED = ("#ffffff", "#1b1b1b")
_CHAR = 7.3  # the width of a character of 12px monospace
_HEIGHT = 24.0


def svg(nodes: list[str], edges: list[tuple[str, str]], marks: dict[str, str], *, title: str, prefix: str = "g") -> str:
    """The SVG of the graph; `prefix` keeps the arrow marker's id apart from another drawing's on the same page."""
    placed = place(nodes, edges, lambda node: len(node) * _CHAR + 16, _HEIGHT)
    arrow = f"{prefix}-arrow"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{placed.width:.0f}" height="{placed.height:.0f}" '
        f'viewBox="0 0 {placed.width:.0f} {placed.height:.0f}" font-family="monospace" font-size="12">',
        f"<title>{escape(title)}</title>",
        f'<defs><marker id="{escape(arrow)}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for start, end, points in placed.edges:
        path = " ".join(f"{'M' if index == 0 else 'L'} {x:.1f} {y:.1f}" for index, (x, y) in enumerate(points))
        parts.append(
            f'<path class="edge" data-from="{escape(start)}" data-to="{escape(end)}" d="{path}" fill="none" '
            f'stroke="#555" stroke-width="1.3" marker-end="url(#{escape(arrow)})"/>'
        )
    for node in nodes:
        left, top, width, height = placed.boxes[node]
        mark = marks.get(node, "")
        fill, ink = COLOURS.get(mark, _UNMARKED)
        described = f"{node} ({mark})" if mark else node
        parts.append(
            f'<g class="node" data-node="{escape(node)}" data-mark="{escape(mark)}"><title>{escape(described)}</title>'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{width:.1f}" height="{height:.1f}" rx="4" fill="{fill}" '
            f'stroke="#555"/><text x="{left + width / 2:.1f}" y="{top + height / 2 + 4:.1f}" text-anchor="middle" '
            f'fill="{ink}">{escape(node)}</text></g>'
        )
    return "\n".join([*parts, "</svg>"])
