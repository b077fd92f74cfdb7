"""Pure helpers of the review pages: the heat-map colour scale and its contrast, codes in
words, the score bars. The coalition picture is :mod:`service.pictures`'s."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "HEAT_COLOURS",
    "heat_bucket",
    "relative_luminance",
    "contrast_ratio",
    "text_colour",
    "humanise",
    "describe_detail",
    "Bar",
    "score_bars",
    "score_text",
    "usd",
]

#: The heat-map scale, from "covers nothing" (index 0) to "covers fully" (the last): a
#: sequential blue scale (ColorBrewer Blues). ``pages.css`` has one ``.heat-N`` class each.
HEAT_COLOURS: tuple[str, ...] = (
    "#ffffff",
    "#deebf7",
    "#c6dbef",
    "#9ecae1",
    "#6baed6",
    "#4292c6",
    "#2171b5",
    "#08519c",
    "#08306b",
)


def heat_bucket(value: float) -> int:
    """The index in :data:`HEAT_COLOURS` of a coverage ``value`` in [0, 1].

    0 only for no coverage at all; anything above 0 gets at least the first tint, and the
    rest of (0, 1] is cut into equal steps. Values outside [0, 1] are clamped.

    >>> [heat_bucket(v) for v in (0, 0.01, 0.125, 0.5, 0.99, 1, 7)]
    [0, 1, 1, 4, 8, 8, 8]
    """
    steps = len(HEAT_COLOURS) - 1
    if not math.isfinite(value) or value <= 0:
        return 0
    return min(steps, max(1, math.ceil(min(value, 1.0) * steps - 1e-9)))


def relative_luminance(colour: str) -> float:
    """WCAG 2 relative luminance of a ``#rrggbb`` colour.

    >>> relative_luminance("#ffffff"), relative_luminance("#000000")
    (1.0, 0.0)
    """
    match = re.fullmatch(r"#([0-9a-fA-F]{2})([0-9a-fA-F]{2})([0-9a-fA-F]{2})", colour)
    if match is None:
        raise ValueError(f"Not a #rrggbb colour: {colour!r}")

    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(match.group(k)) for k in (1, 2, 3))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two colours, 1 to 21.

    >>> round(contrast_ratio("#000000", "#ffffff"), 1)
    21.0
    """
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background``.

    >>> text_colour("#ffffff"), text_colour("#08306b")
    ('#000000', '#ffffff')
    """
    black, white = "#000000", "#ffffff"
    if contrast_ratio(background, black) >= contrast_ratio(background, white):
        return black
    return white


def humanise(code: str) -> str:
    """A code as words: ``request_changes`` → ``Request changes``.

    >>> humanise("conflict_of_interest"), humanise("funding.grants")
    ('Conflict of interest', 'Funding grants')
    """
    words = re.sub(r"[._]+", " ", code).strip()
    return words[:1].upper() + words[1:]


def score_text(value: float | None) -> str:
    """A score (or a part of one) as every page shows it: two decimals, a true minus sign,
    no ``-0.00``. The one rounding rule of the queue, the proposal and the broker's page.

    >>> score_text(6.614591), score_text(-0.5), score_text(-0.001), score_text(None)
    ('6.61', '−0.50', '0.00', '–')
    """
    if value is None or not math.isfinite(value):
        return "–"
    text = f"{value:.2f}"
    if text.startswith("-"):
        text = "0.00" if float(text) == 0 else "−" + text[1:]
    return text


def usd(amount: float | None) -> str:
    """An amount in US dollars, with its unit: ``USD 2,500,000``.

    >>> usd(2500000), usd(1234.5), usd(None)
    ('USD 2,500,000', 'USD 1,234', '–')
    """
    if amount is None or not math.isfinite(amount):
        return "–"
    return f"USD {amount:,.0f}"


_DETAIL_LABELS = {"reason_code": "Reason", "initiative": "Initiative", "members": "Members"}


def describe_detail(detail: Mapping[str, object]) -> list[tuple[str, str]]:
    """An audit entry's details as ``(label, text)``: codes in words, lists joined, empty
    values left out.

    >>> describe_detail({"reason_code": "complementary_fit", "comment": "", "members": ["a", "b"]})
    [('Reason', 'Complementary fit'), ('Members', 'a, b')]
    """
    described = []
    for key, value in detail.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        if isinstance(value, list | tuple):
            text = ", ".join(str(v) for v in value)
        elif key.endswith("code") or key == "decision":
            text = humanise(str(value))
        else:
            text = str(value)
        described.append((_DETAIL_LABELS.get(key, humanise(key)), text))
    return described


# ---- the score bar chart -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One horizontal bar of a diverging chart: ``x`` and ``width`` in chart units."""

    x: float
    width: float
    negative: bool


def score_bars(values: Sequence[float], width: float = 200.0) -> tuple[float, list[Bar]]:
    """Diverging bars on a shared scale: the zero axis and one bar per value.

    The axis sits where negative and positive extents split ``width``.

    >>> axis, bars = score_bars([3.0, -1.0], width=100)
    >>> axis, [(b.x, b.width, b.negative) for b in bars]
    (25.0, [(25.0, 75.0, False), (0.0, 25.0, True)])
    """
    low = -min((v for v in values if v < 0), default=0.0)
    high = max((v for v in values if v > 0), default=0.0)
    span = low + high
    if span <= 0:
        return 0.0, [Bar(0.0, 0.0, False) for _ in values]
    axis = width * low / span
    bars = []
    for v in values:
        size = width * abs(v) / span
        bars.append(Bar(round(axis - size if v < 0 else axis, 3), round(size, 3), v < 0))
    return round(axis, 3), bars
