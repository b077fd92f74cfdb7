"""What a coalition page shows, computed from a coalition's JSON form and the served data.

The template only lays these out: every number, label and colour is decided here, in
:mod:`service.pages.render` or, for the picture, in :mod:`service.pictures`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, has_app_context, url_for
from markupsafe import Markup

from matcher.domain.model import Organisation
from matcher.domain.taxonomy import Taxonomies
from matcher.engine.reasons import (
    needs_sentence,
    share_of_best,
    share_sentence,
    solver_sentence,
)
from service.pages.render import HEAT_COLOURS, Bar, heat_bucket, humanise, score_bars, usd
from service.pictures import Picture, coalition_picture, coalition_svg, short_label

__all__ = [
    "Label",
    "MemberView",
    "HeatCell",
    "HeatRow",
    "ActivityView",
    "PartView",
    "GapView",
    "CoalitionView",
    "Comparison",
    "Labeller",
    "coalition_view",
    "compare",
    "tie_lookup",
    "organisation_url",
]


@dataclass(frozen=True, slots=True)
class Label:
    """An organisation as the pages name it."""

    id: str
    name: str
    short: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class MemberView:
    org: Label
    kind: str
    sector: str
    country: str
    flags: tuple[Mapping[str, Any], ...]
    covers: tuple[tuple[str, float], ...]
    activity_types: tuple[str, ...]
    marginal_gain: float
    path: tuple[Label, ...]
    evidence: tuple[str, ...]
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HeatCell:
    value: float
    text: str
    css: str


@dataclass(frozen=True, slots=True)
class HeatRow:
    code: str
    label: str
    weight: float
    cells: tuple[HeatCell, ...]
    best: HeatCell


@dataclass(frozen=True, slots=True)
class ActivityView:
    code: str
    label: str
    members: tuple[Label, ...]


@dataclass(frozen=True, slots=True)
class PartView:
    term: str
    label: str
    value: float
    bar: Bar


@dataclass(frozen=True, slots=True)
class GapView:
    code: str
    label: str
    coverage: float
    best_partner: Label | None
    best_partner_coverage: float


@dataclass(frozen=True, slots=True)
class CoalitionView:
    """One coalition, ready to render (see ``templates/pages/_coalition.html``)."""

    key: str
    lead: Label
    members: tuple[MemberView, ...]
    score: float
    parts: tuple[PartView, ...]
    parts_total: float
    bar_width: float
    bar_axis: float
    picture: Picture
    heat_rows: tuple[HeatRow, ...]
    activities: tuple[ActivityView, ...]
    gaps: tuple[GapView, ...]
    solver: str
    optimality_gap: float | None
    share_of_best: float | None = None
    needs_covered: int = 0
    needs_total: int = 0
    solver_text: str = ""

    @property
    def share_text(self) -> str | None:
        """``at least 87% of the best possible for this request`` (``None`` without a
        bound)."""
        if self.solver == "given":
            return None
        text = share_sentence(self.optimality_gap)
        return f"{text} for this request" if text else None

    @property
    def needs_text(self) -> str:
        """``covers 3 of 4 needs``."""
        return needs_sentence(self.needs_covered, self.needs_total)

    @property
    def member_ids(self) -> frozenset[str]:
        return frozenset(m.org.id for m in self.members)

    @property
    def picture_svg(self) -> Markup:
        """The picture as inline SVG, described by the figure's caption."""
        return coalition_svg(self.picture, key=self.key, caption_id=f"{self.key}-svg-caption")


#: Human names of the score terms (matcher.engine.objective.TERMS).
TERM_LABELS: Mapping[str, str] = {
    "need_coverage": "Need coverage",
    "activity_coverage": "Activity-type coverage",
    "sector_diversity": "Sector diversity",
    "geographic_balance": "Geographic balance",
    "local_partner": "Local partner",
    "geographic_fit": "Geographic fit",
    "resource_mix": "Mix of resources and power",
    "interest_alignment": "Convergence of interests",
    "mission_fit": "Past work like this initiative",
    "trust": "Trust (earlier collaboration)",
    "cohesion": "Cohesion among members",
    "novelty": "Something new (new partners)",
    "track_record": "Track record",
    "size_cost": "Coordination cost (size)",
    "flag_penalty": "Integrity flags",
    "redundancy": "Members without a skill of their own",
    "rejected": "Rejected before for this lead",
}


def organisation_url(org_id: str) -> str | None:
    """The organisation page's address, when the pages serve one (``None`` otherwise)."""
    if not has_app_context() or "pages.organisation" not in current_app.view_functions:
        return None
    return url_for("pages.organisation", org_id=org_id)


