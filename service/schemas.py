"""Request and response schemas of the HTTP API (pydantic v2), in pairs: ``...In`` validates
a request body, ``...Out`` shapes a response. The OpenAPI document is generated from them.

Codes (kinds, themes, capabilities, countries, ...) are checked against the taxonomies by
the domain after these schemas check shapes and ranges, so one error names one field path.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from matcher.domain.model import ID_PATTERN as DOMAIN_ID_PATTERN

#: The domain's one id rule (:data:`matcher.domain.model.ID_PATTERN`), as imports apply it.
ID_PATTERN = f"^{DOMAIN_ID_PATTERN.pattern}$"
Id = Annotated[str, Field(pattern=ID_PATTERN, min_length=1, max_length=64, examples=["unicef"])]
Code = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=10_000)]


class Strict(BaseModel):
    """A JSON body: unknown fields are errors (a typo must not be silently ignored) and types
    are not coerced (``false`` is not ``0``, ``"3"`` is not ``3``); numbers are finite
    (``1e400``, ``Infinity`` and ``NaN`` are errors: they are not JSON and cannot be stored)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class Query(BaseModel):
    """Query parameters: unknown ones are errors; values arrive as text and are converted."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


# ---- errors ---------------------------------------------------------------------------------


class FieldProblem(BaseModel):
    path: str = Field(description="Dotted path of the offending field, e.g. needs.0.weight")
    message: str


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


# ---- paging ---------------------------------------------------------------------------------


class PageQuery(Query):
    offset: int = Field(0, ge=0, le=10_000_000)
    limit: int = Field(50, ge=1, le=500)


class PageInfo(BaseModel):
    total: int
    offset: int
    limit: int
    next_offset: int | None


# ---- organisations --------------------------------------------------------------------------


class CapabilityIn(Strict):
    capability: Code
    strength: float = Field(1.0, ge=0, le=1)
    quantity: float | None = Field(None, ge=0)
    unit: str | None = Field(None, max_length=16)
    source: Text = ""


class OrganisationFields(Strict):
    name: Annotated[str, Field(min_length=1, max_length=500)]
    kind: Code
    sector: Code | None = None
    country: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    size: Code | None = None
    themes: list[Code] = Field(default_factory=list, max_length=200)
    resources: list[Code] = Field(default_factory=list, max_length=50)
    motivations: list[Code] = Field(default_factory=list, max_length=50)
    gc_status: Code | None = None
    verified_on: dt.date | None = Field(None, strict=False, description="ISO date")
    max_active: int | None = Field(None, ge=1, le=1_000_000)
    description: Text = ""
    aliases: list[Annotated[str, Field(max_length=500)]] = Field(
        default_factory=list, max_length=50
    )
    source: Text = ""
    identifiers: list[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s;]+$")]] = (
        Field(
            default_factory=list,
            max_length=50,
            description="Registry identifiers, e.g. the IATI organisation id XM-DAC-41122",
        )
    )
    capabilities: list[CapabilityIn] = Field(default_factory=list, max_length=500)


class OrganisationIn(OrganisationFields):
    id: Id


class OrganisationUpdateIn(OrganisationFields):
    """The whole organisation (PUT); the id is the path's."""


class CapabilityOut(BaseModel):
    capability: str
    strength: float
    quantity: float | None = None
    unit: str | None = None
    source: str = ""


class OrganisationOut(BaseModel):
    id: str
    name: str
    kind: str
    sector: str | None
    country: str | None
    size: str | None
    themes: list[str]
    resources: list[str]
    motivations: list[str]
    gc_status: str | None
    verified_on: dt.date | None
    max_active: int | None
    description: str
    aliases: list[str]
    source: str
    identifiers: list[str]
    capabilities: list[CapabilityOut]
    version: int


class OrganisationQuery(PageQuery):
    kind: Code | None = None
    sector: Code | None = None
    country: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    region: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="UN M49 region, e.g. Africa"
    )
    theme: Code | None = None
    capability: Code | None = Field(None, description="Matches the code and its descendants")
    q: Annotated[str, Field(max_length=200)] | None = Field(None, description="Name contains")


