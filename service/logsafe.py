"""Log lines a client cannot forge: control characters of request data escaped.

A path with ``%0a`` would otherwise end the access-log line and start a fake one; NUL, the
escape of a terminal colour and the right-to-left override would be written raw.
"""

from __future__ import annotations

import logging
import unicodedata

__all__ = ["printable", "EscapingFilter"]

#: Unicode categories escaped: controls (C0, C1, DEL), formats (bidirectional overrides,
#: zero-width characters), line and paragraph separators, and unassigned code points.
_ESCAPED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cn", "Cs", "Co"})


def printable(text: str) -> str:
    r"""``text`` with every control, format or separator character escaped.

    >>> printable("/v1/x\n127.0.0.1 \"GET /\" 200\x00\u202e")
    '/v1/x\\n127.0.0.1 "GET /" 200\\x00\\u202e'
    """
    if text.isprintable():
        return text
    out = []
    for char in text:
        if unicodedata.category(char) not in _ESCAPED:
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}")
    return "".join(out)


class EscapingFilter(logging.Filter):
    """Escapes the message of every record a logger or handler passes (the traceback of
    an exception, added by the formatter, keeps its lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = printable(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return True