class Labeller:
    """Names of organisations and codes, from the served dataset and taxonomies."""

    def __init__(self, organisations: Mapping[str, Organisation], taxonomies: Taxonomies):
        self.organisations = organisations
        self.taxonomies = taxonomies

    def org(self, org_id: str) -> Label:
        found = self.organisations.get(org_id)
        name = found.name if found is not None else org_id
        return Label(org_id, name, short_label(name), organisation_url(org_id) if found else None)

    def code(self, vocabulary: str, code: str) -> str:
        terms = getattr(self.taxonomies, vocabulary)
        return terms[code].label if code in terms else humanise(code)

    def codes(self, vocabulary: str, codes: Sequence[str]) -> str:
        """Several codes as their labels, joined: ``Private sector, Civil society``."""
        return ", ".join(self.code(vocabulary, str(c)) for c in codes)

    def country(self, code: str | None) -> str:
        """A country's name (``Brazil`` for ``BR``); ``global`` for none."""
        if not code:
            return "global"
        countries = self.taxonomies.countries
        return countries[code].name if code in countries else code

    def countries(self, codes: Sequence[str]) -> str:
        """Several countries' names, joined."""
        return ", ".join(self.country(str(c)) for c in codes)

    def quantity(self, capability: str, value: float) -> str:
        """A need's quantity with its unit: USD for funding (and what it covers), else a
        plain count."""
        vocabulary = self.taxonomies.capabilities
        money = capability == "funding" or (
            capability in vocabulary and "funding" in vocabulary.ancestors(capability)
        )
        return usd(value) if money else f"{value:,.0f}"


def tie_lookup(index: Any | None) -> Callable[[str, str], float]:
    """Past-collaboration weight of two organisations from an engine's index (0 without)."""
    if index is None:
        return lambda a, b: 0.0
    position: Mapping[str, int] = index.position
    matrix = index.collaboration

    def weight(a: str, b: str) -> float:
        i, j = position.get(a), position.get(b)
        if i is None or j is None:
            return 0.0
        return float(matrix[i, j])

    return weight


def _cell(value: float) -> HeatCell:
    return HeatCell(value, f"{value:.2f}", f"heat-{heat_bucket(value)}")


