"""Where each node of a graph goes, top to bottom: Sugiyama's layered layout as grandalf computes it (pure Python, no
system binary; it orders each layer to cross fewer edges and routes a long edge through the layers it passes). Each
connected part of the graph is placed beside the one before."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Point = tuple[float, float]

GAP = 24.0  # between two parts, two nodes of a layer, and around the drawing
LAYER_GAP = 36.0  # between two layers


@dataclass(frozen=True)
class Placed:
    """A laid-out graph: its size, each node's box (left, top, width, height) and each edge's points, start to end."""

    width: float
    height: float
    boxes: dict[str, tuple[float, float, float, float]]
    edges: list[tuple[str, str, list[Point]]]


class _Box:
    """grandalf's view of a vertex: its size in, its centre out."""

    def __init__(self, width: float, height: float) -> None:
        self.w, self.h = width, height
        self.xy: Point = (0.0, 0.0)


class _Path:
    """grandalf's view of an edge: the points it is routed through (the ends' centres and one per layer crossed)."""

    def __init__(self) -> None:
        self.points: list[Point] = []

    def setpath(self, points: list[Point]) -> None:
        self.points = [(float(x), float(y)) for x, y in points]


def place(nodes: list[str], edges: list[tuple[str, str]], width_of: Callable[[str], float], height: float) -> Placed:
    """Lay out `nodes` (in this order where the layout lets it) with `edges` (from -> to, drawn downwards)."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    vertices = {node: Vertex(node) for node in nodes}
    for node, vertex in vertices.items():
        vertex.view = _Box(width_of(node), height)
    links = []
    for start, end in edges:
        if start in vertices and end in vertices and start != end:
            link = Edge(vertices[start], vertices[end])
            link.view = _Path()
            links.append(link)
    graph = Graph(list(vertices.values()), links)
    boxes: dict[str, tuple[float, float, float, float]] = {}
    routes: list[tuple[str, str, list[Point]]] = []
    left, bottom = GAP, GAP
    for part in graph.C:
        if len(part.sV) > 1:
            layout = SugiyamaLayout(part)
            layout.xspace, layout.yspace = GAP, LAYER_GAP
            layout.init_all()
            layout.draw()
        found = list(part.sV)
        bends = [point for link in part.sE for point in link.view.points[1:-1]]
        low_x = min([vertex.view.xy[0] - vertex.view.w / 2 for vertex in found] + [x for x, _ in bends])
        low_y = min(vertex.view.xy[1] - vertex.view.h / 2 for vertex in found)
        shift = (left - low_x, GAP - low_y)
        for vertex in found:
            (x, y), box = vertex.view.xy, vertex.view
            boxes[vertex.data] = (x - box.w / 2 + shift[0], y - box.h / 2 + shift[1], box.w, box.h)
        for link in part.sE:
            start, end = link.v[0].data, link.v[1].data
            routes.append((start, end, _ends(link.view.points, boxes[start], boxes[end], shift)))
        left = max([box[0] + box[2] for box in boxes.values()] + [x + shift[0] for x, _ in bends]) + GAP
        bottom = max(bottom, max(box[1] + box[3] for box in boxes.values()))
    order = {node: index for index, node in enumerate(nodes)}
    routes.sort(key=lambda route: (order[route[0]], order[route[1]]))
    return Placed(left, bottom + GAP, boxes, routes)


def _ends(
    points: list[Point], start: tuple[float, float, float, float], end: tuple[float, float, float, float], shift: Point
) -> list[Point]:
    """The route from the start box's bottom to the end box's top (a box's centre is where grandalf begins and ends)."""
    middle = [(x + shift[0], y + shift[1]) for x, y in points[1:-1]]
    return [(start[0] + start[2] / 2, start[1] + start[3]), *middle, (end[0] + end[2] / 2, end[1])]
