"""The review pages end to end in a real browser: Debian's Chromium, headless, driven by
Playwright against a real server on a free local port.

Nothing is downloaded at run time: the browser is ``/usr/bin/chromium`` (``apt-get install
chromium``). Without it these tests are skipped, except in CI (``$CI`` set) where they fail.
The flows run with JavaScript disabled: every core flow must work without it.
"""

from __future__ import annotations

import csv
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from service.services import Services, services
from tests.api_fixtures import add_key
from tests.pages_support import (
    REPO_ROOT,
    close_app,
    make_app,
    propose,
    seed_initiative,
)

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "test-artifacts"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class Server:
    url: str
    keys: dict[str, str]
    found: Services


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app = make_app(tmp_path_factory.mktemp("browser") / "pages.db")
    found = services(app)
    keys = {
        "broker": add_key(found, "broker", "Broker Bea"),
        "reviewer": add_key(found, "reviewer", "Reviewer Ron"),
        "reviewer2": add_key(found, "reviewer", "Reviewer Rita"),
    }
    http: BaseWSGIServer = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
    )
    thread = threading.Thread(target=http.serve_forever, name="pages-server", daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{http.server_port}", keys, found)
    finally:
        http.shutdown()
        http.server_close()
        thread.join(timeout=10)
        close_app(app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def new_page(browser: Any, *, javascript: bool = False) -> Any:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    return context.new_page()


def sign_in(page: Any, server: Server, key: str, start: str = "/proposals") -> None:
    page.goto(server.url + start)
    assert "/signin" in page.url
    page.get_by_label("API key").fill(key)
    page.keyboard.press("Enter")  # submits the form: no mouse needed
    page.wait_for_url(lambda url: "/signin" not in url)


def test_broker_proposes_reviewer_approves_a_late_reviewer_is_refused(
    browser: Any, server: Server
) -> None:
    # a broker asks for a recommendation and proposes the first coalition
    broker = new_page(browser)
    sign_in(broker, server, server.keys["broker"], start="/recommend")
    assert broker.url.endswith("/recommend")
    broker.get_by_label("Lead entity").fill("unicef")
    broker.get_by_label("Title").fill("Primary schools in Brazil")
    broker.get_by_label("Target countries").fill("BR")
    broker.get_by_label("Education", exact=True).check()
    for activity in ("Private fundraising", "Operational activities", "Advocacy"):
        broker.get_by_label(activity, exact=True).check()
    broker.get_by_label("Need 1: capability").select_option("funding")
    broker.get_by_label("Need 1: weight").fill("1")
    broker.get_by_label("Need 2: capability").select_option("local_presence")
    broker.get_by_label("Need 2: weight").fill("0.8")
    broker.get_by_label("Largest coalition (members)").fill("4")
    broker.get_by_role("button", name="Recommend coalitions").click()
    expect(broker.get_by_role("heading", name="Recommendations")).to_be_visible()
    assert broker.locator("svg[role=img]").count() >= 2
    broker.get_by_role("button", name="Propose coalition 1 for review").click()
    broker.wait_for_url(re.compile(r"/proposals/\d+$"))
    proposal_url = broker.url
    expect(broker.get_by_text("Proposed for review")).to_be_visible()
    expect(broker.get_by_role("button", name="Approve")).to_have_count(0)

    # a reviewer finds it in the queue and opens it
    reviewer = new_page(browser)
    sign_in(reviewer, server, server.keys["reviewer"])
    expect(reviewer.get_by_role("table").get_by_text("Primary schools in Brazil")).to_be_visible()
    reviewer.get_by_role("link", name=re.compile(r"^Proposal \d+$")).first.click()
    reviewer.wait_for_url(proposal_url)
    picture = reviewer.locator("figure.coalition-picture svg[role=img]")
    expect(picture).to_be_visible()
    box = picture.bounding_box()
    assert box is not None and box["width"] >= 600  # drawn at full size, no zooming
    assert reviewer.locator("table.heatmap td.heat").count() >= 2
    expect(reviewer.get_by_role("heading", name="Score, part by part")).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    reviewer.screenshot(path=str(ARTIFACTS / "coalition.png"), full_page=True)
    picture.screenshot(path=str(ARTIFACTS / "coalition-picture.png"))

    # a second reviewer opens the same page before the decision
    late = new_page(browser)
    sign_in(late, server, server.keys["reviewer2"], start=proposal_url.removeprefix(server.url))
    assert late.url == proposal_url

    reviewer.get_by_label("Reason").select_option("complementary_fit")
    reviewer.get_by_label("Comment").fill("Funding and local reach complement each other.")
    reviewer.get_by_role("button", name="Approve").click()
    expect(reviewer.get_by_text("Decision recorded")).to_be_visible()
    expect(reviewer.locator("#proposal-status")).to_have_text("Approved")
    audit = reviewer.locator("table.audit")
    expect(audit.get_by_text("reviewer:Reviewer Ron")).to_be_visible()
    expect(audit).to_contain_text("Reason: Complementary fit")

    late.get_by_label("Reason").select_option("integrity_concern")
    late.get_by_label("Comment").fill("Too late?")
    with late.expect_response(lambda r: r.url.endswith("/decision")) as answer:
        late.get_by_role("button", name="Reject").click()
    assert answer.value.status == 409
    expect(late.locator("#stale-message")).to_contain_text("Your decision was not recorded")
    expect(late.locator("#proposal-status")).to_have_text("Approved")
    expect(late.get_by_role("button", name="Reject")).to_have_count(0)

    # the broker sees the outcome, and still no review buttons
    broker.reload()
    expect(broker.locator("#proposal-status")).to_have_text("Approved")
    for name in ("Approve", "Reject", "Request changes"):
        expect(broker.get_by_role("button", name=name)).to_have_count(0)
    for page in (broker, reviewer, late):
        page.context.close()


def test_the_pages_work_by_keyboard_and_break_no_security_policy(
    browser: Any, server: Server
) -> None:
    page = new_page(browser, javascript=True)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/signin")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")  # the skip link moves on to the main content
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "api_key"
    page.keyboard.type(server.keys["reviewer"])
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/proposals$"))
    page.get_by_label("Status").select_option("")
    page.get_by_role("button", name="Apply").press("Enter")
    page.wait_for_url(re.compile(r"status=&"))
    link = page.get_by_role("link", name=re.compile(r"^Proposal \d+$")).first
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/proposals/\d+$"))
    assert page.locator("h1").count() == 1
    page.get_by_role("button", name="Sign out").press("Enter")
    page.wait_for_url(re.compile(r"/signin$"))
    expect(page.get_by_text("Signed out.")).to_be_visible()
    assert problems == []  # a CSP violation would show here
    page.context.close()


def test_the_api_docs_render_offline_under_their_strict_policy(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(java_script_enabled=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    outside: list[str] = []
    problems: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(server.url) else None,
    )
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type in ("error", "warning") else None,
    )
    page.goto(server.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("partnermatch API")
    expect(page.get_by_text("/v1/recommendations").first).to_be_visible()
    assert outside == []
    assert not [p for p in problems if "Content Security Policy" in p], problems
    context.close()


# ---- the broker's and the reviewer's day (issue 19) -----------------------------------------

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def shoot(page: Any, name: str) -> None:
    """Screenshots of the page as it is, at desktop and phone widths (test-artifacts/);
    at the phone width nothing may scroll sideways."""
    ARTIFACTS.mkdir(exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True)
        if label == "390":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{name} scrolls sideways at 390 px: {width} px wide"
    page.set_viewport_size(DESKTOP)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_a_broker_names_the_lead_uses_a_relaxation_and_proposes(
    browser: Any, server: Server
) -> None:
    broker = new_page(browser)
    sign_in(broker, server, server.keys["broker"], start="/recommend")
    shoot(broker, "broker-form")
    broker.get_by_label("Lead entity").fill("united nations development programme")
    broker.get_by_label("Title").fill("Small enterprises in Angola")
    broker.get_by_label("Target countries").fill("angola")
    broker.get_by_label("Small enterprise", exact=True).check()
    broker.get_by_label("Need 1: capability").select_option("funding.loans.microcredit")
    broker.get_by_label("Need 1: weight").fill("1")
    broker.get_by_label("Need 2: capability").select_option("training.vocational")
    broker.get_by_label("Need 3: capability").select_option("funding.investment")
    rows = broker.locator(".need-row").count()
    broker.get_by_role("button", name="Add a need").click()
    expect(broker.locator(".need-row")).to_have_count(rows + 1)
    expect(broker.get_by_label("Need 1: capability")).to_have_value("funding.loans.microcredit")
    expect(broker.get_by_label("Lead entity")).to_have_value("united nations development programme")
    broker.get_by_label(f"Need {rows + 1}: capability").select_option(
        "service_delivery.enterprise_support.incubation"
    )
    broker.get_by_label("Require a local partner in a target country").check()
    broker.get_by_label("Title").press("Enter")  # Enter asks, it does not add a row
    expect(broker.get_by_role("heading", name="Recommendations")).to_be_visible()
    expect(broker.locator("#infeasible")).to_contain_text("no eligible candidate")
    shoot(broker, "broker-relaxations")
    relax = broker.get_by_role("button", name=re.compile("Ask again and drop the local-partner"))
    relax.click()
    expect(broker.get_by_text("Asked again with this change")).to_be_visible()
    expect(broker.get_by_label("Require a local partner in a target country")).not_to_be_checked()
    assert broker.locator("form.propose").count() >= 1
    shoot(broker, "broker-results")
    broker.get_by_role("button", name="Propose coalition 1 for review").click()
    broker.wait_for_url(re.compile(r"/proposals/\d+$"))
    expect(broker.get_by_text("Proposed for review")).to_be_visible()
    expect(broker.locator("h1")).to_contain_text("Small enterprises in Angola")

    # a form with every problem at once, in plain words
    broker.goto(server.url + "/recommend")
    broker.get_by_label("Lead entity").fill("Nobody At All")
    broker.get_by_label("Target countries").fill("Atlantis, BR")
    broker.get_by_label("Largest coalition (members)").fill("1")
    broker.get_by_label("Smallest coalition (members)").fill("3")
    broker.get_by_role("button", name="Recommend coalitions").click()
    summary = broker.locator("#form-message")
    expect(summary).to_contain_text("No organisation is called “Nobody At All”")
    expect(summary).to_contain_text("“Atlantis” is not a country or region we know")
    expect(summary).to_contain_text("must be at least the smallest")
    shoot(broker, "broker-form-errors")
    broker.context.close()


def test_a_reviewer_opens_an_organisation_exports_and_approves(
    browser: Any, server: Server
) -> None:
    body = seed_initiative("i50-child-labour-india")
    proposal = propose(server.found, body, 0)
    reviewer = new_page(browser)
    sign_in(reviewer, server, server.keys["reviewer"], start=f"/proposals/{proposal.id}")
    expect(reviewer.get_by_role("heading", name=re.compile("The lead's record"))).to_be_visible()
    shoot(reviewer, "proposal")

    # the lead's page, one click away
    reviewer.locator("p.lede").get_by_role("link", name=re.compile("UNICEF")).click()
    reviewer.wait_for_url(re.compile(r"/organisations/unicef$"))
    for heading in (
        "Capabilities and their evidence",
        "Integrity flags and their history",
        "Partnerships by year",
        "Closest collaborators",
        "Recommendations and proposals it appeared in",
    ):
        expect(reviewer.get_by_role("heading", name=heading)).to_be_visible()
    expect(reviewer.locator("#proposal-list")).to_contain_text(f"Proposal {proposal.id}")
    shoot(reviewer, "organisation")
    reviewer.get_by_role("link", name="IKEA").first.click()
    reviewer.wait_for_url(re.compile(r"/organisations/ikea$"))

    # the search
    reviewer.get_by_role("link", name="Organisations", exact=True).click()
    reviewer.get_by_label("Country or region").fill("Inde")
    reviewer.get_by_role("button", name="Search").click()
    expect(reviewer.locator("#organisation-list")).to_contain_text("Mumbai")
    shoot(reviewer, "organisations")

    # an alternative, in full
    reviewer.goto(f"{server.url}/proposals/{proposal.id}")
    reviewer.locator(".open-alternatives a").first.click()
    expect(reviewer.locator("h1")).to_contain_text("Alternative")
    shoot(reviewer, "alternative")

    # the exports
    reviewer.goto(f"{server.url}/proposals/{proposal.id}")
    with reviewer.expect_download() as download:
        reviewer.get_by_role("link", name="Download this proposal as CSV").click()
    rows = read_csv(download.value.path())
    assert sorted(r["member"] for r in rows) == sorted(proposal.members)
    reviewer.get_by_role("link", name="Review queue").click()
    shoot(reviewer, "queue")
    with reviewer.expect_download() as download:
        reviewer.get_by_role("link", name=re.compile(r"^Download these \d+ as CSV$")).click()
    queued = read_csv(download.value.path())
    assert str(proposal.id) in [r["proposal"] for r in queued]

    # on paper: no navigation, no forms, every table whole
    reviewer.goto(f"{server.url}/proposals/{proposal.id}")
    reviewer.emulate_media(media="print")
    expect(reviewer.get_by_role("button", name="Approve")).to_be_hidden()
    expect(reviewer.get_by_role("navigation", name="Main")).to_be_hidden()
    expect(reviewer.locator("table.heatmap")).to_be_visible()
    reviewer.screenshot(path=str(ARTIFACTS / "proposal-print.png"), full_page=True)
    reviewer.emulate_media(media="screen")

    # the decision
    reviewer.get_by_label("Reason").select_option("complementary_fit")
    reviewer.get_by_role("button", name="Approve").click()
    expect(reviewer.locator("#proposal-status")).to_have_text("Approved")

    # after the next index build the approved coalition is in the lead's history
    server.found.holder.refresh(force=True)
    reviewer.goto(f"{server.url}/organisations/unicef")
    partnerships = reviewer.locator("section[aria-labelledby=partnerships]")
    expect(partnerships).to_contain_text(f"Source: proposal {proposal.id}")
    expect(partnerships).to_contain_text(body["title"])
    reviewer.context.close()


def test_the_sign_in_and_error_pages_fit_a_phone(browser: Any, server: Server) -> None:
    page = new_page(browser)
    page.goto(server.url + "/signin")
    expect(page.get_by_role("button", name=re.compile("Sign in", re.I))).to_be_visible()
    shoot(page, "signin")  # fails if the page scrolls sideways at 390 px
    sign_in(page, server, server.keys["reviewer"])
    response = page.goto(server.url + "/proposals/424242")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("424242")
    shoot(page, "error")
    page.context.close()
