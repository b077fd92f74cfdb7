"""Says, in words, which hard constraint keeps an initiative from any coalition.

Each check looks at the formulation alone (no solve): too few eligible candidates for the
minimum size, a required sector or kind no eligible candidate has, a local partner required
where no eligible candidate is. When none applies, the constraints are infeasible only
together (a conflict, complementarity, the maximum size).

Examples
--------
>>> import numpy as np
>>> from matcher.domain.model import Initiative
>>> from matcher.engine.objective import Problem
>>> from matcher.engine.pool import CandidatePool
>>> from matcher.engine.proximity import SparseScores
>>> from matcher.engine.solvers import Rules
>>> problem = Problem.toy([[1.0], [0.5]], [1.0])
>>> formulation = Formulation(
...     Initiative.from_mapping({"lead": "unicef", "countries": ["BR"]}), 0, (),
...     SparseScores.from_dense(np.zeros(3)), ("funding",), (),
...     CandidatePool(np.array([1, 2]), (), frozenset()), problem,
...     Rules(min_size=3, max_size=4, require_local=True))
>>> for reason in why_infeasible(formulation):
...     print(reason)
only 2 eligible candidates for a minimum size of 3
no eligible candidate in the target countries (BR) for require_local_partner
"""

from __future__ import annotations

from matcher.engine.index import KINDS, SECTORS
from matcher.engine.problem import Formulation

__all__ = ["why_infeasible"]


def why_infeasible(formulation: Formulation) -> tuple[str, ...]:
    """Which hard constraint no candidate of the pool can meet, in words.

    Parameters
    ----------
    formulation : Formulation
        The initiative as solved: its ``problem`` and ``rules`` over the pool.

    Returns
    -------
    tuple of str
        One sentence per unmet constraint; when each is met alone, the one sentence "the
        constraints together admit no coalition".
    """
    problem, rules = formulation.problem, formulation.rules
    reasons = []
    if problem.size < rules.min_size:
        reasons.append(
            f"only {problem.size} eligible candidates for a minimum size of {rules.min_size}"
        )
    for sector in sorted(rules.required_sectors):
        if not (problem.sector == sector).any():
            reasons.append(
                f"no eligible candidate of the required sector {SECTORS[sector].value!r}"
            )
    if rules.kind is not None:
        for kind in sorted(rules.required_kinds):
            if not (rules.kind == kind).any():
                reasons.append(f"no eligible candidate of the required kind {KINDS[kind].value!r}")
    if rules.require_local and not problem.local.any():
        countries = ", ".join(sorted(formulation.initiative.countries))
        reasons.append(
            f"no eligible candidate in the target countries ({countries}) for require_local_partner"
        )
    return tuple(reasons) or ("the constraints together admit no coalition",)
