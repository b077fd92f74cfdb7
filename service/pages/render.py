"""Pure helpers of the review pages: codes in words, the score bars. The heat-map colour
scale and its contrast (re-exported here) and the coalition picture are
:mod:`service.pictures`'s, shared with the batch reports."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.pictures import (
    HEAT_COLOURS,
    contrast_ratio,
    heat_bucket,
    relative_luminance,
    text_colour,
)

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
