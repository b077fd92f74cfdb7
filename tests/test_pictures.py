"""The coalition picture: its layout, and the SVG the review pages and the batch reports
both show."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ElementTree

from service.pictures import Picture, coalition_picture, coalition_svg, short_label, svg_document

SVG = "{http://www.w3.org/2000/svg}"


def _picture(names: dict[str, str] | None = None) -> Picture:
    return coalition_picture(
        "lead",
        ["a", "b"],
        {"a": ["lead", "a"], "b": ["lead", "x", "b"]},
        names=names or {"lead": "Lead (LD)", "a": "Alpha", "b": "Beta", "x": "Xeno"},
        sectors={"a": "public", "b": "civil_society"},
        tie_weight=lambda p, q: 1.0 if {p, q} == {"lead", "a"} else 0.0,
        flagged=frozenset({"b"}),
    )


def test_short_labels_prefer_the_acronym_and_never_exceed_the_limit() -> None:
    assert short_label("United Nations Development Programme (UNDP)") == "UNDP"
    assert short_label("Cisco Systems") == "Cisco Systems"
    long = short_label("x" * 80, 20)
    assert len(long) == 20 and long.endswith("…")


def test_the_picture_puts_the_lead_in_the_middle_and_draws_ties_and_paths() -> None:
    weights = {
        frozenset({"lead", "a"}): 2.0,
        frozenset({"a", "b"}): 1.0,
        frozenset({"x", "c"}): 0.5,
    }
    picture = coalition_picture(
        "lead",
        ["a", "b", "c"],
        {"a": ["lead", "a"], "b": ["lead", "a", "b"], "c": ["lead", "x", "c"]},
        names={"lead": "Lead (LD)", "a": "Alpha", "b": "Beta", "c": "Gamma", "x": "Xeno"},
        sectors={"a": "public", "b": "private", "c": None},
        tie_weight=lambda p, q: weights.get(frozenset({p, q}), 0.0),
        flagged=frozenset({"c"}),
    )
    nodes = {n.id: n for n in picture.nodes}
    assert nodes["lead"].role == "lead" and nodes["x"].role == "intermediary"
    assert {nodes[m].role for m in "abc"} == {"member"}
    centre = nodes["lead"]
    distances = [math.hypot(nodes[m].x - centre.x, nodes[m].y - centre.y) for m in "abc"]
    assert max(distances) - min(distances) < 1e-6  # members on one circle
    assert math.hypot(nodes["x"].x - centre.x, nodes["x"].y - centre.y) < min(distances)
    assert {(t.source, t.target) for t in picture.ties} == {("lead", "a"), ("a", "b"), ("c", "x")}
    heaviest = max(picture.ties, key=lambda t: t.weight)
    assert heaviest.width == max(t.width for t in picture.ties)
    assert {(e.source, e.target) for e in picture.paths} == {
        ("lead", "a"),
        ("a", "b"),
        ("lead", "x"),
        ("x", "c"),
    }
    assert nodes["c"].flagged and nodes["c"].label.startswith("⚑")
    kinds = {item.kind for item in picture.legend}
    assert {"lead", "member", "intermediary", "flag", "tie", "path"} <= kinds
    for node in picture.nodes:  # everything inside the drawing
        assert 0 <= node.y - node.r and node.y + node.r <= picture.height
        assert 0 <= node.x <= picture.width
    assert "Introduction to Beta: Lead (LD) → Alpha → Beta." in picture.summary


def test_the_svg_is_an_image_named_by_its_title_and_described_by_its_summary() -> None:
    picture = _picture()
    root = ElementTree.fromstring(svg_document(coalition_svg(picture, key="c1")))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == title.get("id") == "c1-svg-title"
    assert root.get("aria-describedby") == desc.get("id") == "c1-svg-desc"
    assert title.text == (
        "The coalition led by Lead (LD), with past collaborations and introduction paths"
    )
    assert desc.text == picture.summary
    assert (root.get("width"), root.get("height")) == (str(picture.width), str(picture.height))
    nodes = [(g.get("data-id"), g.get("class")) for g in root.iter(f"{SVG}g") if g.get("data-id")]
    assert nodes == [
        ("lead", "node node-lead"),
        ("a", "node node-member"),
        ("b", "node node-member"),
        ("x", "node node-intermediary"),
    ]
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert [text.text for text in legend.iter(f"{SVG}text")] == [
        "Lead entity",
        "Member: public sector",
        "Member: civil society sector",
        "Go-between (not a member)",
        "⚑ Member with integrity flags",
        "Past collaboration (thicker: stronger)",
        "Introduction path to the lead",
    ]


def test_a_page_describes_the_svg_by_its_caption_instead() -> None:
    svg = str(coalition_svg(_picture(), key="p7", caption_id="p7-svg-caption"))
    assert 'aria-describedby="p7-svg-caption"' in svg
    assert "<desc" not in svg


def test_the_svg_draws_with_attributes_a_strict_content_security_policy_allows() -> None:
    svg = str(coalition_svg(_picture(), key="c1"))
    assert "<style" not in svg and not re.search(r"\sstyle=", svg)
    assert re.search(r'font-family="[^"]*sans-serif"', svg)


def test_names_in_the_svg_are_text_never_markup() -> None:
    names = {"lead": "<script>alert(1)</script>", "a": "A & B", "b": '"Quoted"', "x": "X"}
    svg = str(coalition_svg(_picture(names), key="c1"))
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in svg and "A &amp; B" in svg
    root = ElementTree.fromstring(svg)
    assert root.find(f"{SVG}title").text.startswith("The coalition led by <script>")


def test_the_same_coalition_gives_the_same_bytes() -> None:
    first = svg_document(coalition_svg(_picture(), key="c1"))
    assert first.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<svg ')
    assert svg_document(coalition_svg(_picture(), key="c1")) == first


def _coverage_result() -> dict[str, object]:
    """Two needs, two coalitions sharing a member whose name is markup."""

    def member(org: str, covers: dict[str, float]) -> dict[str, object]:
        return {"id": org, "covers": covers}

    return {
        "needs": [{"capability": "water"}, {"capability": "health & <care>"}],
        "organisations": {
            "x": {"name": "<b>&"},
            "y": {"name": "Ypsilon"},
            "z": {"name": "Zeta"},
        },
        "coalitions": [
            {"rank": 1, "members": [member("x", {"water": 1.0}), member("y", {"water": 0.5})]},
            {"rank": 2, "members": [member("x", {"water": 1.0}), member("z", {})]},
        ],
    }


def test_the_coverage_heat_map_has_a_cell_per_need_and_member_with_its_value() -> None:
    from service.batch.render import coverage_figure
    from service.pages.render import HEAT_COLOURS

    document = coverage_figure(_coverage_result())
    assert document is not None and document.startswith(b"<?xml")
    root = ElementTree.fromstring(document)  # well-formed, names escaped
    assert root.tag == f"{SVG}svg"
    cells = {
        (cell.get("data-need"), cell.get("data-member")): cell
        for cell in root.iter(f"{SVG}g")
        if cell.get("class") == "cell"
    }
    expected = {
        ("water", "x"): ("1.00", HEAT_COLOURS[-1]),
        ("water", "y"): ("0.50", HEAT_COLOURS[4]),
        ("water", "z"): ("0.00", HEAT_COLOURS[0]),
        ("health & <care>", "x"): ("0.00", HEAT_COLOURS[0]),
        ("health & <care>", "y"): ("0.00", HEAT_COLOURS[0]),
        ("health & <care>", "z"): ("0.00", HEAT_COLOURS[0]),
    }
    found = {}
    for key, cell in cells.items():
        text, rect = cell.find(f"{SVG}text"), cell.find(f"{SVG}rect")
        assert text is not None and rect is not None
        found[key] = (text.text, rect.get("fill"))
    assert found == expected
    texts = ["".join(element.itertext()) for element in root.iter(f"{SVG}text")]
    assert "<b>&" in texts and "health & <care>" in texts  # shown as text, not markup
    assert "(#1, #2)" in texts and "(#2)" in texts  # each member's coalitions
    assert b"<b>" not in document and root.find(f".//{SVG}b") is None
    legend = [g for g in root.iter(f"{SVG}g") if g.get("class") == "legend"]
    assert [r.get("fill") for r in legend[0].iter(f"{SVG}rect")] == list(HEAT_COLOURS)


def test_no_heat_map_without_needs_or_coalitions() -> None:
    from service.batch.render import coverage_figure

    result = _coverage_result()
    assert coverage_figure({**result, "needs": []}) is None
    assert coverage_figure({**result, "coalitions": []}) is None
