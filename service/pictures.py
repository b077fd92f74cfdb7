"""A coalition's picture as SVG: one layout and one drawing for the review pages and the
batch reports.

:func:`coalition_picture` lays the coalition out (the lead in the middle, the members
around it, the go-betweens of the introduction paths between them, a legend and a text
summary); :func:`coalition_svg` draws it. The drawing uses presentation attributes only (no
style element or attribute), so that the review pages' Content-Security-Policy allows it
inline and a report's ``coalition-<rank>.svg`` looks the same on its own; it is plain text
formatting, so the same coalition gives the same bytes on any machine.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import jinja2
from markupsafe import Markup

__all__ = [
    "HEAT_COLOURS",
    "heat_bucket",
    "relative_luminance",
    "contrast_ratio",
    "text_colour",
    "SECTOR_COLOURS",
    "PATH_COLOUR",
    "TIE_COLOUR",
    "short_label",
    "Node",
    "Edge",
    "LegendItem",
    "Picture",
    "coalition_picture",
    "coalition_svg",
    "svg_document",
]

#: Node colours by sector (Okabe-Ito, distinguishable with the common colour-vision
#: deficiencies); ``None`` is an organisation the data no longer holds.
SECTOR_COLOURS: Mapping[str | None, str] = {
    "public": "#0072b2",
    "private": "#e69f00",
    "civil_society": "#009e73",
    "academic": "#cc79a7",
    "philanthropic": "#56b4e9",
    None: "#999999",
}
LEAD_COLOUR = "#1b2a41"
PATH_COLOUR = "#d55e00"
TIE_COLOUR = "#8c8c8c"
FLAG_COLOUR = "#c00000"
INTERMEDIARY_COLOUR = "#ffffff"

_ACRONYM = re.compile(r"\(([^()]{2,14})\)\s*$")


def short_label(name: str, limit: int = 24) -> str:
    """A label that fits a node of the picture or a column header.

    A long name ending in an acronym in brackets becomes the acronym; another long name is
    cut with an ellipsis.

    >>> short_label("United Nations Children's Fund (UNICEF)")
    'UNICEF'
    >>> short_label("Itaú"), short_label("A very long organisation name indeed, really", 12)
    ('Itaú', 'A very long…')
    """
    name = " ".join(name.split())
    if len(name) <= limit:
        return name
    match = _ACRONYM.search(name)
    if match:
        return match.group(1).strip()
    return name[: limit - 1].rstrip() + "…"


# ---- the heat-map scale (the review pages and the batch reports) ------------------------

#: The heat-map scale, from "covers nothing" (index 0) to "covers fully" (the last): a
#: sequential blue scale (ColorBrewer Blues). ``pages.css`` has one ``.heat-N`` class each.
HEAT_COLOURS: tuple[str, ...] = (
    "#ffffff",
    "#deebf7",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
)


def heat_bucket(value: float) -> int:
    """The index in :data:`HEAT_COLOURS` of a coverage ``value`` in [0, 1].

    0 only for no coverage at all; anything above 0 gets at least the first tint, and the
    rest of (0, 1] is cut into equal steps. Values outside [0, 1] are clamped.

    >>> [heat_bucket(v) for v in (0, 0.01, 0.125, 0.5, 0.99, 1, 7)]
    [0, 1, 1, 4, 8, 8, 8]
    """
    steps = len(HEAT_COLOURS) - 1
    if not math.isfinite(value) or value <= 0:
        return 0
    return min(steps, max(1, math.ceil(min(value, 1.0) * steps - 1e-9)))


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour.

    >>> relative_luminance("#ffffff"), relative_luminance("#000000")
    (1.0, 0.0)
    """
    match = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", colour)
    if match is None:
        raise ValueError(f"Not a #rrggbb colour: {colour!r}")

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(match.group(k)) for k in (1, 2, 3))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21.

    >>> round(contrast_ratio("#000000", "#ffffff"), 1)
    21.0
    """
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background``.

    >>> text_colour("#ffffff"), text_colour("#08306b")
    ('#000000', '#ffffff')
    """
    black, white = "#000000", "#ffffff"
    if contrast_ratio(background, black) >= contrast_ratio(background, white):
        return black
    return white