def coalition_view(
    coalition: Mapping[str, Any],
    *,
    key: str,
    initiative: Mapping[str, Any],
    labeller: Labeller,
    tie_weight: Callable[[str, str], float],
    first: bool | None = None,
) -> CoalitionView:
    """The view of one coalition (DESIGN.md 5.2's JSON form) of ``initiative``.

    ``first`` says whether it is the engine's first coalition for the request (``None``:
    not known, as for a stored proposal): the solver line says so in words."""
    lead_id = str(initiative["lead"])
    members = list(coalition.get("members") or ())
    member_views = []
    for m in members:
        org = labeller.organisations.get(m["id"])
        member_views.append(
            MemberView(
                org=labeller.org(m["id"]),
                kind=labeller.code("kinds", org.kind.value) if org else "unknown",
                sector=(
                    labeller.code("sectors", org.sector.value) if org and org.sector else "unknown"
                ),
                country=labeller.country(org.country) if org else "unknown",
                flags=tuple(
                    {
                        **f,
                        "level_label": labeller.code("flag_levels", str(f.get("level") or "")),
                        "category_label": labeller.code(
                            "flag_categories", str(f.get("category") or "")
                        ),
                    }
                    for f in m.get("flags") or ()
                ),
                covers=tuple(
                    (labeller.code("capabilities", code), float(value))
                    for code, value in (m.get("covers") or {}).items()
                ),
                activity_types=tuple(
                    labeller.code("activity_types", a) for a in m.get("activity_types") or ()
                ),
                marginal_gain=float(m.get("marginal_gain") or 0.0),
                path=tuple(labeller.org(p) for p in m.get("path_to_lead") or ()),
                evidence=tuple(m.get("evidence") or ()),
                reasons=tuple(m.get("reasons") or ()),
            )
        )

    ids = [m["id"] for m in members]
    names = {i: labeller.org(i).name for i in [lead_id, *ids]}
    paths = {m["id"]: tuple(m.get("path_to_lead") or ()) for m in members}
    for path in paths.values():
        for p in path:
            names.setdefault(p, labeller.org(p).name)
    sectors = {}
    for i in ids:
        org = labeller.organisations.get(i)
        sectors[i] = org.sector.value if org and org.sector else None
    picture = coalition_picture(
        lead_id,
        ids,
        paths,
        names=names,
        sectors=sectors,
        tie_weight=tie_weight,
        flagged=frozenset(m["id"] for m in members if m.get("flags")),
    )

    needs = list(initiative.get("needs") or ())
    need_codes = [str(n["capability"]) for n in needs]
    for m in members:  # a need the coalition covers but the initiative no longer lists
        for code in m.get("covers") or {}:
            if code not in need_codes:
                need_codes.append(code)
                needs.append({"capability": code, "weight": 0.0})
    heat_rows = []
    for need in needs:
        code = str(need["capability"])
        values = [float((m.get("covers") or {}).get(code, 0.0)) for m in members]
        heat_rows.append(
            HeatRow(
                code=code,
                label=labeller.code("capabilities", code),
                weight=float(need.get("weight", 1.0)),
                cells=tuple(_cell(v) for v in values),
                best=_cell(max(values, default=0.0)),
            )
        )

    wanted = list(initiative.get("activity_types") or ())
    activities = tuple(
        ActivityView(
            code,
            labeller.code("activity_types", code),
            tuple(
                labeller.org(m["id"]) for m in members if code in (m.get("activity_types") or ())
            ),
        )
        for code in wanted
    )

    raw_parts = dict(coalition.get("score_parts") or {})
    width = 220.0
    axis, bars = score_bars(list(raw_parts.values()), width)
    parts = tuple(
        PartView(term, TERM_LABELS.get(term, humanise(term)), float(value) + 0.0, bar)
        for (term, value), bar in zip(raw_parts.items(), bars, strict=True)
    )
    gaps = tuple(
        GapView(
            code=str(g["need"]),
            label=labeller.code("capabilities", str(g["need"])),
            coverage=float(g.get("coverage") or 0.0),
            best_partner=labeller.org(g["best_partner"]) if g.get("best_partner") else None,
            best_partner_coverage=float(g.get("best_partner_coverage") or 0.0),
        )
        for g in coalition.get("gaps") or ()
    )
    total_needs = len(initiative.get("needs") or ())
    gap_needs = {str(g["need"]) for g in coalition.get("gaps") or ()}
    solver = str(coalition.get("solver") or "")
    optimality_gap = coalition.get("optimality_gap")
    return CoalitionView(
        key=key,
        lead=labeller.org(lead_id),
        members=tuple(member_views),
        score=float(coalition.get("score") or 0.0),
        parts=parts,
        parts_total=sum(p.value for p in parts),
        bar_width=width,
        bar_axis=axis,
        picture=picture,
        heat_rows=tuple(heat_rows),
        activities=activities,
        gaps=gaps,
        solver=solver,
        optimality_gap=optimality_gap,
        share_of_best=None if solver == "given" else share_of_best(optimality_gap),
        needs_covered=sum(
            1 for n in initiative.get("needs") or () if str(n["capability"]) not in gap_needs
        ),
        needs_total=total_needs,
        solver_text=solver_sentence(solver, optimality_gap, first=first),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """One coalition beside the reference one: what it adds, drops, and the score change."""

    title: str
    score: float
    difference: float
    members: tuple[Label, ...]
    added: tuple[Label, ...]
    removed: tuple[Label, ...]
    gaps: int
    is_reference: bool


def compare(
    reference: Mapping[str, Any],
    others: Sequence[tuple[str, Mapping[str, Any]]],
    labeller: Labeller,
    reference_title: str,
) -> list[Comparison]:
    """The reference coalition then each of ``others`` (title, coalition), side by side."""

    def ids(coalition: Mapping[str, Any]) -> list[str]:
        return [str(m["id"]) for m in coalition.get("members") or ()]

    base = ids(reference)
    base_score = float(reference.get("score") or 0.0)
    columns = [
        Comparison(
            reference_title,
            base_score,
            0.0,
            tuple(labeller.org(i) for i in base),
            (),
            (),
            len(reference.get("gaps") or ()),
            True,
        )
    ]
    for title, other in others:
        members = ids(other)
        score = float(other.get("score") or 0.0)
        columns.append(
            Comparison(
                title,
                score,
                score - base_score,
                tuple(labeller.org(i) for i in members),
                tuple(labeller.org(i) for i in members if i not in base),
                tuple(labeller.org(i) for i in base if i not in members),
                len(other.get("gaps") or ()),
                False,
            )
        )
    return columns


_STEPS = len(HEAT_COLOURS) - 1


#: The colour key of the heat-map: each class and the coverage it stands for.
def _scale_label(k: int) -> str:
    if k == 0:
        return "0"
    low = ">0" if k == 1 else f"{(k - 1) / _STEPS:.2f}"
    return f"{low}–{k / _STEPS:.2f}"


#: The colour key of the heat-map: each class and the coverage it stands for.
HEAT_SCALE: tuple[tuple[str, str], ...] = tuple(
    (f"heat-{k}", _scale_label(k)) for k in range(len(HEAT_COLOURS))
)