class OrganisationPage(PageInfo):
    items: list[OrganisationOut]


# ---- partnerships ---------------------------------------------------------------------------


class MemberIn(Strict):
    org_id: Id
    role: Literal["lead", "funder", "implementer", "technical", "convener", "member"] = "member"
    contribution_usd: float | None = Field(None, ge=0)


class PartnershipFields(Strict):
    name: Annotated[str, Field(min_length=1, max_length=500)]
    start_year: int | None = Field(None, ge=1900, le=2100)
    end_year: int | None = Field(None, ge=1900, le=2100)
    countries: list[Annotated[str, Field(min_length=2, max_length=3)]] = Field(
        default_factory=list, max_length=300
    )
    themes: list[Code] = Field(default_factory=list, max_length=200)
    activity_types: list[Code] = Field(default_factory=list, max_length=6)
    amount_usd: float | None = Field(None, ge=0)
    outcome: Code | None = None
    source: Text = ""
    description: Text = ""
    members: list[MemberIn] = Field(default_factory=list, max_length=2000)


class PartnershipIn(PartnershipFields):
    id: Id


class PartnershipUpdateIn(PartnershipFields):
    """The whole partnership (PUT); the id is the path's."""


class MemberOut(BaseModel):
    org_id: str
    role: str
    contribution_usd: float | None


class PartnershipOut(BaseModel):
    id: str
    name: str
    start_year: int | None
    end_year: int | None
    countries: list[str]
    themes: list[str]
    activity_types: list[str]
    amount_usd: float | None
    outcome: str | None
    source: str
    description: str
    members: list[MemberOut]
    version: int


class PartnershipQuery(PageQuery):
    theme: Code | None = None
    country: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    org_id: Id | None = Field(None, description="Partnerships this organisation is in")
    q: Annotated[str, Field(max_length=200)] | None = None


class PartnershipPage(PageInfo):
    items: list[PartnershipOut]


# ---- initiatives (DESIGN.md 5.2) ------------------------------------------------------------


class NeedIn(Strict):
    capability: Code
    weight: float = Field(1.0, gt=0, le=100)
    quantity: float | None = Field(None, ge=0)


class ConstraintsIn(Strict):
    min_size: int = Field(1, ge=1, le=50)
    max_size: int = Field(5, ge=1, le=50)
    include: list[Id] = Field(default_factory=list, max_length=50)
    exclude: list[Id] = Field(default_factory=list, max_length=1000)
    required_sectors: list[Code] = Field(default_factory=list, max_length=5)
    required_kinds: list[Code] = Field(default_factory=list, max_length=20)
    require_local_partner: StrictBool = False
    budget_usd: float | None = Field(None, ge=0)
    allow_lead_as_implementer: StrictBool = False


class InitiativeFields(Strict):
    title: Annotated[str, Field(max_length=500)] = ""
    description: Text = ""
    source: Annotated[str, Field(max_length=500, description="Where it comes from, e.g. §52")] = ""
    lead: Id
    themes: list[Code] = Field(default_factory=list, max_length=50)
    countries: list[Annotated[str, Field(min_length=2, max_length=3)]] = Field(
        default_factory=list, max_length=300
    )
    activity_types: list[Code] = Field(default_factory=list, max_length=6)
    needs: list[NeedIn] = Field(default_factory=list, max_length=50)
    constraints: ConstraintsIn = Field(default_factory=ConstraintsIn)
    count: int = Field(3, ge=1, le=20, description="Number of distinct coalitions")
    complementarity: Literal["strict", "prefer", "off"] | None = Field(
        None,
        description="A member that adds nothing unique is forbidden (strict), penalised "
        "(prefer, the default) or ignored (off)",
    )


class RecommendationIn(InitiativeFields):
    """An initiative to recommend for; it need not be stored."""

    id: Id | None = None


class InitiativeIn(InitiativeFields):
    id: Id


class InitiativeUpdateIn(InitiativeFields):
    """The whole initiative (PUT); the id is the path's."""


