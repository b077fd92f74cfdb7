"""Rendering batch reports: Jinja templates (HTML autoescaped, Markdown escaped by a filter)
and SVG figures: a picture of each coalition (the review pages' own, from
:mod:`service.pictures`), and matplotlib charts of the coverage heat-map and the portfolio's
sector and region balance.

Charts are drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot's
global state, with the Agg machinery and fixed SVG ids and no date: the same result gives
byte-identical files on any engine.
"""

from __future__ import annotations

import functools
import html
import io
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import matplotlib
import numpy as np
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from matcher.engine.reasons import needs_sentence, share_sentence, solver_sentence
from service.pictures import SECTOR_COLOURS, coalition_picture, coalition_svg, svg_document

__all__ = [
    "REPORT_HTML",
    "REPORT_MARKDOWN",
    "COVERAGE_FIGURE",
    "coalition_figure_name",
    "warm_up",
    "render_initiative",
    "render_portfolio",
    "coalition_figure",
    "coverage_figure",
    "balance_figure",
    "markdown_text",
    "short_list",
]

REPORT_HTML = "report.html"
REPORT_MARKDOWN = "report.md"
COVERAGE_FIGURE = "coverage.svg"
BALANCE_FIGURE = "balance.svg"

#: rcParams for every figure: text kept as text, stable ids, no font or backend surprises.
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "svg.hashsalt": "partnermatch",
    "font.family": "DejaVu Sans",
    "font.size": 8,
}
#: Bars of a region (sectors have the pictures' colours).
_REGION_COLOUR = "#4e79a7"
#: Characters Markdown would act on inside a line: emphasis, code, links, tables, headings,
#: strike-through; ``_`` only at a word's edge (inside a word it is plain text).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*\[\]#|~]|(?<!\w)_|_(?!\w))")


def coalition_figure_name(rank: int) -> str:
    """The file name of coalition ``rank``'s picture."""
    return f"coalition-{rank}.svg"


def markdown_text(value: object) -> str:
    """Text safe inside Markdown (and a table cell): HTML special characters as entities,
    Markdown punctuation backslash-escaped, line breaks as spaces.

    >>> print(markdown_text("<script>alert(1)</script> | *x* [a](b) snake_case _x_"))
    &lt;script&gt;alert(1)&lt;/script&gt; \\| \\*x\\* \\[a\\](b) snake_case \\_x\\_
    """
    text = html.escape(" ".join(str(value).split()), quote=False)
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


@functools.cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("service.batch", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["md"] = markdown_text
    environment.filters["short_list"] = short_list
    environment.filters["percent"] = lambda value: f"{100 * float(value):.0f}%"
    environment.filters["number"] = lambda value, digits=3: f"{float(value):.{digits}f}"
    environment.globals.update(
        scale=_scale,
        solver_sentence=lambda c: solver_sentence(
            str(c["solver"]), c.get("optimality_gap"), first=c["rank"] == 1
        ),
    )
    return environment


def _scale(coalition: Mapping[str, Any], needs: int) -> str:
    """A coalition's score with its scale: ``at least 87% of the best possible; covers 3 of
    4 needs``."""
    share = share_sentence(coalition.get("optimality_gap"))
    covered = needs_sentence(needs - len(coalition.get("gaps") or ()), needs)
    return f"{share}; {covered}" if share else covered


def _render(template: str, **context: Any) -> bytes:
    return _environment().get_template(template).render(**context).encode("utf-8")


def warm_up() -> None:
    """Compile the templates and load matplotlib's fonts: a worker's first report is then
    as fast as the next ones."""
    for template in ("initiative.html", "initiative.md", "portfolio.html"):
        _environment().get_template(template)
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(1.0, 1.0))
        figure.add_subplot().text(0.5, 0.5, "warm-up")
        _svg(figure)


# Reports ----------------------------------------------------------------------------------


def render_initiative(result: Mapping[str, Any], *, figures: bool = True) -> dict[str, bytes]:
    """The files of one initiative's report, by name: ``report.html``, ``report.md`` and,
    with ``figures``, ``coalition-<rank>.svg`` for each coalition and ``coverage.svg``."""
    files: dict[str, bytes] = {}
    if figures:
        for coalition in result["coalitions"]:
            files[coalition_figure_name(coalition["rank"])] = coalition_figure(result, coalition)
        heat_map = coverage_figure(result)
        if heat_map is not None:
            files[COVERAGE_FIGURE] = heat_map
    context = {
        "result": result,
        "names": {org_id: facts["name"] for org_id, facts in result["organisations"].items()},
        "organisations": result["organisations"],
        "figures": sorted(files),
        "coverage_figure": COVERAGE_FIGURE if COVERAGE_FIGURE in files else None,
        "figure_name": coalition_figure_name,
    }
    files[REPORT_HTML] = _render("initiative.html", **context)
    files[REPORT_MARKDOWN] = _render("initiative.md", **context)
    return files


