"""The review pages' blueprint and its routes. Thin: they read the request, call the same
use cases as the API (the catalog, the served engine) and hand
:mod:`service.pages.coalition`'s views to the templates."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import heapq
import json
import logging
import secrets
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pydantic
from flask import (
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import ServiceUnavailable as HTTPServiceUnavailable
from werkzeug.wrappers import Response

from matcher.domain.country_names import CountryNames
from matcher.domain.exceptions import NotFoundError, PartnerMatchError, ValidationError
from matcher.engine.intake import ACCEPT_AT, Suggestion
from matcher.storage.catalog import DECISIONS, ConflictError, ProposalRecord, StaleVersionError
from matcher.storage.sql import StorageError
from matcher.usecases.apikeys import PERMISSIONS, Role, parse_key, verify_key
from matcher.usecases.editing import check_initiative
from matcher.usecases.organisations import (
    OrganisationDirectory,
    organisation_neighbourhood,
    organisation_profile,
    place_name,
)
from matcher.usecases.proposing import propose_coalition, propose_in_place_of
from matcher.usecases.starting_points import StartingPoint, starting_points
from service.auth import Caller
from service.holder import Snapshot
from service.html_blueprints import content_security_policy, html_blueprint
from service.logsafe import printable
from service.pages.coalition import (
    HEAT_SCALE,
    Labeller,
    coalition_view,
    compare,
    tie_lookup,
)
from service.pages.forms import (
    MAX_NEEDS,
    InitiativeForm,
    build_body,
    error_for,
    field_label,
    form_from_body,
    form_from_request,
)
from service.pages.render import describe_detail, humanise
from service.pictures import SECTOR_COLOURS
from service.schemas import InitiativeIn, RecommendationIn, ReviewIn
from service.services import services

log = logging.getLogger(__name__)

bp = html_blueprint("pages", __name__, static_url_path="/pages-static")

#: No inline script or style anywhere: everything comes from this origin.
CONTENT_SECURITY_POLICY = content_security_policy()

F = TypeVar("F", bound=Callable[..., Any])

PER_PAGE = 20
STATUSES = ("proposed", "approved", "rejected", "changes_requested")
SORTS = {
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "-score": "Highest score first",
    "score": "Lowest score first",
}
#: The reason codes a decision may carry: the API's, so both stay one list.
REASONS: tuple[str, ...] = typing.get_args(ReviewIn.model_fields["reason_code"].annotation)
DECISION_LABELS = {
    "approve": "Approve",
    "request_changes": "Request changes",
    "reject": "Reject",
}
STATUS_LABELS = {
    "proposed": "Awaiting review",
    "approved": "Approved",
    "rejected": "Rejected",
    "changes_requested": "Changes requested",
}


# ---- who is signed in ----------------------------------------------------------------------


@bp.before_request
def load_caller() -> None:
    """The signed-in caller, re-checked against the stored key on every request."""
    g.caller = None
    if request.endpoint == "pages.static":
        return
    key_id = session.get("key_id")
    if not key_id:
        return
    record = services().catalog.find_key(str(key_id))
    if record is None or record.revoked_at is not None:
        session.clear()
        flash("Your API key was revoked or no longer exists: sign in again.", "error")
        return
    if session.get("role") != record.role:
        session["role"] = record.role
    g.caller = Caller(record.id, Role(record.role), record.name)


def can(permission: str) -> bool:
    caller: Caller | None = g.get("caller")
    return caller is not None and caller.role in PERMISSIONS[permission]


def requires(permission: str) -> Callable[[F], F]:
    """Sign-in (a redirect to it) and a role holding ``permission`` (else 403)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if g.get("caller") is None:
                # back here after signing in (a form's answer cannot be replayed: home)
                target = request.full_path.rstrip("?") if request.method == "GET" else None
                return redirect(url_for("pages.signin", next=target), 303)
            if not can(permission):
                return error_page(403, "Your API key's role may not do this.")
            return view(*args, **kwargs)

        return typing.cast(F, wrapper)

    return decorate


@bp.context_processor
def page_globals() -> dict[str, Any]:
    return {
        "caller": g.get("caller"),
        "can": can,
        "humanise": humanise,
        "describe": describe_detail,
        "status_labels": STATUS_LABELS,
    }


