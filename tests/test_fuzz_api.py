"""Schemathesis against the running service's own OpenAPI document, for every role: no 5xx,
every response conforms to the spec (a CI-sized budget; scripts/fuzz_api.py --thorough for
more)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))

from fuzz_api import ROLES, fuzz  # noqa: E402

pytestmark = pytest.mark.slow


def test_schemathesis_finds_no_failure_for_any_role(postgres_url: str, tmp_path: Path) -> None:
    results = fuzz(postgres_url, examples=3, workdir=tmp_path, seed=1)
    assert set(results) == set(ROLES)
    for role, (cases, failures) in results.items():
        report = (tmp_path / f"fuzz-{role}.txt").read_text()
        assert cases > 500, report[-2000:]
        assert failures == 0, report[-4000:]
