"""Hold-out evaluation of the recommender's completion and cold start, with baselines.

Usage: ``python -m scripts.evaluate --data DIR --split-year Y [--k 10] [--min-size 3]
[--max-cases N] [--seed S] [--text-encoder use|tfidf] [--no-text] [--ubiquitous-share 0.5]
[--format json|text]`` (also ``partnermatch evaluate``, with the same options).

Reads the data directory, splits its partnerships at the year, builds the index and trains the
affinity model on the history only, then ranks each test partnership's hidden member
(completion) and members (cold start) with the product and the baselines. Prints one JSON
object (``--format json``) or a table with the setup and timings (``text``). Exit 0 when done,
1 with a one-line reason on stderr when the directory is unreadable or the evaluation cannot
run, 2 on bad usage. See :mod:`matcher.engine.evaluation` for how cases are built.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from matcher.domain.exceptions import PartnerMatchError
from matcher.engine.evaluation import render_text, run_evaluation
from matcher.formats.datadir import read_data_directory

if __package__ in (None, ""):  # run as a file (python scripts/NAME.py): find the repository
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scripts._writing import parse  # noqa: E402

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="evaluate", description="Hold-out evaluation on history, with baselines."
    )
    parser.add_argument("--data", metavar="DIR", type=Path, required=True, help="data directory")
    parser.add_argument(
        "--split-year", metavar="Y", type=int, required=True, help="first test year"
    )
    parser.add_argument("--k", type=int, default=10, help="cut-off of recall@k, NDCG@k (10)")
    parser.add_argument(
        "--min-size", type=int, default=3, help="members a test partnership needs (3)"
    )
    parser.add_argument("--max-cases", metavar="N", type=int, help="a sample of N test cases")
    parser.add_argument("--seed", metavar="S", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--text-encoder",
        choices=("use", "tfidf"),
        default="use",
        help="how the product reads the partnerships' words (use)",
    )
    parser.add_argument(
        "--no-text", action="store_true", help="the product without words (baselines keep them)"
    )
    parser.add_argument(
        "--ubiquitous-share",
        type=float,
        default=0.5,
        help="leave out organisations in at least this share of history partnerships (0.5)",
    )
    parser.add_argument("--format", choices=("json", "text"), default="text")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the evaluation; return the exit code (0 done, 1 failed, 2 bad usage)."""
    args = parse(_parser(), argv)
    if isinstance(args, int):
        return args
    problems = []
    if args.k < 1:
        problems.append(f"--k must be at least 1, got {args.k}")
    if args.min_size < 2:
        problems.append(f"--min-size must be at least 2, got {args.min_size}")
    if args.max_cases is not None and args.max_cases < 1:
        problems.append(f"--max-cases must be at least 1, got {args.max_cases}")
    if not 0.0 <= args.ubiquitous_share <= 1.0:
        problems.append(f"--ubiquitous-share must be within 0-1, got {args.ubiquitous_share}")
    if problems:
        print(f"error: {problems[0]}", file=sys.stderr)
        return 2
    try:
        dataset = read_data_directory(args.data)
        summary, details = run_evaluation(
            dataset,
            split_year=args.split_year,
            k=args.k,
            min_size=args.min_size,
            max_cases=args.max_cases,
            seed=args.seed,
            text_encoder=None if args.no_text else args.text_encoder,
            ubiquitous_share=args.ubiquitous_share,
        )
    except (PartnerMatchError, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        print(f"error: {reason}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(summary, indent=2))
    else:
        print(render_text(summary, details))
    return 0


if __name__ == "__main__":
    sys.exit(main())
