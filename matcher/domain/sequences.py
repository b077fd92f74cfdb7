"""Sequences whose items are made when read, so that a large one holds its source, not its items.

The engine's string columns decode one string from a byte array when it is read
(:class:`~matcher.engine.directory.StringColumn`); an import's table rows are made from their
records as they are written (:class:`~matcher.storage.rows.RecordRows`). Both index, slice
and count from the end as a list does, through :class:`MadeOnRead`.

Examples
--------
>>> class Squares(MadeOnRead[int]):
...     def __len__(self) -> int:
...         return 4
...     def _make(self, k: int) -> int:
...         return k * k
>>> squares = Squares()
>>> squares[-1], squares[1:3], list(squares)
(9, [1, 4], [0, 1, 4, 9])
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TypeVar, overload

__all__ = ["MadeOnRead"]

T = TypeVar("T")


class MadeOnRead(Sequence[T]):
    """A sequence of ``len(self)`` items, item ``k`` made by :meth:`_make` each time it is
    read; a slice reads as a list of the items it covers."""

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def _make(self, k: int) -> T:
        """Item ``k``, for ``0 <= k < len(self)``."""

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> list[T]: ...

    def __getitem__(self, i: int | slice) -> T | list[T]:
        if isinstance(i, slice):
            return [self._make(k) for k in range(*i.indices(len(self)))]
        size = len(self)
        k = int(i)
        if k < 0:
            k += size
        if not 0 <= k < size:
            raise IndexError(f"item {i} out of range ({size})")
        return self._make(k)
