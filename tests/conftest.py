"""Shared fixtures: the built-in taxonomies, the seed dataset and the report's paragraphs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from matcher.domain.dataset import Dataset
from matcher.domain.taxonomy import Taxonomies
from matcher.formats.datadir import read_data_directory
from matcher.formats.taxonomy_io import load_taxonomies

pytest_plugins = ["tests.storage_fixtures", "tests.api_fixtures", "tests.server_fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
SEED_DIR = REPO_ROOT / "data" / "seed"
TAXONOMY_DIR = REPO_ROOT / "data" / "taxonomy"


@pytest.fixture(scope="session")
def taxonomies() -> Taxonomies:
    return load_taxonomies()


@pytest.fixture(scope="session")
def seed(taxonomies: Taxonomies) -> Dataset:
    return read_data_directory(SEED_DIR, taxonomies)


def _report_path() -> Path | None:
    configured = os.environ.get("PARTNERMATCH_REPORT")
    if configured:
        return Path(configured)
    candidates = sorted((REPO_ROOT.parent / "shared" / "seed").glob("*.txt"))
    return candidates[0] if candidates else None


@pytest.fixture(scope="session")
def report_paragraphs() -> dict[int, str]:
    """The report's numbered paragraphs (§1-§93), by number.

    The report lives in ``../shared/seed/`` beside the checkout (or ``$PARTNERMATCH_REPORT``).
    Without it the test fails in CI and is skipped elsewhere.
    """
    path = _report_path()
    if path is None or not path.exists():
        message = "the source report is not at ../shared/seed/*.txt (set PARTNERMATCH_REPORT)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    text = path.read_text(encoding="utf-8")
    paragraphs: dict[int, str] = {}
    current: int | None = None
    for line in text.splitlines():
        match = re.match(r"^(\d{1,2})\. (.*)", line)
        if match:
            current = int(match.group(1))
            paragraphs[current] = match.group(2)
        elif current is not None:
            paragraphs[current] += "\n" + line
    return paragraphs
