"""The broker's initiative form: the submitted fields to an initiative's JSON form (DESIGN.md
5.2) and back, with each problem attached to the field that caused it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic

from matcher.domain.exceptions import ValidationError
from matcher.domain.taxonomy import Taxonomies
from matcher.usecases.editing import check_initiative
from service.schemas import RecommendationIn

__all__ = [
    "MAX_NEEDS",
    "InitiativeForm",
    "form_from_request",
    "form_from_body",
    "field_for_path",
    "field_label",
]

MAX_NEEDS = 30
#: Empty need rows offered below the filled ones (no JavaScript needed to add one).
SPARE_NEEDS = 3
_NEED = re.compile(r"^need-(\d+)-(capability|weight|quantity)$")
_LIST_SPLIT = re.compile(r"[\s,;]+")


@dataclass
class InitiativeForm:
    """The form's values as the person typed them, and the problems found, by field name."""

    values: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    @property
    def need_rows(self) -> list[dict[str, str]]:
        rows = list(self.values.get("needs") or [])
        while rows and not any(rows[-1].values()):
            rows.pop()
        spare = min(SPARE_NEEDS, MAX_NEEDS - len(rows))
        return rows + [{"capability": "", "weight": "", "quantity": ""} for _ in range(spare)]


def form_from_request(form: Mapping[str, Any], getlist: Any) -> InitiativeForm:
    """The raw values of a submitted form (``getlist`` reads a multi-valued field)."""
    needs: dict[int, dict[str, str]] = {}
    for name in form:
        match = _NEED.match(name)
        if match and int(match.group(1)) < MAX_NEEDS:
            row = needs.setdefault(
                int(match.group(1)), {"capability": "", "weight": "", "quantity": ""}
            )
            row[match.group(2)] = str(form[name]).strip()
    values: dict[str, Any] = {
        name: str(form.get(name, "")).strip()
        for name in (
            "id",
            "title",
            "description",
            "source",
            "lead",
            "countries",
            "min_size",
            "max_size",
            "include",
            "exclude",
            "budget_usd",
            "count",
        )
    }
    values.update(
        {
            "themes": [str(v) for v in getlist("themes")],
            "activity_types": [str(v) for v in getlist("activity_types")],
            "required_sectors": [str(v) for v in getlist("required_sectors")],
            "required_kinds": [str(v) for v in getlist("required_kinds")],
            "require_local_partner": bool(form.get("require_local_partner")),
            "allow_lead_as_implementer": bool(form.get("allow_lead_as_implementer")),
            "needs": [needs[k] for k in sorted(needs)],
        }
    )
    return InitiativeForm(values)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def form_from_body(body: Mapping[str, Any], initiative_id: str = "") -> InitiativeForm:
    """The form filled in from an initiative's JSON form (to start from a stored one)."""
    constraints = body.get("constraints") or {}
    return InitiativeForm(
        {
            "id": initiative_id,
            "title": _text(body.get("title")),
            "description": _text(body.get("description")),
            "source": _text(body.get("source")),
            "lead": _text(body.get("lead")),
            "countries": ", ".join(body.get("countries") or ()),
            "themes": list(body.get("themes") or ()),
            "activity_types": list(body.get("activity_types") or ()),
            "needs": [
                {
                    "capability": _text(n.get("capability")),
                    "weight": _text(n.get("weight", 1.0)),
                    "quantity": _text(n.get("quantity")),
                }
                for n in body.get("needs") or ()
            ],
            "min_size": _text(constraints.get("min_size", 2)),
            "max_size": _text(constraints.get("max_size", 5)),
            "include": ", ".join(constraints.get("include") or ()),
            "exclude": ", ".join(constraints.get("exclude") or ()),
            "required_sectors": list(constraints.get("required_sectors") or ()),
            "required_kinds": list(constraints.get("required_kinds") or ()),
            "require_local_partner": bool(constraints.get("require_local_partner")),
            "allow_lead_as_implementer": bool(constraints.get("allow_lead_as_implementer")),
            "budget_usd": _text(constraints.get("budget_usd")),
            "count": _text(body.get("count", 3)),
        }
    )


_LABELS = {
    "lead": "Lead entity",
    "title": "Title",
    "description": "Description",
    "source": "Source",
    "countries": "Target countries",
    "themes": "Themes",
    "activity_types": "Activity types",
    "needs": "Needs",
    "min_size": "Smallest coalition",
    "max_size": "Largest coalition",
    "count": "Number of coalitions",
    "budget_usd": "Budget",
    "include": "Must include",
    "exclude": "Exclude",
    "required_sectors": "Sectors",
    "required_kinds": "Kinds of organisation",
    "partners": "Organisations named",
}


def field_label(name: str) -> str:
    """How the form labels a field, for the list of problems above it.

    >>> field_label("need-0-weight"), field_label("max_size")
    ('Need 1: weight', 'Largest coalition')
    """
    match = _NEED.match(name)
    if match:
        return f"Need {int(match.group(1)) + 1}: {match.group(2)}"
    return _LABELS.get(name, name)


