"""Write a synthetic data directory of N organisations (DESIGN.md 5.1) into DIR.

Usage: ``python -m scripts.generate_dataset --orgs 100000 --out /tmp/synthetic [--seed 0]``.
Shows a progress bar per stage on stderr, then prints the rows written per file and the
elapsed time. Exit 0 when done, 1 with a one-line reason on stderr when writing failed, 2 on
bad usage (N below 1, a negative seed). See :mod:`matcher.formats.generate` for what is generated.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from matcher.formats.generate import generate_directory

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._writing import parse, write_and_report  # noqa: E402

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="generate_dataset",
        description="Write a synthetic partnermatch data directory of any size.",
    )
    parser.add_argument(
        "--orgs", metavar="N", type=int, required=True, help="number of organisations (>= 1)"
    )
    parser.add_argument("--out", metavar="DIR", type=Path, required=True, help="folder to write")
    parser.add_argument("--seed", metavar="S", type=int, default=0, help="random seed (default 0)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Generate the directory; return the exit code (0 done, 1 failed, 2 bad usage)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    if args.orgs < 1:
        print(f"error: --orgs must be at least 1, got {args.orgs}", file=sys.stderr)
        return 2
    if args.seed < 0:
        print(f"error: --seed must be non-negative, got {args.seed}", file=sys.stderr)
        return 2
    return write_and_report(
        lambda: generate_directory(args.orgs, args.out, seed=args.seed, progress=True),
        args.out,
        failure=f"cannot write {args.out}: ",
    )


if __name__ == "__main__":
    sys.exit(main())