@bp.after_request
def security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["X-Frame-Options"] = "DENY"
    # same-origin, not no-referrer: Flask-WTF checks the Referer of HTTPS form posts
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "pages.static":
        response.headers["Cache-Control"] = "no-store"
    return response


# ---- errors as pages -----------------------------------------------------------------------


def page(template: str, status: int = 200, **context: Any) -> Response:
    response = make_response(render_template(f"pages/{template}", **context), status)
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    return response


def error_page(status: int, message: str) -> Response:
    titles = {
        400: "Bad request",
        403: "Not allowed",
        404: "Not found",
        405: "Method not allowed",
        409: "Conflict",
        413: "Too large",
        422: "Invalid input",
        500: "Something went wrong",
        503: "Service unavailable",
    }
    return page("error.html", status, title=titles.get(status, "Error"), message=message)


@bp.errorhandler(Exception)
def handle_error(error: Exception) -> Response:
    if isinstance(error, CSRFError):
        return error_page(
            400,
            "This form has expired or did not come from this site (missing or invalid CSRF "
            "token). Go back, reload the page and submit it again.",
        )
    if isinstance(error, HTTPException):
        return error_page(error.code or 500, error.description or error.name)
    if isinstance(error, NotFoundError):
        return error_page(404, str(error))
    if isinstance(error, StaleVersionError | ConflictError):
        return error_page(409, str(error))
    if isinstance(error, ValidationError):
        return error_page(422, str(error))
    if isinstance(error, StorageError | OperationalError):
        log.error("storage error: %s", error)
        return error_page(503, "The database is unavailable; try again shortly.")
    log.exception("unhandled error on %s %s", request.method, printable(request.path))
    return error_page(500, "An unexpected error occurred; it has been logged.")


# ---- sign-in -------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str | None:
    """A local path to return to after signing in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _home() -> str:
    if can("review") or not can("recommend"):
        return url_for("pages.queue")
    return url_for("pages.recommend")


@bp.get("/")
def index() -> Response:
    if g.caller is None:
        return redirect(url_for("pages.signin"), 303)
    return redirect(_home(), 303)


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Response:
    next_path = _safe_next(request.values.get("next"))
    if request.method == "GET":
        return page("signin.html", next_path=next_path)
    token = request.form.get("api_key", "").strip()
    parsed = parse_key(token)
    record = services().catalog.find_key(parsed[0]) if parsed else None
    if (
        record is None
        or record.revoked_at is not None
        or not verify_key(token, record.digest, services().key_secret)
    ):
        return page(
            "signin.html",
            401,
            next_path=next_path,
            error="This API key is not valid. Check it, or ask an administrator for one.",
        )
    session.clear()
    session.permanent = True
    session["key_id"] = record.id
    session["role"] = record.role
    g.caller = Caller(record.id, Role(record.role), record.name)
    flash(f"Signed in as {record.name or record.id} ({record.role}).", "success")
    return redirect(next_path or _home(), 303)


@bp.post("/signout")
def signout() -> Response:
    session.clear()
    flash("Signed out.", "success")
    return redirect(url_for("pages.signin"), 303)


# ---- the review queue ----------------------------------------------------------------------


def _snapshot() -> Snapshot | None:
    holder = services().holder
    holder.refresh()
    return holder.snapshot


def organisation_directory(snapshot: Snapshot) -> OrganisationDirectory:
    """The served organisations by name, built once per served index."""
    memo = services().memo
    kept = memo.get("organisations")
    if kept is not None and kept[0] is snapshot:
        return kept[1]  # type: ignore[no-any-return]
    directory = OrganisationDirectory(snapshot.dataset.organisations)
    memo["organisations"] = (snapshot, directory)
    return directory


def country_names() -> CountryNames:
    """The reader of country names, demonyms and regions (English and French)."""
    memo = services().memo
    if "countries" not in memo:
        memo["countries"] = CountryNames(services().taxonomies.countries)
    return memo["countries"]  # type: ignore[no-any-return]


def _labeller(snapshot: Snapshot | None) -> Labeller:
    if snapshot is None:
        return Labeller({}, services().taxonomies)
    return Labeller(snapshot.dataset.organisations, snapshot.dataset.taxonomies)


def queue_filters(
    args: Mapping[str, str],
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The queue's filters from a query string as typed, as the database reads them (the
    lead by name or id, the country by name or code), and what was not understood."""
    problems = []
    status = args.get("status", "proposed")
    if status and status not in STATUSES:
        problems.append(f"Unknown status {status!r}: showing every status.")
        status = ""
    sort = args.get("sort", "-created_at")
    if sort not in SORTS:
        problems.append(f"Unknown order {sort!r}: showing the newest first.")
        sort = "-created_at"
    filters = {
        "status": status,
        "lead": args.get("lead", "").strip(),
        "theme": args.get("theme", "").strip(),
        "country": args.get("country", "").strip(),
        "sort": sort,
    }
    # what the database filters on: the lead's id and the country's code
    query = dict(filters)
    snapshot = services().holder.snapshot
    if filters["lead"] and snapshot is not None:
        found = organisation_directory(snapshot).matches(filters["lead"])
        if len(found) == 1:
            query["lead"] = found[0]
    if filters["country"]:
        codes = country_names().lookup(filters["country"])
        if len(codes) == 1:
            query["country"] = codes[0]
        else:
            problems.append(
                f"“{filters['country']}” names no single country: showing every country."
            )
            query["country"] = ""
    return filters, query, problems


