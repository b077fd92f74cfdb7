"""The organisation pages (one organisation's record, the search) and the CSV exports of
the review queue and of one proposal. Thin: the use cases build the data."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import make_response, request, url_for
from werkzeug.wrappers import Response

from matcher.domain.exceptions import NotFoundError
from matcher.formats.spreadsheet import spreadsheet_safe
from matcher.storage.catalog import ProposalRecord
from matcher.usecases.organisations import (
    organisation_neighbourhood,
    organisation_profile,
    place_name,
    search_organisations,
)
from service.pages.views import (
    STATUS_LABELS,
    _labeller,
    _snapshot,
    bp,
    country_names,
    error_page,
    page,
    queue_filters,
    requires,
)
from service.services import services

__all__ = ["organisation", "organisations", "queue_csv", "proposal_csv"]

SEARCH_PER_PAGE = 25


@bp.get("/organisations/<org_id>")
@requires("read")
def organisation(org_id: str) -> Response:
    snapshot = _snapshot()
    if snapshot is None:
        return error_page(503, "The recommendation index is being built; try again shortly.")
    try:
        profile = organisation_profile(
            organisation_neighbourhood(services().repository, services().catalog, org_id),
            services().catalog,
            org_id,
        )
    except NotFoundError:
        return error_page(404, f"No organisation has the id “{org_id}” in the served data.")
    return page("organisation.html", profile=profile, data_version=snapshot.data_version)


@bp.get("/organisations")
@requires("read")
def organisations() -> Response:
    args = request.args
    snapshot = _snapshot()
    taxonomies = snapshot.dataset.taxonomies if snapshot else services().taxonomies
    filters = {
        name: args.get(name, "").strip() for name in ("q", "kind", "country", "theme", "capability")
    }
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        number = 1
    result = search_organisations(
        services().catalog,
        taxonomies,
        country_names(),
        text=filters["q"],
        kind=filters["kind"],
        country=filters["country"],
        theme=filters["theme"],
        capability=filters["capability"],
        offset=(number - 1) * SEARCH_PER_PAGE,
        limit=SEARCH_PER_PAGE,
    )
    total = result.page.total
    pages = max(1, -(-total // SEARCH_PER_PAGE))

    def link(to_page: int) -> str:
        kept = {k: v for k, v in filters.items() if v}
        return f"{url_for('pages.organisations')}?{urlencode({**kept, 'page': to_page})}"

    rows = [
        {
            "org": r.organisation,
            "kind": _term(taxonomies.kinds, r.organisation.kind.value),
            "country": place_name(r.organisation.country),
            "capabilities": [
                _term(taxonomies.capabilities, c.capability)
                for c in sorted(r.capabilities, key=lambda c: -c.strength)[:4]
            ],
        }
        for r in result.page.items
    ]
    return page(
        "organisations.html",
        filters=filters,
        rows=rows,
        total=total,
        problems=result.problems,
        countries=[place_name(c) for c in result.countries],
        kinds=[(c, t.label) for c, t in taxonomies.kinds.items()],
        themes=[(c, t.label) for c, t in taxonomies.themes.items()],
        capabilities=[
            (c, t.label, len(taxonomies.capabilities.ancestors(c)))
            for c, t in taxonomies.capabilities.items()
        ],
        page_number=number,
        pages=pages,
        first_row=(number - 1) * SEARCH_PER_PAGE + 1,
        previous_link=link(number - 1) if number > 1 else None,
        next_link=link(number + 1) if number < pages else None,
        searched=any(filters.values()),
    )


def _term(vocabulary: Any, code: str) -> str:
    return str(vocabulary[code].label) if code in vocabulary else code


# ---- CSV exports ---------------------------------------------------------------------------


def csv_response(rows: Iterable[Sequence[object]], filename: str) -> Response:
    """``rows`` as a CSV download, every cell spreadsheet-safe (a cell a spreadsheet would
    run as a formula starts with ``'``)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    response = make_response(buffer.getvalue())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


QUEUE_EXPORT_LIMIT = 5000


@bp.get("/proposals.csv")
@requires("read")
def queue_csv() -> Response:
    """The review queue as filtered on the page, every matching proposal (up to 5,000)."""
    _, query, _ = queue_filters(request.args)
    catalog = services().catalog
    found = catalog.list_proposals(
        status=query["status"] or None,
        lead=query["lead"] or None,
        theme=query["theme"] or None,
        country=query["country"] or None,
        sort=query["sort"],
        limit=QUEUE_EXPORT_LIMIT,
    )
    labeller = _labeller(_snapshot())
    titles: dict[str, tuple[str, str]] = {}
    rows: list[list[object]] = [
        [
            "proposal",
            "status",
            "initiative",
            "title",
            "lead",
            "lead name",
            "members",
            "member names",
            "score",
            "proposed by",
            "proposed at (UTC)",
            "last decision",
            "reason",
            "reviewer",
        ]
    ]
    for record in found.items:
        if record.initiative_id not in titles:
            try:
                initiative = catalog.get_initiative(record.initiative_id)
                titles[record.initiative_id] = (initiative.title, initiative.lead)
            except NotFoundError:
                titles[record.initiative_id] = ("", "")
        title, lead = titles[record.initiative_id]
        last = record.reviews[-1] if record.reviews else None
        rows.append(
            [
                record.id,
                STATUS_LABELS.get(record.status, record.status),
                record.initiative_id,
                title,
                lead,
                labeller.org(lead).name if lead else "",
                "; ".join(record.members),
                "; ".join(labeller.org(m).name for m in record.members),
                f"{record.score:.2f}",
                record.proposed_by,
                record.created_at.strftime("%Y-%m-%d %H:%M"),
                last.decision if last else "",
                last.reason_code if last else "",
                last.reviewer if last else "",
            ]
        )
    return csv_response(rows, "proposals.csv")


@bp.get("/proposals/<int:proposal_id>.csv")
@requires("read")
def proposal_csv(proposal_id: int) -> Response:
    """One proposal, a row per member: what it covers, what it adds, its flags."""
    record: ProposalRecord = services().catalog.get_proposal(proposal_id)
    labeller = _labeller(_snapshot())
    rows: list[list[object]] = [
        [
            "proposal",
            "initiative",
            "status",
            "score",
            "member",
            "name",
            "kind",
            "country",
            "covers",
            "adds to the score",
            "flags",
        ]
    ]
    for member in record.coalition.get("members") or ():
        org = labeller.organisations.get(str(member["id"]))
        covers = "; ".join(
            f"{labeller.code('capabilities', code)} {float(value):.2f}"
            for code, value in (member.get("covers") or {}).items()
        )
        flags = "; ".join(
            f"{f.get('level', '')}: {f.get('category', '')}" for f in member.get("flags") or ()
        )
        rows.append(
            [
                record.id,
                record.initiative_id,
                STATUS_LABELS.get(record.status, record.status),
                f"{record.score:.2f}",
                member["id"],
                labeller.org(str(member["id"])).name,
                labeller.code("kinds", org.kind.value) if org else "",
                place_name(org.country) if org else "",
                covers,
                f"{float(member.get('marginal_gain') or 0.0):.2f}",
                flags,
            ]
        )
    return csv_response(rows, f"proposal-{proposal_id}.csv")
