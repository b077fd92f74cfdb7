"""``/v1/recommendations`` and ``/v1/coalitions``: coalitions for an initiative, "who should
join this partial coalition?", and what-if (lock members, swap one, see the change)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from apiflask import APIBlueprint

from matcher.domain.exceptions import ValidationError
from matcher.domain.model import Initiative
from matcher.engine.recommend import coalition_dict
from matcher.usecases.editing import check_initiative
from matcher.usecases.proposing import check_members, evaluate_members
from service.api import snapshot
from service.auth import auth, roles_for
from service.holder import Snapshot
from service.schemas import (
    CompletionIn,
    CompletionOut,
    RecommendationIn,
    RecommendationOut,
    WhatIfIn,
    WhatIfOut,
)

bp = APIBlueprint("recommendations", __name__, url_prefix="/v1", tag="Recommendations")


def _served_initiative(body: Mapping[str, Any]) -> tuple[Snapshot, Initiative]:
    """The engine to answer with, and the initiative's JSON form checked against its
    vocabularies (``request`` when it has no id): one snapshot serves both."""
    current = snapshot()
    initiative = check_initiative(
        {**body, "id": body.get("id") or "request"}, current.dataset.taxonomies
    )
    return current, initiative


def recommendation_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """Recommend for an initiative's JSON form; the answer carries its data version."""
    current, initiative = _served_initiative(body)
    result = current.engine.recommend(initiative).to_dict()
    return {**result, "data_version": current.data_version}


@bp.post("/recommendations")
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.input(RecommendationIn, location="json")
@bp.output(RecommendationOut)
@bp.doc(responses={503: "The recommendation index is being built"})
def recommend(json_data: RecommendationIn) -> dict[str, Any]:
    """Ranked, explained, distinct coalitions for an initiative (DESIGN.md 5.2)."""
    return recommendation_body(json_data.model_dump(mode="json"))


@bp.post("/coalitions/complete")
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.input(CompletionIn, location="json")
@bp.output(CompletionOut)
def complete(json_data: CompletionIn) -> dict[str, Any]:
    """Who should join this partial coalition: ranked candidates for one more seat."""
    current, initiative = _served_initiative(json_data.initiative.model_dump(mode="json"))
    candidates = current.engine.complete(initiative, json_data.members, k=json_data.k)
    return {
        "data_version": current.data_version,
        "candidates": [
            {
                "id": c.id,
                "gain": c.gain,
                "score_parts": dict(c.score_parts),
                "covers": dict(c.covers),
                "path_to_lead": list(c.path_to_lead),
                "reasons": list(c.reasons),
            }
            for c in candidates
        ],
    }


@bp.post("/coalitions/what-if")
@bp.auth_required(auth, roles=roles_for("recommend"))
@bp.input(WhatIfIn, location="json")
@bp.output(WhatIfOut)
def what_if(json_data: WhatIfIn) -> dict[str, Any]:
    """Score a coalition as it is and after swapping one member, with the change per term."""
    current, initiative = _served_initiative(json_data.initiative.model_dump(mode="json"))
    before = list(json_data.members)
    paths = [f"members.{k}" for k in range(len(before))]
    after, after_paths = list(before), list(paths)
    if json_data.swap_out is not None:
        if json_data.swap_out not in after:
            raise ValidationError(
                f"{json_data.swap_out!r} is not a member",
                field="swap_out",
                value=json_data.swap_out,
            )
        del after_paths[after.index(json_data.swap_out)]
        after.remove(json_data.swap_out)
    if json_data.swap_in is not None:
        if json_data.swap_in in after:
            raise ValidationError(
                f"{json_data.swap_in!r} is already a member",
                field="swap_in",
                value=json_data.swap_in,
            )
        after.append(json_data.swap_in)
        after_paths.append("swap_in")
    if not after:
        raise ValidationError("The swap leaves no member", field="swap_out")
    engine = current.engine
    check_members(engine, initiative, before, paths=paths)
    check_members(engine, initiative, after, paths=after_paths)
    explained = [
        coalition_dict(evaluate_members(engine, initiative, members)) for members in (before, after)
    ]
    parts = {
        term: round(explained[1]["score_parts"][term] - explained[0]["score_parts"][term], 12)
        for term in explained[0]["score_parts"]
    }
    return {
        "data_version": current.data_version,
        "before": explained[0],
        "after": explained[1],
        "score_change": explained[1]["score"] - explained[0]["score"],
        "parts_change": parts,
    }