@bp.get("/proposals")
@requires("read")
def queue() -> Response:
    args = request.args
    filters, query, problems = queue_filters(args)
    status, sort = filters["status"], filters["sort"]
    try:
        number = max(1, int(args.get("page", "1")))
    except ValueError:
        problems.append("The page number must be a whole number: showing the first page.")
        number = 1
    catalog = services().catalog
    found = catalog.list_proposals(
        status=status or None,
        lead=query["lead"] or None,
        theme=query["theme"] or None,
        country=query["country"] or None,
        sort=sort,
        offset=(number - 1) * PER_PAGE,
        limit=PER_PAGE,
    )
    pages = max(1, -(-found.total // PER_PAGE))
    labeller = _labeller(_snapshot())
    initiatives: dict[str, Any] = {}
    rows = []
    for record in found.items:
        if record.initiative_id not in initiatives:
            try:
                initiatives[record.initiative_id] = catalog.get_initiative(record.initiative_id)
            except NotFoundError:
                initiatives[record.initiative_id] = None
        initiative = initiatives[record.initiative_id]
        body = initiative.body if initiative is not None else {}
        rows.append(
            {
                "record": record,
                "title": (initiative.title if initiative is not None else "") or "(untitled)",
                "lead": labeller.org(str(body.get("lead", ""))) if body else None,
                "themes": [labeller.code("themes", t) for t in body.get("themes") or ()],
                "countries": [place_name(c) for c in body.get("countries") or ()],
                "members": [labeller.org(m) for m in record.members],
            }
        )

    kept = {k: v for k, v in filters.items() if v or k == "status"}

    def link(to_page: int) -> str:
        return f"{url_for('pages.queue')}?{urlencode({**kept, 'page': to_page})}"

    return page(
        "queue.html",
        organisations=_lead_suggestions(services().holder.snapshot),
        csv_link=f"{url_for('pages.queue_csv')}?{urlencode(kept)}",
        rows=rows,
        filters=filters,
        problems=problems,
        status_choices=[(status, STATUS_LABELS[status]) for status in STATUSES],
        sorts=SORTS,
        themes=[(code, labeller.code("themes", code)) for code in labeller.taxonomies.themes],
        page_number=number,
        pages=pages,
        total=found.total,
        first_row=(number - 1) * PER_PAGE + 1,
        previous_link=link(number - 1) if number > 1 else None,
        next_link=link(number + 1) if number < pages else None,
    )


# ---- one proposal --------------------------------------------------------------------------


def _member_ids(coalition: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(str(m["id"]) for m in coalition.get("members") or ())


def _exclusions(excluded: Any, labeller: Labeller) -> list[dict[str, Any]]:
    return [
        {**e, "org": labeller.org(str(e["id"])), "gate": humanise(str(e.get("gate") or ""))}
        for e in excluded or ()
    ]


def _proposal_page(
    record: ProposalRecord,
    status: int = 200,
    *,
    decision_errors: list[str] | None = None,
    stale: str | None = None,
    submitted: Mapping[str, str] | None = None,
) -> Response:
    catalog = services().catalog
    initiative = catalog.get_initiative(record.initiative_id)
    body = {**initiative.body, "id": initiative.id}
    snapshot = _snapshot()
    labeller = _labeller(snapshot)
    coalition = dict(record.coalition)
    notices = []

    recomputed: dict[str, Any] | None = None
    if snapshot is None:
        notices.append(
            "The recommendation index is being built: exclusions and alternatives appear "
            "when it is ready."
        )
    else:
        try:
            initiative_obj = check_initiative(body, snapshot.dataset.taxonomies)
            recomputed = snapshot.engine.recommend(initiative_obj).to_dict()
        except PartnerMatchError as err:
            notices.append(f"The engine could not recompute this initiative today: {err}")
    excluded = coalition.get("excluded")
    if excluded is None and recomputed is not None:
        excluded = recomputed["excluded"]
    proposed = _member_ids(coalition)
    alternatives: list[tuple[str, Mapping[str, Any]]] = []
    openable: list[dict[str, Any]] = []
    rank = None
    if recomputed is not None:
        for k, other in enumerate(recomputed["coalitions"], start=1):
            if _member_ids(other) == proposed:
                rank = k
            else:
                alternatives.append((f"Alternative {k}", other))
                openable.append(
                    {
                        "rank": k,
                        "score": float(other.get("score") or 0.0),
                        "members": [labeller.org(str(m["id"])) for m in other["members"]],
                    }
                )
    lead = str(body.get("lead") or "")
    try:
        lead_profile = organisation_profile(
            organisation_neighbourhood(services().repository, catalog, lead),
            catalog,
            lead,
            proposals=20,
        )
    except NotFoundError:
        lead_profile = None
    view = coalition_view(
        coalition,
        key=f"p{record.id}",
        initiative=body,
        labeller=labeller,
        tie_weight=tie_lookup(snapshot.engine.index_ if snapshot else None),
    )
    audit = catalog.list_audit(entity_type="proposal", entity_id=str(record.id), limit=200)
    return page(
        "proposal.html",
        status,
        record=record,
        initiative=initiative,
        body=body,
        labeller=labeller,
        view=view,
        heat_scale=HEAT_SCALE,
        sector_colours=SECTOR_COLOURS,
        excluded=_exclusions(excluded, labeller) if excluded is not None else None,
        comparisons=compare(coalition, alternatives, labeller, "Proposed")
        if recomputed is not None
        else None,
        rank=rank,
        openable=openable,
        lead_profile=lead_profile,
        recomputed_count=len(recomputed["coalitions"]) if recomputed else 0,
        data_version=snapshot.data_version if snapshot else None,
        notices=notices,
        audit=audit.items,
        reasons=REASONS,
        decisions=DECISION_LABELS,
        decision_errors=decision_errors or [],
        stale=stale,
        submitted=submitted or {},
    )


@bp.get("/proposals/<int:proposal_id>")
@requires("read")
def proposal(proposal_id: int) -> Response:
    return _proposal_page(services().catalog.get_proposal(proposal_id))


def _check_review(form: Mapping[str, str], errors: list[str]) -> int:
    """Check a reviewer's form (a decision or a replacement): its reason, its comment and the
    proposal version it was shown with. Append what is wrong to ``errors``; return the version
    (0 when missing)."""
    if form.get("reason_code", "") not in REASONS:
        errors.append("Choose a reason.")
    if len(form.get("comment", "")) > 5000:
        errors.append("The comment is longer than 5,000 characters.")
    try:
        return int(form.get("version", ""))
    except ValueError:
        errors.append("This form lacks the proposal version it was shown with: reload the page.")
        return 0


@bp.post("/proposals/<int:proposal_id>/decision")
@requires("review")
def decide(proposal_id: int) -> Response:
    catalog = services().catalog
    record = catalog.get_proposal(proposal_id)
    form = request.form
    submitted = {
        "decision": form.get("decision", ""),
        "reason_code": form.get("reason_code", ""),
        "comment": form.get("comment", ""),
    }
    errors = []
    if submitted["decision"] not in DECISIONS:
        errors.append("Choose approve, reject or request changes.")
    version = _check_review(form, errors)
    if errors:
        return _proposal_page(record, 422, decision_errors=errors, submitted=submitted)
    try:
        decided = catalog.decide(
            proposal_id,
            reviewer=g.caller.actor,
            decision=submitted["decision"],
            reason_code=submitted["reason_code"],
            comment=submitted["comment"],
            expected_version=version,
        )
    except StaleVersionError as err:
        current = catalog.get_proposal(proposal_id)
        message = (
            "Your decision was not recorded: someone else changed this proposal after you "
            f"opened it ({err}). The page now shows its current state; your reason and "
            "comment are kept below if you still need them."
        )
        return _proposal_page(current, 409, stale=message, submitted=submitted)
    flash(
        f"Decision recorded: proposal {proposal_id} is now "
        f"{STATUS_LABELS.get(decided.status, decided.status).lower()}.",
        "success",
    )
    return redirect(url_for("pages.proposal", proposal_id=proposal_id), 303)


def _alternative(record: ProposalRecord, rank: int) -> tuple[dict[str, Any], Any, Any]:
    """The initiative's body, the served snapshot and its ``rank``-th coalition today."""
    initiative = services().catalog.get_initiative(record.initiative_id)
    body = {**initiative.body, "id": initiative.id}
    snapshot = _snapshot()
    if snapshot is None:
        raise HTTPServiceUnavailable(_NOT_READY)
    result = snapshot.engine.recommend(
        check_initiative(body, snapshot.dataset.taxonomies)
    ).to_dict()
    coalitions = result["coalitions"]
    if not 1 <= rank <= len(coalitions) or _member_ids(coalitions[rank - 1]) == frozenset(
        record.members
    ):
        raise NotFoundError(
            f"The engine has no alternative {rank} to proposal {record.id} today "
            f"({len(coalitions)} coalitions)"
        )
    return body, snapshot, coalitions[rank - 1]


def _alternative_page(
    record: ProposalRecord, rank: int, status: int = 200, errors: Sequence[str] = ()
) -> Response:
    body, snapshot, other = _alternative(record, rank)
    labeller = _labeller(snapshot)
    view = coalition_view(
        other,
        key=f"a{rank}",
        initiative=body,
        labeller=labeller,
        tie_weight=tie_lookup(snapshot.engine.index_),
    )
    return page(
        "alternative.html",
        status,
        record=record,
        rank=rank,
        view=view,
        body=body,
        labeller=labeller,
        heat_scale=HEAT_SCALE,
        comparisons=compare(
            record.coalition, [(f"Alternative {rank}", other)], labeller, "Proposed"
        ),
        reasons=REASONS,
        errors=list(errors),
        submitted=request.form if request.method == "POST" else {},
    )


@bp.get("/proposals/<int:proposal_id>/alternatives/<int:rank>")
@requires("read")
def alternative(proposal_id: int, rank: int) -> Response:
    """One of the engine's other coalitions for a proposal's initiative, in full."""
    return _alternative_page(services().catalog.get_proposal(proposal_id), rank)


@bp.post("/proposals/<int:proposal_id>/alternatives/<int:rank>")
@requires("review")
def replace(proposal_id: int, rank: int) -> Response:
    """Propose the alternative in place of the proposal (which is sent back)."""
    catalog = services().catalog
    record = catalog.get_proposal(proposal_id)
    form = request.form
    errors: list[str] = []
    version = _check_review(form, errors)
    members = [m for m in form.get("members", "").split(",") if m]
    if not members:
        errors.append("This form lacks the coalition's members: reload the page.")
    if errors:
        return _alternative_page(record, rank, 422, errors)
    snapshot = _snapshot()
    if snapshot is None:
        return error_page(503, _NOT_READY)
    try:
        created = propose_in_place_of(
            catalog,
            snapshot.engine,
            proposal_id,
            members,
            actor=g.caller.actor,
            expected_version=version,
            reason_code=form["reason_code"],
            comment=form.get("comment", ""),
        )
    except StaleVersionError as err:
        return _alternative_page(
            catalog.get_proposal(proposal_id),
            rank,
            409,
            [f"Nothing was changed: someone decided on proposal {proposal_id} first ({err})."],
        )
    flash(
        f"Proposal {created.id} now stands in place of proposal {proposal_id}, which is sent "
        "back (changes requested).",
        "success",
    )
    return redirect(url_for("pages.proposal", proposal_id=created.id), 303)


# ---- the broker's page ---------------------------------------------------------------------


#: The lead suggestions of the last snapshot seen: (snapshot, suggestions).
_LEADS: list[tuple[Snapshot, list[tuple[str, str]]]] = []
#: The demo initiatives of the last snapshot seen: (snapshot, starting points).
_DEMOS: list[tuple[Snapshot, list[StartingPoint]]] = []
MAX_LEAD_SUGGESTIONS = 1000


def _lead_suggestions(snapshot: Snapshot | None) -> list[tuple[str, str]]:
    """Organisations to suggest as the lead, UN entities first (computed once a snapshot):
    ``(what to type, id)``, what to type being the name unless another has the same."""
    if snapshot is None:
        return []
    if _LEADS and _LEADS[0][0] is snapshot:
        return _LEADS[0][1]
    best = heapq.nsmallest(
        MAX_LEAD_SUGGESTIONS,
        snapshot.dataset.organisations.values(),
        key=lambda o: (o.kind.value != "un_entity", o.name),
    )
    directory = organisation_directory(snapshot)
    suggestions = [(directory.unique_name(o.id), o.id) for o in best]
    _LEADS[:] = [(snapshot, suggestions)]
    return suggestions


def _choices() -> dict[str, Any]:
    snapshot = services().holder.snapshot
    taxonomies = snapshot.dataset.taxonomies if snapshot else services().taxonomies
    return {
        "themes": [(c, t.label) for c, t in taxonomies.themes.items()],
        "activity_types": [(c, t.label) for c, t in taxonomies.activity_types.items()],
        "capabilities": [
            (c, t.label, len(taxonomies.capabilities.ancestors(c)))
            for c, t in taxonomies.capabilities.items()
        ],
        "sectors": [(c, t.label) for c, t in taxonomies.sectors.items()],
        "kinds": [(c, t.label) for c, t in taxonomies.kinds.items()],
        "organisations": _lead_suggestions(snapshot),
        "stored": services().catalog.list_initiatives(limit=200).items,
        "demos": _demos(snapshot),
    }


def _demo_folders() -> list[Path]:
    configured = current_app.config.get("DEMO_INITIATIVES")
    if configured is not None:
        return [Path(p) for p in configured]
    data = Path(__file__).resolve().parents[2] / "data"
    return [data / "seed" / "initiatives", data / "iati-sample" / "initiatives"]


def _demos(snapshot: Snapshot | None) -> list[StartingPoint]:
    """The demo initiatives the served data can answer (read once a snapshot)."""
    if snapshot is None:
        return []
    if _DEMOS and _DEMOS[0][0] is snapshot:
        return _DEMOS[0][1]
    found = starting_points(_demo_folders(), snapshot.dataset)
    _DEMOS[:] = [(snapshot, found)]
    return found


def _lead_name(snapshot: Snapshot | None) -> Callable[[str], str] | None:
    if snapshot is None:
        return None
    return organisation_directory(snapshot).unique_name


def _recommend_page(
    form: InitiativeForm,
    status: int = 200,
    *,
    result: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
    message: str | None = None,
    note: str | None = None,
    suggestions: Sequence[Suggestion] = (),
) -> Response:
    snapshot = services().holder.snapshot
    views, comparisons, excluded, lead = [], None, None, None
    if result is not None and body is not None:
        labeller = _labeller(snapshot)
        lead = labeller.org(str(body["lead"]))
        ties = tie_lookup(snapshot.engine.index_ if snapshot else None)
        coalitions = result["coalitions"]
        for k, coalition in enumerate(coalitions, start=1):
            views.append(
                (
                    coalition,
                    coalition_view(
                        coalition,
                        key=f"c{k}",
                        initiative=body,
                        labeller=labeller,
                        tie_weight=ties,
                        first=k == 1,
                    ),
                )
            )
        if coalitions:
            comparisons = compare(
                coalitions[0],
                [(f"Coalition {k}", c) for k, c in enumerate(coalitions[1:], start=2)],
                labeller,
                "Coalition 1",
            )
        excluded = _exclusions(result["excluded"], labeller)
    return page(
        "recommend.html",
        status,
        form=form,
        choices=_choices(),
        result=result,
        views=views,
        comparisons=comparisons,
        excluded=excluded,
        heat_scale=HEAT_SCALE,
        initiative_json=json.dumps(body, sort_keys=True) if body is not None else "",
        message=message,
        data_version=snapshot.data_version if snapshot else None,
        field_label=field_label,
        note=note,
        suggestions=suggestions,
        max_needs=MAX_NEEDS,
        initiative_lead=lead,
    )


def _recommend(form: InitiativeForm) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Validate the form and recommend: ``(body, result)``; ``None``s and ``form.errors``
    filled in on a problem."""
    snapshot = _snapshot()
    taxonomies = snapshot.dataset.taxonomies if snapshot else services().taxonomies
    body = build_body(
        form,
        taxonomies,
        organisations=organisation_directory(snapshot) if snapshot else None,
        countries=country_names(),
    )
    if body is None or snapshot is None:
        return body, None
    try:
        initiative = check_initiative(
            {**body, "id": form.values.get("id") or "request"}, taxonomies
        )
        result = snapshot.engine.recommend(initiative).to_dict()
    except ValidationError as err:
        error_for(form, err)
        return None, None
    return body, result


def _recommended(
    form: InitiativeForm,
) -> tuple[dict[str, Any], dict[str, Any]] | Response:
    """:func:`_recommend`'s ``(body, result)``, or the form again with what went wrong (its
    fields to fix, or the index not built yet)."""
    body, result = _recommend(form)
    if form.errors or body is None:
        return _recommend_page(form, 422, message="Some fields need attention: see below.")
    if result is None:
        return _recommend_page(form, 503, message=_NOT_READY)
    return body, result


_NOT_READY = "The recommendation index is being built; try again in a few seconds."


@bp.route("/recommend", methods=["GET", "POST"])
@requires("recommend")
def recommend() -> Response:
    lead_name = _lead_name(services().holder.snapshot)
    if request.method == "GET":
        stored = request.args.get("initiative", "").strip()
        demo = request.args.get("demo", "").strip()
        if demo:
            chosen = next((d for d in _demos(_snapshot()) if d.id == demo), None)
            if chosen is None:
                return error_page(404, f"No demo initiative has the id “{demo}”.")
            return _recommend_page(
                form_from_body(chosen.body, lead_name=_lead_name(_snapshot())),
                message=f"The form holds the demo initiative “{chosen.title}”: change what "
                "you like, then ask.",
            )
        if not stored:
            return _recommend_page(form_from_body({"count": 3}))
        record = services().catalog.get_initiative(stored)
        return _recommend_page(form_from_body(record.body, record.id, lead_name=lead_name))
    form = form_from_request(request.form, request.form.getlist)
    if request.form.get("action") == "add_need":
        form.add_need_row()
        return _recommend_page(
            form, message=f"Need {len(form.need_rows)} added below: fill it in, then ask."
        )
    answered = _recommended(form)
    if isinstance(answered, Response):
        return answered
    body, result = answered
    return _recommend_page(form, result=result, body=body)


#: The longest concept note the page reads (the API's limit too).
MAX_NOTE_CHARS = 10_000


@bp.route("/recommend/draft", methods=["POST"])
@requires("recommend")
def draft() -> Response:
    """Read a pasted concept note and pre-fill the request form with what it gave."""
    note = str(request.form.get("note", "")).strip()
    if not note:
        return _recommend_page(
            form_from_body({"count": 3}), 422, message="Paste a concept note first."
        )
    if len(note) > MAX_NOTE_CHARS:
        return _recommend_page(
            form_from_body({"count": 3}),
            422,
            message=f"The note has {len(note):,} characters; at most {MAX_NOTE_CHARS:,}.",
            note=note[:MAX_NOTE_CHARS],
        )
    snapshot = _snapshot()
    if snapshot is None:
        return _recommend_page(form_from_body({"count": 3}), 503, message=_NOT_READY, note=note)
    drafted = services().holder.intake(snapshot).draft(note)
    body = {"count": 3, **drafted.initiative}
    found = len([s for s in drafted.suggestions if s.confidence >= ACCEPT_AT])
    return _recommend_page(
        form_from_body(body, lead_name=_lead_name(snapshot)),
        message=f"The note filled in {found} field value(s): check them below, then ask.",
        note=note,
        suggestions=drafted.suggestions,
    )


#: What a relaxation may change: the request's own fields, never who asks or which record.
_RELAXABLE = frozenset(RecommendationIn.model_fields) - {"id", "lead"}


def relaxed(body: Mapping[str, Any], change: Any) -> dict[str, Any]:
    """``body`` with a relaxation's ``change`` (``[{"path": "constraints.x", "value": v}]``)
    applied.

    >>> relaxed({"constraints": {"require_local_partner": True}},
    ...         [{"path": "constraints.require_local_partner", "value": False}])
    {'constraints': {'require_local_partner': False}}

    Raises
    ------
    ValueError
        If the change is malformed or touches a field a relaxation may not change.
    """
    result = copy.deepcopy(dict(body))
    if not isinstance(change, list) or not change:
        raise ValueError("a change is a non-empty list")
    for item in change:
        if not isinstance(item, dict) or not isinstance(item.get("path"), str):
            raise ValueError("each change has a path")
        parts = item["path"].split(".")
        if parts[0] not in _RELAXABLE or len(parts) > 2:
            raise ValueError(f"a relaxation may not change {item['path']!r}")
        target = result
        for part in parts[:-1]:
            target = target.setdefault(part, {})
            if not isinstance(target, dict):
                raise ValueError(f"{item['path']!r} names no field")
        target[parts[-1]] = item.get("value")
    return result


def _posted_json(field: str) -> Any:
    """The JSON a page wrote into a hidden form field; ``None`` when it is missing or not
    JSON."""
    try:
        return json.loads(request.form.get(field, ""))
    except ValueError:
        return None


@bp.post("/recommend/relax")
@requires("recommend")
def relax() -> Response:
    """Re-run a request with one of the engine's verified relaxations applied."""
    raw = _posted_json("initiative")
    try:
        body = relaxed(raw, _posted_json("change")) if isinstance(raw, dict) else None
    except ValueError:
        body = None
    if body is None:
        return error_page(400, "This relaxation lacks its request or its change: ask again.")
    form = form_from_body(body, lead_name=_lead_name(_snapshot()))
    answered = _recommended(form)
    if isinstance(answered, Response):
        return answered
    checked, result = answered
    description = str(request.form.get("description", "")).strip()[:200]
    return _recommend_page(
        form,
        result=result,
        body=checked,
        message=f"Asked again with this change: {description}." if description else None,
    )


def _new_initiative_id(lead: str) -> str:
    day = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    return f"{lead[:40]}-{day}-{secrets.token_hex(3)}"


_SETS = ("themes", "countries", "activity_types")
_CONSTRAINT_SETS = ("include", "exclude", "required_sectors", "required_kinds")


def _canonical(body: Mapping[str, Any]) -> dict[str, Any]:
    """An initiative's JSON form with its set-like lists sorted (a form lists them in its
    own order)."""
    result = RecommendationIn.model_validate(dict(body)).model_dump(mode="json", exclude={"id"})
    for name in _SETS:
        result[name] = sorted(result[name])
    for name in _CONSTRAINT_SETS:
        result["constraints"][name] = sorted(result["constraints"][name])
    return result


def _same_initiative(stored: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    """Whether the stored initiative asks for the same thing as ``body``."""
    try:
        return _canonical(stored) == _canonical(body)
    except pydantic.ValidationError:
        return False


@bp.post("/recommend/propose")
@requires("propose")
def propose() -> Response:
    raw = _posted_json("initiative")
    if not isinstance(raw, dict):
        return error_page(400, "The proposal form lacks its initiative: ask again.")
    stored_id = request.form.get("initiative_id", "").strip()
    form = form_from_body(raw, stored_id)
    answered = _recommended(form)
    if isinstance(answered, Response):
        return answered
    body, result = answered
    wanted = frozenset(m for m in request.form.get("members", "").split(",") if m)
    chosen = next((c for c in result["coalitions"] if _member_ids(c) == wanted), None)
    if chosen is None:
        return _recommend_page(
            form,
            409,
            result=result,
            body=body,
            message=(
                "That coalition is no longer among the recommendations (the data changed "
                "since you asked). Here are the current ones: propose one of them."
            ),
        )
    catalog, actor = services().catalog, g.caller.actor
    initiative_id = None
    if stored_id:
        try:
            if _same_initiative(catalog.get_initiative(stored_id).body, body):
                initiative_id = stored_id
        except NotFoundError:
            pass
    if initiative_id is None:
        initiative_id = _new_initiative_id(body["lead"])
        stored = InitiativeIn.model_validate({**body, "id": initiative_id})
        catalog.save_initiative(
            initiative_id, stored.model_dump(mode="json"), create=True, actor=actor
        )
    snapshot = services().holder.snapshot
    assert snapshot is not None  # _recommend answered, so the index is built
    record = propose_coalition(
        catalog, snapshot.engine, initiative_id, [m["id"] for m in chosen["members"]], actor=actor
    )
    flash(f"Proposed for review as proposal {record.id} (initiative {initiative_id}).", "success")
    return redirect(url_for("pages.proposal", proposal_id=record.id), 303)
