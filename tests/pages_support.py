"""What the review-page tests share: an app on the seed data, keys, proposals, and an HTML
reader that checks headings, labels and what the Content-Security-Policy forbids."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from apiflask import APIFlask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from matcher.engine.recommend import coalition_dict
from matcher.storage.catalog import ProposalRecord, SqlCatalog
from matcher.usecases.directories import import_directory
from matcher.usecases.editing import check_initiative
from service.app import create_app
from service.services import Services, services

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = REPO_ROOT / "data" / "seed"
INITIATIVES = SEED_DIR / "initiatives"


def make_app(db_path: Path, **config: Any) -> APIFlask:
    """The service on a fresh SQLite file holding the seed data, index built inline."""
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{db_path}",
            "INDEX_REFRESH": "inline",
            "TEXT_ENCODER": "none",
            "SECRET_KEY": "test",
            **config,
        }
    )
    found = services(app)
    import_directory(found.repository, SEED_DIR, found.taxonomies)
    found.holder.refresh(force=True)
    return app


def close_app(app: APIFlask) -> None:
    services(app).catalog.engine.dispose()


def seed_initiative(name: str = "i49-edu-quality-brazil") -> dict[str, Any]:
    body: dict[str, Any] = json.loads((INITIATIVES / f"{name}.json").read_text(encoding="utf-8"))
    return body


def store_initiative(found: Services, body: Mapping[str, Any]) -> str:
    found.catalog.save_initiative(str(body["id"]), dict(body), create=True, actor="test")
    return str(body["id"])


def recommend(found: Services, body: Mapping[str, Any]) -> dict[str, Any]:
    snapshot = found.holder.snapshot
    assert snapshot is not None
    initiative = check_initiative(dict(body), snapshot.dataset.taxonomies)
    return snapshot.engine.recommend(initiative).to_dict()


def propose(
    found: Services, body: Mapping[str, Any], index: int = 0, actor: str = "broker:test"
) -> ProposalRecord:
    """Store ``body`` if new and propose its ``index``-th recommended coalition."""
    try:
        found.catalog.get_initiative(str(body["id"]))
    except LookupError:
        store_initiative(found, body)
    snapshot = found.holder.snapshot
    assert snapshot is not None
    initiative = check_initiative(dict(body), snapshot.dataset.taxonomies)
    coalition = snapshot.engine.recommend(initiative).coalitions[index]
    return found.catalog.create_proposal(str(body["id"]), coalition_dict(coalition), actor=actor)


def reject(
    catalog: SqlCatalog, proposal_id: int, reason_code: str, comment: str = ""
) -> ProposalRecord:
    """Reject a proposal still at its first version straight in the catalog, as reviewer
    Ron: a reviewer's earlier decision that a test starts from."""
    return catalog.decide(
        proposal_id,
        reviewer="reviewer:Ron",
        decision="reject",
        reason_code=reason_code,
        comment=comment,
        expected_version=1,
    )


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def submit(client: FlaskClient, url: str, page: str, **fields: Any) -> TestResponse:
    """Post ``fields`` to ``url`` with the CSRF token of ``page``, as a form on it would."""
    return client.post(url, data={"csrf_token": csrf_token(page), **fields})


class PageReader(HTMLParser):
    """Reads a page: headings, form controls and their labels, landmarks, scripts, styles,
    and each form's fields as a browser would submit them (``forms[k]["fields"]``: name to
    list of values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[int] = []
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.landmarks: list[str] = []
        self.lang: str | None = None
        self.scripts = 0
        self.inline_styles = 0
        self.ids: list[str] = []
        self.forms: list[dict[str, Any]] = []
        self._label_depth = 0
        self._select: dict[str, Any] | None = None
        self._textarea: dict[str, Any] | None = None

    def _add(self, name: str | None, value: str) -> None:
        if self.forms and name:
            self.forms[-1]["fields"].setdefault(name, []).append(value)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(str(a["id"]))
        if "style" in a or tag == "style":
            self.inline_styles += 1
        if tag == "html":
            self.lang = a.get("lang")
        elif re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag in ("main", "nav", "header", "footer"):
            self.landmarks.append(tag)
        elif tag == "script":
            self.scripts += 1
        elif tag == "label":
            self._label_depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag == "form":
            self.forms.append(
                {
                    "method": (a.get("method") or "get").lower(),
                    "action": a.get("action"),
                    "fields": {},
                }
            )
        elif tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._add(a.get("name"), a.get("value") or "on")
            elif kind not in ("submit", "button", "reset"):
                self._add(a.get("name"), a.get("value") or "")
        elif tag == "select":
            self._select = {"name": a.get("name"), "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = a.get("value") or ""
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in a:
                self._select["chosen"] = value
        elif tag == "textarea":
            self._textarea = {"name": a.get("name"), "text": []}
        if tag in ("input", "select", "textarea"):
            kind = (a.get("type") or "text").lower() if tag == "input" else tag
            if kind not in ("hidden", "submit", "button", "reset"):
                self.controls.append(
                    {
                        "tag": tag,
                        "id": a.get("id"),
                        "name": a.get("name"),
                        "aria-label": a.get("aria-label"),
                        "wrapped": "yes" if self._label_depth else None,
                    }
                )

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea["text"].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label_depth -= 1
        elif tag == "select" and self._select is not None:
            chosen = self._select["chosen"]
            self._add(self._select["name"], chosen if chosen is not None else self._select["first"])
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self._add(self._textarea["name"], "".join(self._textarea["text"]))
            self._textarea = None

    def unlabelled(self) -> list[dict[str, str | None]]:
        return [
            c
            for c in self.controls
            if not c["wrapped"] and not c["aria-label"] and c["id"] not in self.label_for
        ]

    def form_with(self, name: str) -> dict[str, list[str]]:
        """The fields of the first form that has a field ``name``."""
        for form in self.forms:
            if name in form["fields"]:
                fields: dict[str, list[str]] = form["fields"]
                return fields
        raise AssertionError(f"no form with a field {name!r}")


def read_page(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    return reader
