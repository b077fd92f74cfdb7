"""Convert the CORDIS Horizon 2020 files in SRC into a data directory OUT (DESIGN.md 5.1).

Usage: ``python -m scripts.cordis_to_dataset ../shared/data/cordis-h2020 /tmp/cordis-dir``.
Prints the rows written per file and the elapsed time; exit 1 with a one-line reason on
stderr when SRC lacks ``participations.csv`` or ``programme_parts.csv`` (or they are
unreadable), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from matcher.formats.cordis import convert_cordis_directory

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._writing import parse, write_and_report  # noqa: E402

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cordis_to_dataset",
        description="Convert CORDIS H2020 participations into a partnermatch data directory.",
    )
    parser.add_argument(
        "src", metavar="SRC", type=Path, help="folder with participations.csv, programme_parts.csv"
    )
    parser.add_argument("out", metavar="OUT", type=Path, help="data directory to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the conversion; return the exit code (0 done, 1 failed, 2 bad usage)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    return write_and_report(lambda: convert_cordis_directory(args.src, args.out), args.out)


if __name__ == "__main__":
    sys.exit(main())
