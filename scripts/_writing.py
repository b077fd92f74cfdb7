"""What the scripts share: parsing to an exit code, and the rows-written report of those that
write a data directory."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from matcher.domain.exceptions import DataDirectoryError

__all__ = ["parse", "write_and_report"]


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit code argparse chose (2 on bad usage, 0 on --help)."""
    try:
        return parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 2


def write_and_report(
    write: Callable[[], Mapping[str, int]], out: Path, *, failure: str = ""
) -> int:
    """Run ``write``, print the rows it wrote per file and the time; return the exit code.

    A :class:`DataDirectoryError` or :class:`OSError` is printed on stderr as one line
    (``failure`` before an ``OSError``'s text) and gives exit code 1.
    """
    started = time.perf_counter()
    try:
        counts = write()
    except DataDirectoryError as err:
        print(f"error: {'; '.join(err.problems)}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"error: {failure}{err}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - started
    width = max(len(name) for name in counts)
    for name, count in counts.items():
        print(f"{name:<{width}}  {count:>10,}")
    print(f"wrote {out} in {elapsed:.1f} s")
    return 0
