"""Cells a spreadsheet will not run: the one escape used by report CSVs and by
``partnermatch export --spreadsheet-safe``."""

from __future__ import annotations

import re

__all__ = ["spreadsheet_safe"]

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def spreadsheet_safe(value: object) -> str:
    """A cell as text, prefixed with ``'`` when a spreadsheet would run it as a formula: when
    it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return, unless it is a
    plain number (``-0.25`` is read as a number, never run).

    >>> spreadsheet_safe('=HYPERLINK("http://x")'), spreadsheet_safe("-1+2"), spreadsheet_safe(-0.5)
    ('\\'=HYPERLINK("http://x")', "'-1+2", '-0.5')
    """
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