def field_for_path(path: str) -> str:
    """The form field of a JSON path named by a validation error.

    >>> field_for_path("needs.2.weight"), field_for_path("constraints.min_size")
    ('need-2-weight', 'min_size')
    >>> field_for_path("themes.0"), field_for_path("needs"), field_for_path("constraints")
    ('themes', 'needs', 'min_size')
    """
    parts = path.split(".")
    if parts[0] == "needs" and len(parts) >= 3 and parts[1].isdigit():
        return f"need-{parts[1]}-{parts[2]}"
    if parts[0] == "needs" and len(parts) == 2 and parts[1].isdigit():
        return f"need-{parts[1]}-capability"
    if parts[0] == "constraints":
        return parts[1] if len(parts) > 1 else "min_size"
    return parts[0]


def _number(form: InitiativeForm, name: str, raw: str, kind: type) -> Any:
    if raw == "":
        return None
    try:
        return kind(raw)
    except ValueError:
        form.error(name, "Enter a whole number" if kind is int else "Enter a number")
        return None


def _ids(raw: str) -> list[str]:
    return [part for part in _LIST_SPLIT.split(raw) if part]


def build_body(form: InitiativeForm, taxonomies: Taxonomies) -> dict[str, Any] | None:
    """The initiative's JSON form, checked like the API checks it; ``None`` (and
    ``form.errors`` filled in) when something is wrong."""
    v = form.values
    if not v.get("lead"):
        form.error("lead", "Name the lead entity (its id, e.g. unicef)")
    needs = []
    for k, row in enumerate(v.get("needs") or ()):
        if not row.get("capability"):
            if row.get("weight") or row.get("quantity"):
                form.error(f"need-{k}-capability", "Choose the capability this row needs")
            continue
        need: dict[str, Any] = {"capability": row["capability"]}
        weight = _number(form, f"need-{k}-weight", row.get("weight", ""), float)
        if weight is not None:
            need["weight"] = weight
        quantity = _number(form, f"need-{k}-quantity", row.get("quantity", ""), float)
        if quantity is not None:
            need["quantity"] = quantity
        needs.append((k, need))
    constraints: dict[str, Any] = {
        "include": _ids(v.get("include", "")),
        "exclude": _ids(v.get("exclude", "")),
        "required_sectors": list(v.get("required_sectors") or ()),
        "required_kinds": list(v.get("required_kinds") or ()),
        "require_local_partner": bool(v.get("require_local_partner")),
        "allow_lead_as_implementer": bool(v.get("allow_lead_as_implementer")),
    }
    for name in ("min_size", "max_size"):
        number = _number(form, name, v.get(name, ""), int)
        if number is not None:
            constraints[name] = number
    budget = _number(form, "budget_usd", v.get("budget_usd", ""), float)
    if budget is not None:
        constraints["budget_usd"] = budget
    body: dict[str, Any] = {
        "title": v.get("title", ""),
        "description": v.get("description", ""),
        "source": v.get("source", ""),
        "lead": v.get("lead", ""),
        "themes": list(v.get("themes") or ()),
        "countries": [c.upper() for c in _ids(v.get("countries", ""))],
        "activity_types": list(v.get("activity_types") or ()),
        "needs": [need for _, need in needs],
        "constraints": constraints,
    }
    count = _number(form, "count", v.get("count", ""), int)
    if count is not None:
        body["count"] = count
    if form.errors:
        return None
    # the rows the person filled, so an error on needs.1 points at the right row
    row_of = [k for k, _ in needs]
    try:
        checked = RecommendationIn.model_validate(body).model_dump(mode="json", exclude={"id"})
    except pydantic.ValidationError as err:
        for problem in err.errors():
            path = [str(p) for p in problem["loc"]]
            if len(path) >= 2 and path[0] == "needs" and path[1].isdigit():
                path[1] = str(row_of[int(path[1])])
            form.error(field_for_path(".".join(path)), problem["msg"])
        return None
    if checked["constraints"]["min_size"] > checked["constraints"]["max_size"]:
        form.error("max_size", "The largest size must be at least the smallest size")
        return None
    try:
        check_initiative({**checked, "id": "request"}, taxonomies)
    except ValidationError as err:
        form.error(_form_field(err.field, row_of), str(err))
        return None
    return checked


def _form_field(path: str | None, row_of: list[int]) -> str:
    if not path:
        return "lead"
    parts = path.split(".")
    if len(parts) >= 2 and parts[0] == "needs" and parts[1].isdigit():
        parts[1] = str(row_of[int(parts[1])])
    return field_for_path(".".join(parts))


def error_for(form: InitiativeForm, err: ValidationError) -> None:
    """Attach a domain error raised while recommending (an unknown lead, ...) to its field."""
    row_of = [k for k, row in enumerate(form.values.get("needs") or ()) if row.get("capability")]
    form.error(_form_field(err.field, row_of), str(err))
