"""Benchmark: generate synthetic data directories of 10,000, 100,000 and 1,000,000 organisations.

For each size (``--sizes``), prints the wall time of
:func:`matcher.formats.generate.generate_directory`,
the peak RSS of the process so far (``resource.getrusage``; it only grows, so run the sizes in
increasing order, as by default) and the rows per file. Then reads and validates the 10,000
directory (when that size was generated) with
:func:`matcher.formats.datadir.read_data_directory` and prints that time too.

    python -m scripts.bench_generate [--sizes 10000,100000,1000000] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from matcher.formats.datadir import read_data_directory
from matcher.formats.generate import generate_directory

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._bench import peak_rss_mib  # noqa: E402
from scripts._writing import parse  # noqa: E402

__all__ = ["main"]

VALIDATED_SIZE = 10_000


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive integers: {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return the exit code (0 done, 1 failed, 2 bad usage)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000, 1_000_000],
        help="comma-separated numbers of organisations (default 10000,100000,1000000)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--keep", type=Path, help="write the directories under this folder and keep them"
    )
    args = parse(parser, argv)
    if isinstance(args, int):
        return args
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        for size in args.sizes:
            folder = root / f"synthetic-{size}"
            started = time.perf_counter()
            try:
                counts = generate_directory(size, folder, seed=args.seed)
            except OSError as err:
                print(f"error: cannot write {folder}: {err}", file=sys.stderr)
                return 1
            elapsed = time.perf_counter() - started
            rows = "  ".join(f"{name} {count:,}" for name, count in counts.items())
            print(
                f"{size:>9,} organisations  generate {elapsed:7.1f} s  "
                f"peak RSS {peak_rss_mib():7,.0f} MiB  |  {rows}",
                flush=True,
            )
        if VALIDATED_SIZE in args.sizes:
            folder = root / f"synthetic-{VALIDATED_SIZE}"
            started = time.perf_counter()
            dataset = read_data_directory(folder)
            elapsed = time.perf_counter() - started
            print(
                f"{VALIDATED_SIZE:>9,} organisations  read_data_directory {elapsed:7.1f} s "
                f"(no problem; {len(dataset.memberships):,} memberships)  "
                f"peak RSS {peak_rss_mib():7,.0f} MiB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