# ---- the layout ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Node:
    """A labelled node: ``role`` is ``lead``, ``member`` or ``intermediary``."""

    id: str
    label: str
    title: str
    role: str
    x: float
    y: float
    r: float
    fill: str
    text_fill: str
    label_x: float
    label_y: float
    anchor: str
    flagged: bool = False
    width: float = 0.0  # the lead is a rounded box this wide


@dataclass(frozen=True, slots=True)
class Edge:
    """A line between two nodes: a past-collaboration tie or a step of an introduction path.

    It is drawn as a quadratic curve through the control point ``(cx, cy)``: straight (the
    control point halfway) from the lead, bent away from the lead between two others, so a
    tie between members on opposite sides does not run under the lead.
    """

    source: str
    target: str
    x1: float
    y1: float
    x2: float
    y2: float
    width: float
    weight: float
    cx: float
    cy: float

    @property
    def curve_middle(self) -> tuple[float, float]:
        """The point halfway along the curve (the farthest it bulges)."""
        return (
            0.25 * self.x1 + 0.5 * self.cx + 0.25 * self.x2,
            0.25 * self.y1 + 0.5 * self.cy + 0.25 * self.y2,
        )

    def moved(self, dy: float) -> Edge:
        """The same edge ``dy`` lower."""
        return replace(self, y1=self.y1 + dy, y2=self.y2 + dy, cy=self.cy + dy)

    @property
    def d(self) -> str:
        """The SVG path data."""
        return (
            f"M {self.x1:.1f} {self.y1:.1f} Q {self.cx:.1f} {self.cy:.1f} "
            f"{self.x2:.1f} {self.y2:.1f}"
        )


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One entry of the legend: ``kind`` says which symbol to draw at ``(x, y)``."""

    kind: str
    label: str
    x: float
    y: float
    colour: str


@dataclass(frozen=True, slots=True)
class Picture:
    """Everything :func:`coalition_svg` needs to draw a coalition."""

    width: int
    height: int
    nodes: tuple[Node, ...]
    """The lead first, then the members in their order, then the go-betweens."""
    ties: tuple[Edge, ...]
    """Past collaboration between any two nodes drawn, wider for a greater weight."""
    paths: tuple[Edge, ...]
    """The steps of the introduction paths, each once."""
    legend: tuple[LegendItem, ...]
    summary: str
    """What it shows in words: who leads, the members, each introduction path."""

    @property
    def title(self) -> str:
        """The picture's name for assistive technology."""
        lead = next(node for node in self.nodes if node.role == "lead")
        return f"The coalition led by {lead.title}, with past collaborations and introduction paths"


_WIDTH = 760
_RADIUS = 160
_LEAD_R = 18.0
_MEMBER_R = 15.0
_INTERMEDIARY_R = 7.0
_CHAR = 8.8  # average width of a 15 px bold character
#: Radius and label colour of each role's node.
_ROLE_LOOK = {
    "lead": (_LEAD_R, "#ffffff"),
    "member": (_MEMBER_R, "#111111"),
    "intermediary": (_INTERMEDIARY_R, "#333333"),
}
#: Where a label goes: ``(x, y, text-anchor)``.
Anchor = tuple[float, float, str]


def _node(
    org: str,
    role: str,
    label: str,
    at: tuple[float, float],
    label_at: Anchor,
    *,
    names: Mapping[str, str],
    fill: str,
    flagged: bool = False,
    width: float = 0.0,
) -> Node:
    r, text_fill = _ROLE_LOOK[role]
    (x, y), (lx, ly, anchor) = at, label_at
    return Node(
        org,
        label,
        names.get(org, org),
        role,
        x,
        y,
        r,
        fill,
        text_fill,
        lx,
        ly,
        anchor,
        flagged,
        width,
    )


def _lead_width(label: str) -> float:
    return max(70.0, _CHAR * len(label) + 26)


def _label_at(x: float, y: float, angle: float, r: float) -> Anchor:
    """Where a node's label goes: outwards from the centre, clear of the node."""
    dx, dy = math.cos(angle), math.sin(angle)
    if dx > 0.35:
        return x + r + 7, y + 5, "start"
    if dx < -0.35:
        return x - r - 7, y + 5, "end"
    if dy > 0:
        return x, y + r + 18, "middle"
    return x, y - r - 8, "middle"


