"""Rendering batch reports: Jinja templates (HTML autoescaped, Markdown escaped by a filter)
and SVG figures: a picture of each coalition (the review pages' own, from
:mod:`service.pictures`), the coverage heat-map (plain SVG text on the review pages' colour
scale), and a matplotlib chart of the portfolio's sector and region balance.

The balance chart is drawn on :class:`matplotlib.figure.Figure` objects, never through pyplot's
global state, with the Agg machinery and fixed SVG ids and no date: the same result gives
byte-identical files on any engine.
"""

from __future__ import annotations

import functools
import html
import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import jinja2
import matplotlib
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.typing import RcKeyType

from matcher.engine.reasons import needs_sentence, share_sentence, solver_sentence
from service.pictures import (
    HEAT_COLOURS,
    SECTOR_COLOURS,
    coalition_picture,
    coalition_svg,
    heat_bucket,
    short_label,
    svg_document,
    text_colour,
)

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
    "heat_map_svg",
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
    member's coverage of the need (0-1) written in it and coloured on the review pages'
    scale (:data:`service.pictures.HEAT_COLOURS`), with a legend; ``None`` without needs
    or coalitions.

    Plain SVG text (no matplotlib): every name is XML-escaped, and the same result gives the
    same bytes on any machine.
    """
    needs = [str(need["capability"]) for need in result["needs"]]
    members: dict[str, list[int]] = {}
    covers: dict[str, Mapping[str, float]] = {}
    for coalition in result["coalitions"]:
        for member in coalition["members"]:
            members.setdefault(member["id"], []).append(coalition["rank"])
            covers[member["id"]] = member["covers"]
    if not needs or not members:
        return None
    names = {m: str(result["organisations"].get(m, {}).get("name", m)) for m in members}
    return svg_document(heat_map_svg(needs, list(members), covers, names, members))


_CELL_W, _CELL_H, _HEADER_H = 84, 26, 46


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def heat_map_svg(
    needs: Sequence[str],
    columns: Sequence[str],
    covers: Mapping[str, Mapping[str, float]],
    names: Mapping[str, str],
    ranks: Mapping[str, Sequence[int]],
) -> str:
    """The ``<svg>`` element of a coverage heat-map: a row per need, a column per member
    (``columns`` ids, headed by their shortened name and coalition ranks), each cell
    ``covers[member][need]`` (0 when absent) with two decimals, on the pages' colour scale,
    and a legend of the scale below.

    >>> svg = heat_map_svg(["water"], ["a"], {"a": {"water": 0.5}}, {"a": "A & B"}, {"a": [1]})
    >>> 'A &amp; B' in svg and '>0.50</text>' in svg
    True
    """
    label_w = max(90, 16 + 7 * max(len(need) for need in needs))
    top = 30 + _HEADER_H
    width = max(label_w + _CELL_W * len(columns) + 10, 24 + 86 * 5)
    legend_top = top + _CELL_H * len(needs) + 22
    height = legend_top + 2 * 24 + 8
    title = "Coverage of each need (0-1) by the recommended members"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="coverage-svg-title" '
        'font-family="DejaVu Sans, system-ui, sans-serif" font-size="12">',
        f'<title id="coverage-svg-title">{_attr(title)}</title>',
        '<rect width="100%" height="100%" fill="#ffffff"></rect>',
        f'<text x="{width / 2:.1f}" y="18" text-anchor="middle" font-size="13" '
        f'font-weight="700">{_attr(title)}</text>',
        '<g class="columns">',
    ]
    for k, member in enumerate(columns):
        x = label_w + _CELL_W * k + _CELL_W / 2
        rank_text = ", ".join(f"#{rank}" for rank in ranks.get(member, ()))
        out.append(
            f'<g class="column" data-member="{_attr(member)}">'
            f"<title>{_attr(names.get(member, member))}</title>"
            f'<text x="{x:.1f}" y="{top - 24}" text-anchor="middle" font-size="10">'
            f"{_attr(short_label(names.get(member, member), 13))}</text>"
            f'<text x="{x:.1f}" y="{top - 10}" text-anchor="middle" font-size="10" '
            f'fill="#555555">({_attr(rank_text)})</text></g>'
        )
    out.append('</g>\n<g class="cells">')
    for row, need in enumerate(needs):
        y = top + _CELL_H * row
        out.append(
            f'<text x="{label_w - 8}" y="{y + _CELL_H / 2 + 4:.1f}" text-anchor="end">'
            f"{_attr(need)}</text>"
        )
        for k, member in enumerate(columns):
            value = float(covers.get(member, {}).get(need, 0.0))
            fill = HEAT_COLOURS[heat_bucket(value)]
            x = label_w + _CELL_W * k
            out.append(
                f'<g class="cell" data-need="{_attr(need)}" data-member="{_attr(member)}">'
                f"<title>{_attr(names.get(member, member))} covers {_attr(need)}: "
                f"{value:.2f}</title>"
                f'<rect x="{x}" y="{y}" width="{_CELL_W}" height="{_CELL_H}" fill="{fill}" '
                'stroke="#ffffff" stroke-width="1.5"></rect>'
                f'<text x="{x + _CELL_W / 2:.1f}" y="{y + _CELL_H / 2 + 4:.1f}" '
                f'text-anchor="middle" fill="{text_colour(fill)}">{value:.2f}</text></g>'
            )
    out.append('</g>\n<g class="legend">')
    out.append(f'<text x="12" y="{legend_top - 4}" font-size="11">Coverage (cell colour):</text>')
    steps = len(HEAT_COLOURS) - 1
    for k, colour in enumerate(HEAT_COLOURS):
        x, y = 12 + 86 * (k % 5), legend_top + 6 + 24 * (k // 5)
        label = "0" if k == 0 else f"{'>0' if k == 1 else f'{(k - 1) / steps:g}'}-{k / steps:g}"
        out.append(
            f'<rect x="{x}" y="{y}" width="14" height="14" fill="{colour}" stroke="#999999">'
            f'</rect><text x="{x + 19}" y="{y + 11}" font-size="10">{label}</text>'
        )
    out.append("</g>\n</svg>")
    return "\n".join(out)


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