class InitiativeOut(InitiativeFields):
    model_config = ConfigDict(extra="ignore")
    id: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    created_by: str = Field(description="Who created it: only they (or an admin) may change it")
    archived_at: dt.datetime | None = Field(
        None, description="When it was archived (closed to edits and new proposals)"
    )


class DraftIn(Strict):
    """A concept note to read into a draft initiative."""

    text: Annotated[
        str,
        Field(min_length=1, max_length=10_000, description="The note, in English or French"),
    ]


class SuggestionOut(BaseModel):
    field: Literal["lead", "themes", "countries", "activity_types", "needs", "partners"]
    value: str
    label: str
    phrase: str = Field(description="The words of the note that triggered it")
    confidence: float = Field(ge=0, le=1)
    method: str = Field(description="label, keyword, similar, name, demonym, region or named")
    position: int = Field(description="Offset of the phrase in the note")
    weight: float | None = Field(None, description="A need's weight")


class DraftOut(BaseModel):
    language: Literal["en", "fr"]
    initiative: dict[str, Any] = Field(
        description="The suggestions of confidence at least 0.5, as an initiative (no lead "
        "when the note names no known organisation)"
    )
    suggestions: list[SuggestionOut]


class InitiativeQuery(PageQuery):
    lead: Id | None = None
    include_archived: bool = Field(False, description="List archived initiatives too")


class InitiativePage(PageInfo):
    items: list[InitiativeOut]


# ---- recommendations ------------------------------------------------------------------------


class FlagOut(BaseModel):
    category: str
    level: str
    note: str
    dismissed_by: str | None = None


class CoalitionMemberOut(BaseModel):
    id: str
    name: str
    kind: str
    country: str | None
    covers: dict[str, float]
    activity_types: list[str]
    marginal_gain: float
    path_to_lead: list[str]
    flags: list[FlagOut]
    evidence: list[str]
    reasons: list[str] = Field(
        default_factory=list,
        description=(
            "Why this member, in English sentences built from the evidence: what it covers "
            "and from where (taxonomy labels, the report's §), the past partnerships that "
            "show it (name, countries, year), who introduces it, and an earlier rejection "
            "for the same lead. Absent from proposals stored before it existed."
        ),
        examples=[
            [
                "Itau covers funding fully through social investment (§49).",
                "United Nations Children's Fund (UNICEF) worked with Itau in \"Improving "
                'education in Brazil (UNICEF, Itau, CENPEC)" (Brazil, 1994).',
            ]
        ],
    )


class GapOut(BaseModel):
    need: str
    coverage: float
    best_partner: str | None
    best_partner_name: str
    best_partner_coverage: float


class CoalitionOut(BaseModel):
    members: list[CoalitionMemberOut]
    score: float
    score_parts: dict[str, float]
    gaps: list[GapOut]
    solver: str
    optimality_gap: float | None


class ExclusionOut(BaseModel):
    id: str
    gate: str
    reason: str


class OrganisationRefOut(BaseModel):
    id: str
    name: str
    kind: str
    country: str | None


class ConstraintOut(BaseModel):
    path: str
    value: Any


class RelaxationOut(BaseModel):
    change: list[ConstraintOut]
    description: str
    coalitions: int
    best_score: float
    members: list[OrganisationRefOut]


class InfeasibleOut(BaseModel):
    constraints: list[ConstraintOut]
    reason: str
    relaxations: list[RelaxationOut]


class RecommendationOut(BaseModel):
    initiative: str
    lead: OrganisationRefOut
    data_version: int
    coalitions: list[CoalitionOut]
    excluded: list[ExclusionOut]
    pool_size: int
    infeasible: list[InfeasibleOut]


class CompletionIn(Strict):
    initiative: RecommendationIn
    members: list[Id] = Field(min_length=1, max_length=49)
    k: int = Field(10, ge=1, le=100)


class CandidateOut(BaseModel):
    id: str
    gain: float
    score_parts: dict[str, float]
    covers: dict[str, float]
    path_to_lead: list[str]
    reasons: list[str]


class CompletionOut(BaseModel):
    data_version: int
    candidates: list[CandidateOut]


