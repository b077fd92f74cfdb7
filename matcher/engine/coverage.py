"""Who covers a capability need, and how well: the coverage vectors the pool and objective read.

An organisation covers need ``c`` by the best over its capabilities of strength × taxonomy
credit (:func:`~matcher.domain.taxonomy.match_credit`): descendants serve fully, ancestors
and siblings in part. :func:`capability_coverage` computes one need's vector from the
index's capability matrix; :class:`CoverageTable` holds every code's, computed once when a
snapshot is built and memory-mapped by every worker, so that no worker keeps a private copy
(at 1,000,000 organisations they are about 360 MiB).

Examples
--------
>>> import scipy.sparse as sp
>>> from matcher.domain.taxonomy import MatchCredits, Term, Vocabulary
>>> caps = Vocabulary("capability", [Term("a", "A"), Term("a.b", "B", parent="a")])
>>> matrix = sp.csc_matrix(np.array([[1.0, 0.0], [0.0, 0.8], [0.0, 0.0]]))  # orgs × codes
>>> positions, values = capability_coverage(
...     matrix, {"a": 0, "a.b": 1}, caps, "a.b", MatchCredits())
>>> positions.tolist(), values.tolist()  # org 0 offers the parent (half credit), org 1 it
([0, 1], [0.5, 0.8])
>>> table = CoverageTable.build(matrix, ("a", "a.b"), caps, MatchCredits())
>>> [p.tolist() for p in table.get("a")]  # a descendant serves fully
[[0, 1], [1.0, 0.8]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.arrays import FloatArray, IntArray
from matcher.domain.taxonomy import MatchCredits, Vocabulary, match_credit

__all__ = ["CoverageTable", "capability_coverage"]


def capability_coverage(
    matrix: sp.csc_matrix,
    capability_position: Mapping[str, int],
    vocabulary: Vocabulary,
    code: str,
    credits: MatchCredits,
) -> tuple[IntArray, FloatArray]:
    """The organisations covering capability ``code``, with their coverage in (0, 1].

    Parameters
    ----------
    matrix : scipy.sparse.csc_matrix
        Organisations × capability codes, the strength of each offer.
    capability_position : mapping of str to int
        Each code's column in ``matrix``.
    vocabulary : Vocabulary
        The capability taxonomy ``code`` belongs to.
    code : str
    credits : MatchCredits

    Returns
    -------
    positions : ndarray of int64
        Row positions, ascending.
    coverage : ndarray of float64
        Aligned with ``positions``.

    Notes
    -----
    O(entries of the related columns × log) time: the columns of ``code``, its ancestors,
    descendants and siblings.
    """
    related = {code, *vocabulary.descendants(code), *vocabulary.ancestors(code)}
    parent = vocabulary.parent(code)
    if parent is not None:
        related.update(vocabulary.children(parent))
    positions: list[IntArray] = []
    values: list[FloatArray] = []
    for other in sorted(related):
        credit = match_credit(vocabulary, code, other, credits)
        column = capability_position.get(other)
        if credit <= 0 or column is None:
            continue
        start, end = matrix.indptr[column], matrix.indptr[column + 1]
        positions.append(matrix.indices[start:end].astype(np.int64))
        values.append(matrix.data[start:end] * credit)
    if not positions:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    all_positions = np.concatenate(positions)
    all_values = np.concatenate(values)
    order = np.lexsort((-all_values, all_positions))
    all_positions, all_values = all_positions[order], all_values[order]
    first = np.ones(all_positions.size, dtype=bool)
    first[1:] = all_positions[1:] != all_positions[:-1]
    return all_positions[first], np.minimum(all_values[first], 1.0)


@dataclass(frozen=True)
class CoverageTable:
    """:func:`capability_coverage` of every code, in one layout that can be memory-mapped.

    Code ``codes[k]``'s positions and coverage are ``positions[indptr[k]:indptr[k + 1]]``
    and the same slice of ``values``: views, so that reading them copies nothing.
    ``credits`` are the ones they were computed with; a recommender configured with other
    credits computes its own.
    """

    credits: MatchCredits
    codes: tuple[str, ...]
    indptr: IntArray
    positions: IntArray
    values: FloatArray

    @classmethod
    def build(
        cls,
        matrix: sp.csc_matrix,
        codes: Sequence[str],
        vocabulary: Vocabulary,
        credits: MatchCredits,
    ) -> CoverageTable:
        """Compute the coverage of each of ``codes`` (``matrix``'s columns, in order)."""
        position = {code: k for k, code in enumerate(codes)}
        parts = [capability_coverage(matrix, position, vocabulary, c, credits) for c in codes]
        indptr = np.zeros(len(parts) + 1, dtype=np.int64)
        np.cumsum([p.size for p, _ in parts], out=indptr[1:])
        empty_positions, empty_values = np.zeros(0, dtype=np.int64), np.zeros(0)
        return cls(
            credits,
            tuple(codes),
            indptr,
            np.concatenate([p for p, _ in parts]) if parts else empty_positions,
            np.concatenate([v for _, v in parts]) if parts else empty_values,
        )

    def get(self, code: str) -> tuple[IntArray, FloatArray] | None:
        """``code``'s positions and coverage, or ``None`` if the table has no such code."""
        try:
            k = self.codes.index(code)
        except ValueError:
            return None
        start, end = int(self.indptr[k]), int(self.indptr[k + 1])
        return self.positions[start:end], self.values[start:end]

    def arrays(self, prefix: str) -> dict[str, npt.NDArray[Any]]:
        """The arrays to store, named ``prefix.indptr`` and so on."""
        return {
            f"{prefix}.indptr": self.indptr,
            f"{prefix}.positions": self.positions,
            f"{prefix}.values": self.values,
        }

    def facts(self) -> dict[str, Any]:
        """What to store beside the arrays: the credits and the codes, in order."""
        return {"credits": asdict(self.credits), "codes": list(self.codes)}

    @classmethod
    def from_arrays(
        cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str, facts: Mapping[str, Any]
    ) -> CoverageTable:
        """The table :meth:`arrays` and :meth:`facts` describe (the arrays as given, e.g.
        memory-mapped)."""
        return cls(
            MatchCredits(**facts["credits"]),
            tuple(facts["codes"]),
            arrays[f"{prefix}.indptr"],
            arrays[f"{prefix}.positions"],
            arrays[f"{prefix}.values"],
        )