def coalition_picture(
    lead: str,
    members: Sequence[str],
    paths: Mapping[str, Sequence[str]],
    *,
    names: Mapping[str, str],
    sectors: Mapping[str, str | None],
    tie_weight: Callable[[str, str], float],
    flagged: frozenset[str] = frozenset(),
) -> Picture:
    """Lay out a coalition: the lead in the middle, the members around it, the
    intermediaries of the introduction paths between them.

    Parameters
    ----------
    lead, members : organisation ids
    paths : mapping of member id to its introduction path ``(lead, ..., member)``; empty
        when there is none.
    names : full names by id (labels are shortened; the full name is the node's title)
    sectors : sector codes of the members, for their colour
    tie_weight : past-collaboration weight between two ids (0 when none)
    flagged : members with integrity flags

    Returns
    -------
    Picture
        Node positions, ties between every pair of drawn nodes with a weight above 0 (width
        growing with the weight), the introduction paths as separate edges, a legend, a
        title and a one-paragraph text summary for assistive technology.

    Examples
    --------
    >>> picture = coalition_picture(
    ...     "un", ["ngo", "bank"], {"ngo": ["un", "ngo"]},
    ...     names={"un": "United Nations (UN)", "ngo": "An NGO", "bank": "A Bank"},
    ...     sectors={"ngo": "civil_society", "bank": "private"},
    ...     tie_weight=lambda a, b: 1.0 if {a, b} == {"un", "ngo"} else 0.0,
    ... )
    >>> [(node.label, node.role) for node in picture.nodes]
    [('United Nations (UN)', 'lead'), ('An NGO', 'member'), ('A Bank', 'member')]
    >>> [(tie.source, tie.target) for tie in picture.ties]
    [('un', 'ngo')]
    """
    n = len(members)
    radius = _RADIUS if n > 2 else 150
    centre = (_WIDTH / 2, 60 + radius)
    angles = _member_angles(members)
    around = _place_members(members, angles, centre, radius, names, sectors, flagged)
    lead_node = _place_lead(lead, around.values(), centre, names)
    placed = {lead: lead_node, **around}
    placed.update(_place_intermediaries(members, paths, angles, placed, lead_node, radius, names))

    ids = list(placed)
    weights = {(a, b): tie_weight(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if a != b}
    positive = {pair: w for pair, w in weights.items() if w > 0}
    heaviest = max(positive.values(), default=1.0)
    ties = tuple(
        _edge(placed, lead_node, a, b, round(1.5 + 4.5 * w / heaviest, 2), w)
        for (a, b), w in positive.items()
    )
    path_edges: list[Edge] = []
    seen: set[tuple[str, str]] = set()
    for member in members:
        path = list(paths.get(member) or ())
        for a, b in zip(path, path[1:], strict=False):
            if (a, b) in seen or a not in placed or b not in placed:
                continue
            seen.add((a, b))
            w = weights.get((a, b), weights.get((b, a), 0.0))
            path_edges.append(_edge(placed, lead_node, a, b, 3.0, w))

    # crop the empty band above the drawing (curves bulge at most to their midpoint)
    extents = [(n.y - n.r, n.y + n.r) for n in placed.values()]
    extents += [(n.label_y - 18, n.label_y + 6) for n in placed.values()]
    extents += [(e.curve_middle[1], e.curve_middle[1]) for e in ties]
    top = min(low for low, _ in extents)
    shift = 20 - top
    bottom = max(high for _, high in extents) + shift
    placed = {
        key: replace(n, y=n.y + shift, label_y=n.label_y + shift) for key, n in placed.items()
    }

    legend_top = bottom + 44
    legend, rows = _legend(members, sectors, placed, flagged, legend_top)
    return Picture(
        width=_WIDTH,
        height=int(legend_top + rows * 26 + 6),
        nodes=tuple(placed.values()),
        ties=tuple(e.moved(shift) for e in ties),
        paths=tuple(e.moved(shift) for e in path_edges),
        legend=tuple(legend),
        summary=_summary(lead, members, paths, names, len(ties)),
    )


def _member_angles(members: Sequence[str]) -> dict[str, float]:
    """Evenly round the lead; two members sit above it, so their tie does not cross it."""
    n = len(members)
    start = -math.pi / 2 + (math.pi / n if n else 0)
    step = 2 * math.pi / max(n, 1)
    if n == 2:
        start, step = -math.pi / 2 - math.pi / 3, 2 * math.pi / 3
    return {member: start + step * k for k, member in enumerate(members)}


def _place_members(
    members: Sequence[str],
    angles: Mapping[str, float],
    centre: tuple[float, float],
    radius: float,
    names: Mapping[str, str],
    sectors: Mapping[str, str | None],
    flagged: frozenset[str],
) -> dict[str, Node]:
    """The members on a circle round the centre, labels shortened to the room outside."""
    cx, cy = centre
    placed = {}
    for member in members:
        angle = angles[member]
        x, y = cx + radius * math.cos(angle), cy + radius * math.sin(angle)
        label_at = _label_at(x, y, angle, _MEMBER_R)
        lx, anchor = label_at[0], label_at[2]
        room = {"start": _WIDTH - lx, "end": lx, "middle": 2 * min(lx, _WIDTH - lx)}[anchor]
        limit = max(8, int((room - 12) / _CHAR) - (2 if member in flagged else 0))
        label = short_label(names.get(member, member), limit)
        if member in flagged:
            label = f"⚑ {label}"
        colour = SECTOR_COLOURS.get(sectors.get(member), SECTOR_COLOURS[None])
        placed[member] = _node(
            member,
            "member",
            label,
            (x, y),
            label_at,
            names=names,
            fill=colour,
            flagged=member in flagged,
        )
    return placed


def _place_lead(
    lead: str, around: Iterable[Node], centre: tuple[float, float], names: Mapping[str, str]
) -> Node:
    """The lead's box in the centre, as wide as its name, short of the members beside it."""
    cx, cy = centre
    beside = [abs(p.x - cx) - p.r - 12 for p in around if abs(p.y - cy) < 40]
    room = 2 * min(beside, default=170.0)
    label = short_label(names.get(lead, lead), max(6, int((room - 26) / _CHAR)))
    return _node(
        lead,
        "lead",
        label,
        centre,
        (cx, cy + 5, "middle"),
        names=names,
        fill=LEAD_COLOUR,
        width=_lead_width(label),
    )


def _place_intermediaries(
    members: Sequence[str],
    paths: Mapping[str, Sequence[str]],
    angles: Mapping[str, float],
    placed: Mapping[str, Node],
    lead: Node,
    radius: float,
    names: Mapping[str, str],
) -> dict[str, Node]:
    """The go-betweens of the introduction paths: along the direction of the member(s) they
    lead to, clear of the lead's box and of any node already there."""
    cx, cy = lead.x, lead.y
    wanted: dict[str, list[tuple[float, float]]] = {}
    for member in members:
        path = list(paths.get(member) or ())
        hops = len(path) - 1
        for step, node in enumerate(path[1:-1], start=1):
            if node in placed:
                continue
            distance = radius * (0.3 + 0.55 * step / hops)
            angle = angles[member]
            wanted.setdefault(node, []).append(
                (cx + distance * math.cos(angle), cy + distance * math.sin(angle))
            )
    added: dict[str, Node] = {}
    for node, spots in wanted.items():
        x = sum(p[0] for p in spots) / len(spots)
        y = sum(p[1] for p in spots) / len(spots)
        if abs(x - cx) < lead.width / 2 + 16 and abs(y - cy) < 17 + 30:
            y = cy + (47 if y >= cy else -47)  # off the lead's box
        for other in [*placed.values(), *added.values()]:  # and off any node already there
            if other.role != "lead" and math.hypot(other.x - x, other.y - y) < 34:
                x, y = x + 30, y + 24
        angle = math.atan2(y - cy, x - cx)
        label_at: Anchor
        if abs(math.sin(angle)) < 0.5:  # the path runs sideways: label above it
            label_at = (x, y - _INTERMEDIARY_R - 7, "middle")
        elif x < cx:
            label_at = (x - _INTERMEDIARY_R - 5, y + 5, "end")
        else:
            label_at = (x + _INTERMEDIARY_R + 5, y + 5, "start")
        label = short_label(names.get(node, node), 20)
        added[node] = _node(
            node, "intermediary", label, (x, y), label_at, names=names, fill=INTERMEDIARY_COLOUR
        )
    return added


def _edge(
    placed: Mapping[str, Node], lead: Node, a: str, b: str, width: float, weight: float
) -> Edge:
    """The edge from ``a`` to ``b``: straight from the lead, else bent away from it."""
    one, two = placed[a], placed[b]
    mx, my = (one.x + two.x) / 2, (one.y + two.y) / 2
    if lead.id in (a, b):
        return Edge(a, b, one.x, one.y, two.x, two.y, width, weight, mx, my)
    chord = math.hypot(two.x - one.x, two.y - one.y)
    ox, oy = mx - lead.x, my - lead.y
    away = math.hypot(ox, oy)
    if away < 1:  # opposite sides of the lead: bend sideways
        ox, oy, away = -(two.y - one.y), two.x - one.x, chord
    bend = 0.3 * chord
    control = (mx + bend * ox / away, my + bend * oy / away)
    return Edge(a, b, one.x, one.y, two.x, two.y, width, weight, *control)


def _legend(
    members: Sequence[str],
    sectors: Mapping[str, str | None],
    placed: Mapping[str, Node],
    flagged: frozenset[str],
    top: float,
) -> tuple[list[LegendItem], int]:
    entries: list[tuple[str, str, str]] = [("lead", "Lead entity", LEAD_COLOUR)]
    for sector in dict.fromkeys(sectors.get(m) for m in members):
        label = f"Member: {sector.replace('_', ' ')} sector" if sector else "Member"
        entries.append(("member", label, SECTOR_COLOURS.get(sector, SECTOR_COLOURS[None])))
    if any(node.role == "intermediary" for node in placed.values()):
        entries.append(("intermediary", "Go-between (not a member)", INTERMEDIARY_COLOUR))
    if flagged & set(members):
        entries.append(("flag", "⚑ Member with integrity flags", FLAG_COLOUR))
    entries.append(("tie", "Past collaboration (thicker: stronger)", TIE_COLOUR))
    entries.append(("path", "Introduction path to the lead", PATH_COLOUR))
    columns, column_width = 2, _WIDTH / 2
    items = [
        LegendItem(kind, label, 24 + (k % columns) * column_width, top + (k // columns) * 26, c)
        for k, (kind, label, c) in enumerate(entries)
    ]
    return items, math.ceil(len(entries) / columns)


def _summary(
    lead: str,
    members: Sequence[str],
    paths: Mapping[str, Sequence[str]],
    names: Mapping[str, str],
    ties: int,
) -> str:
    def name(org: str) -> str:
        return names.get(org, org)

    parts = [
        f"{name(lead)} leads a coalition of {len(members)} "
        f"member{'s' if len(members) != 1 else ''}: {', '.join(name(m) for m in members)}.",
        f"{ties} past-collaboration tie{'s' if ties != 1 else ''} drawn.",
    ]
    for member in members:
        path = list(paths.get(member) or ())
        if len(path) > 1:
            parts.append(f"Introduction to {name(member)}: {' → '.join(name(p) for p in path)}.")
        else:
            parts.append(f"No introduction path to {name(member)} within three hops.")
    return " ".join(parts)


# ---- the drawing ---------------------------------------------------------------------------


@functools.cache
def _template() -> jinja2.Template:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("service", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("coalition.svg")


def coalition_svg(picture: Picture, *, key: str, caption_id: str | None = None) -> Markup:
    """The ``<svg>`` element of ``picture``: an image named by its title, described by its
    summary (or by the element ``caption_id`` names, such as the page's figcaption).

    ``key`` prefixes the ids inside, so that several pictures fit on one page. Every name is
    escaped: the result is safe to insert into HTML as it is.
    """
    svg = _template().render(
        p=picture,
        key=key,
        caption_id=caption_id,
        tie_colour=TIE_COLOUR,
        path_colour=PATH_COLOUR,
        flag_colour=FLAG_COLOUR,
        outline_colour=LEAD_COLOUR,
    )
    return Markup(svg)


def svg_document(svg: str) -> bytes:
    """A stand-alone ``.svg`` file holding ``svg``."""
    return f'<?xml version="1.0" encoding="utf-8"?>\n{svg}\n'.encode()
