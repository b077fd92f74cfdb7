"""Writing report files safely: names from ids, atomic writes, CSV cells a spreadsheet won't run."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from matcher.formats.spreadsheet import spreadsheet_safe

__all__ = [
    "PARTIAL_SUFFIX",
    "safe_name",
    "inside",
    "write_atomic",
    "remove_partial_files",
    "spreadsheet_safe",
    "csv_bytes",
]

#: Temporary files are ``.<name>.<random>.partial`` beside their target until renamed.
PARTIAL_SUFFIX = ".partial"

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{k}" for k in range(1, 10)}
    | {f"lpt{k}" for k in range(1, 10)}
)


def safe_name(identifier: str) -> str:
    """A folder name for an initiative id that cannot leave its parent folder.

    Letters, digits, ``_`` and ``-`` are kept, everything else (``.``, ``/``, ``:``, ...)
    becomes ``_``, at most 64 characters. When that changes the id, or the id has capitals
    (case-insensitive file systems) or is a reserved device name, a hash of the id is
    appended so that two ids never share a folder.

    >>> safe_name("i49-edu-quality-brazil")
    'i49-edu-quality-brazil'
    >>> safe_name("../../etc")
    '______etc-74ccf3c5'
    """
    cleaned = _UNSAFE.sub("_", identifier)[:64] or "_"
    if cleaned == identifier.lower() and cleaned not in _WINDOWS_RESERVED:
        return cleaned
    digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned}-{digest}"


def inside(root: Path, *parts: str) -> Path:
    """``root / parts``, refusing any path that resolves outside ``root``."""
    base = root.resolve()
    target = base.joinpath(*parts).resolve()
    if target != base and base not in target.parents:
        raise ValueError(f"{'/'.join(parts)!r} would be written outside {root}")
    return target


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader (or a killed run) never sees half a file:
    a temporary file in the same folder, then :func:`os.replace`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=PARTIAL_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_partial_files(root: Path) -> int:
    """Delete the temporary files a killed run left under ``root``; return how many."""
    removed = 0
    for leftover in root.rglob(f".*{PARTIAL_SUFFIX}"):
        if leftover.is_file():
            leftover.unlink()
            removed += 1
    return removed


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """UTF-8 CSV as RFC 4180 has it (CRLF line ends, so that a cell holding a lone carriage
    return is quoted too), every cell passed through :func:`spreadsheet_safe`."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([spreadsheet_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")