class WhatIfIn(Strict):
    initiative: RecommendationIn
    members: list[Id] = Field(min_length=1, max_length=50)
    swap_out: Id | None = Field(None, description="A member to take out")
    swap_in: Id | None = Field(None, description="An organisation to put in")


class WhatIfOut(BaseModel):
    data_version: int
    before: CoalitionOut
    after: CoalitionOut
    score_change: float
    parts_change: dict[str, float]


# ---- network --------------------------------------------------------------------------------


class CollaboratorOut(BaseModel):
    id: str
    name: str
    weight: float = Field(description="Recency-weighted shared partnerships")


class NetworkQuery(Query):
    target: Id | None = Field(None, description="Show the warmest introduction path to it")
    limit: int = Field(50, ge=1, le=500)


class NetworkOut(BaseModel):
    id: str
    data_version: int
    collaborators: list[CollaboratorOut]
    target: str | None = None
    path_to_target: list[str] | None = None


# ---- proposals and reviews ------------------------------------------------------------------


class ProposedMemberIn(BaseModel):
    """A member of a recommended coalition: only its id is read."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)
    id: Id


class ProposedCoalitionIn(BaseModel):
    """A coalition as a recommendation returned it: only its members' ids are read; the
    engine recomputes its score, flags, gaps and explanations."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)
    members: list[ProposedMemberIn] = Field(max_length=50)


class ProposalIn(Strict):
    """The coalition to propose: its member ids (``members``), or a coalition a
    recommendation returned (``coalition``, of which only the member ids are read). The
    server recomputes the coalition with the engine; a member that is unknown, listed twice
    or kept out by a hard gate is a 422 naming it."""

    members: list[Id] | None = Field(None, max_length=50, examples=[["itau", "cenpec"]])
    coalition: ProposedCoalitionIn | None = None

    @model_validator(mode="after")
    def _one_form(self) -> ProposalIn:
        if (self.members is None) == (self.coalition is None):
            raise ValueError("Give the members or coalition to propose (one of the two)")
        return self


class ReviewIn(Strict):
    decision: Literal["approve", "reject", "request_changes"]
    reason_code: Literal[
        "complementary_fit",
        "integrity_concern",
        "missing_capability",
        "conflict_of_interest",
        "capacity",
        "other",
    ]
    comment: Annotated[str, Field(max_length=5000)] = ""


class ReviewOut(BaseModel):
    id: int
    reviewer: str
    decision: str
    reason_code: str
    comment: str
    created_at: dt.datetime


class ProposalOut(BaseModel):
    id: int
    initiative_id: str
    members: list[str]
    score: float
    coalition: CoalitionOut
    status: str
    proposed_by: str
    version: int
    created_at: dt.datetime
    reviews: list[ReviewOut]


class ProposalQuery(PageQuery):
    status: Literal["proposed", "approved", "rejected", "changes_requested"] | None = None
    lead: Id | None = None
    theme: Code | None = None
    country: Annotated[str, Field(min_length=2, max_length=3)] | None = None
    sort: Literal["created_at", "-created_at", "score", "-score", "id", "-id"] = "-created_at"


class ProposalPage(PageInfo):
    items: list[ProposalOut]


# ---- audit, keys, health, import ------------------------------------------------------------


class AuditOut(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    detail: dict[str, Any]


class AuditQuery(PageQuery):
    entity_type: Annotated[str, Field(max_length=32)] | None = None
    entity_id: Annotated[str, Field(max_length=128)] | None = None
    actor: Annotated[str, Field(max_length=128)] | None = None


class AuditPage(PageInfo):
    items: list[AuditOut]


class HealthOut(BaseModel):
    status: str
    data_version: int | None = Field(None, description="The database's data version now.")
    index_version: int | None = Field(
        None,
        description=(
            "The data version this worker's engine answers for: data_version once it serves "
            "every write (a rejection within a poll; other writes after the index is rebuilt)."
        ),
    )
    detail: str | None = None


class ImportOut(BaseModel):
    data_version: int
    summary: dict[str, Any]
    tables: dict[str, dict[str, int]]