def render_portfolio(view: Mapping[str, Any], *, figures: bool = True) -> dict[str, bytes]:
    """The portfolio view's files: ``index.html`` and, with ``figures``, ``balance.svg``."""
    files: dict[str, bytes] = {}
    if figures and (view["sectors"] or view["regions"]):
        files[BALANCE_FIGURE] = balance_figure(view["sectors"], view["regions"])
    files["index.html"] = _render(
        "portfolio.html",
        view=view,
        balance_figure=BALANCE_FIGURE if BALANCE_FIGURE in files else None,
    )
    return files


# Figures ----------------------------------------------------------------------------------


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasSVG(figure)
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _label(name: str, width: int = 18) -> str:
    return "\n".join(textwrap.wrap(name, width, max_lines=3, placeholder="…")) or name


def coalition_figure(result: Mapping[str, Any], coalition: Mapping[str, Any]) -> bytes:
    """The coalition's picture, drawn as on the review pages (:mod:`service.pictures`): the
    lead in the middle, the members around it coloured by sector, past collaboration as solid
    lines (thicker when stronger), the introduction paths dashed through their go-betweens."""
    organisations = result["organisations"]
    members = coalition["members"]
    ids = [member["id"] for member in members]
    weights = {frozenset((a, b)): float(weight) for a, b, weight in coalition["ties"]}
    picture = coalition_picture(
        result["lead"],
        ids,
        {member["id"]: member["path_to_lead"] for member in members},
        names={org_id: facts["name"] for org_id, facts in organisations.items()},
        sectors={org_id: organisations[org_id]["sector"] for org_id in ids},
        tie_weight=lambda a, b: weights.get(frozenset((a, b)), 0.0),
        flagged=frozenset(member["id"] for member in members if member["flags"]),
    )
    return svg_document(coalition_svg(picture, key=f"coalition-{coalition['rank']}"))


def coverage_figure(result: Mapping[str, Any]) -> bytes | None:
    """Needs (rows) × members of the recommended coalitions (columns), each cell the
    member's coverage of the need (0-1); ``None`` without needs or coalitions."""
    needs = [need["capability"] for need in result["needs"]]
    members: dict[str, list[int]] = {}
    covers: dict[str, Mapping[str, float]] = {}
    for coalition in result["coalitions"]:
        for member in coalition["members"]:
            members.setdefault(member["id"], []).append(coalition["rank"])
            covers[member["id"]] = member["covers"]
    if not needs or not members:
        return None
    columns = list(members)
    values = np.array([[covers[m].get(need, 0.0) for m in columns] for need in needs])
    names = [
        _label(result["organisations"][m]["name"], 16)
        + "\n("
        + ", ".join(f"#{rank}" for rank in members[m])
        + ")"
        for m in columns
    ]
    width = min(14.0, 2.6 + 0.75 * len(columns))
    height = min(12.0, 1.6 + 0.4 * len(needs))
    left = min(0.6, (0.9 + 0.065 * max(len(n) for n in needs)) / width)
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(width, height))
        axes = figure.add_axes((left, 0.32 * 3.2 / height, 0.97 - left, 1 - 0.4 * 3.2 / height))
        axes.pcolormesh(values, vmin=0.0, vmax=1.0, cmap="YlGn", edgecolors="white", linewidth=1.5)
        axes.invert_yaxis()
        for row, column in zip(*np.nonzero(values > 0), strict=True):
            axes.text(
                column + 0.5,
                row + 0.5,
                f"{values[row, column]:.2f}",
                ha="center",
                va="center",
                color="white" if values[row, column] > 0.6 else "black",
                fontsize=7,
            )
        axes.set_xticks(np.arange(len(columns)) + 0.5, names, fontsize=6)
        axes.set_yticks(np.arange(len(needs)) + 0.5, needs)
        axes.tick_params(length=0)
        axes.set_title("Coverage of each need (0-1) by the recommended members", fontsize=9)
        return _svg(figure)


def balance_figure(sectors: Mapping[str, int], regions: Mapping[str, int]) -> bytes:
    """Seats per sector and per region over every recommended coalition, as two bar charts."""
    with matplotlib.rc_context(_RC):
        figure = Figure(figsize=(9.0, 3.4))
        for position, (title, counts) in enumerate(
            (("Seats per sector", sectors), ("Seats per region", regions))
        ):
            axes = figure.add_axes((0.14 + 0.5 * position, 0.14, 0.33, 0.74))
            labels = [label.replace("_", " ") for label in counts]
            axes.barh(
                labels,
                list(counts.values()),
                color=[SECTOR_COLOURS.get(label, _REGION_COLOUR) for label in counts],
            )
            axes.invert_yaxis()
            axes.set_title(title, fontsize=9)
            for row, value in enumerate(counts.values()):
                axes.text(value, row, f" {value}", va="center", fontsize=7)
            axes.margins(x=0.15)
        return _svg(figure)


def short_list(values: Sequence[str], limit: int = 8) -> str:
    """``a, b, c`` with ``(+n more)`` past ``limit``."""
    shown = ", ".join(values[:limit])
    return shown + (f" (+{len(values) - limit} more)" if len(values) > limit else "")
