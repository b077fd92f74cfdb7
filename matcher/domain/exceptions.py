"""The one exception hierarchy of the matcher package."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "PartnerMatchError",
    "ValidationError",
    "UnknownCodeError",
    "DuplicateIdError",
    "NotFoundError",
    "UnknownReferenceError",
    "TaxonomyError",
    "DataDirectoryError",
    "SnapshotError",
]


class PartnerMatchError(Exception):
    """Base class of every error raised by :mod:`matcher`."""


class ValidationError(PartnerMatchError, ValueError):
    """A value does not satisfy the domain's rules.

    ``field`` names the offending field (a dotted path for nested values, such as
    ``constraints.max_size``), ``value`` holds the offending value.
    """

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class UnknownCodeError(ValidationError):
    """A code (kind, theme, capability, country, ...) is known to no vocabulary."""


class DuplicateIdError(ValidationError):
    """Two objects of one kind share an id."""


class NotFoundError(PartnerMatchError, LookupError):
    """An id names no known object."""


class UnknownReferenceError(ValidationError, NotFoundError):
    """A request names an object that does not exist; ``field`` says where it was named."""


class TaxonomyError(PartnerMatchError):
    """A taxonomy file is malformed: bad header, missing parent, cycle, duplicate code."""


class DataDirectoryError(PartnerMatchError):
    """A data directory was rejected; ``problems`` lists every problem found.

    Each problem reads ``file:line: column: reason``.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} {noun} found:\n" + "\n".join(self.problems))


class SnapshotError(PartnerMatchError):
    """An index snapshot cannot be written or opened (missing, unfinished, of another format
    version, damaged), or an index opened from one was asked for what it does not hold."""
