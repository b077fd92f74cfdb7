"""Columnar records of who is who: what explanations, gates and pages read besides the arrays.

The index serves a recommendation from arrays; the few facts it reports in words (an
organisation's name, a past partnership's name, year and countries, flags, conflicts, the
evidence of an inferred capability) used to come from the :class:`~matcher.domain.dataset.Dataset`
of domain objects, millions of Python objects at scale that every server worker held privately.
Here they are flat numpy columns instead: strings as one UTF-8 byte buffer with offsets
(:class:`StringColumn`), codes as small integers (:class:`CodedColumn`), lookup by id through a
sorted array of 64-bit BLAKE2b hashes (:class:`KeyIndex`), and one-to-many facts as a CSR-like
``indptr`` over index positions (:class:`GroupedMapping`). Objects are made on access only, for
the handful of rows a response names. Every column is a plain array, so
:mod:`matcher.engine.snapshot` can write it to disk and memory-map it back, shared by every
worker.

Examples
--------
>>> names = StringColumn.from_strings(["UNICEF", "Fundação Itaú", ""])
>>> names[1], len(names), list(KeyIndex(names).items())[:2]
('Fundação Itaú', 3, [('UNICEF', 0), ('Fundação Itaú', 1)])
>>> KeyIndex(names)["Fundação Itaú"], "UNDP" in KeyIndex(names)
(1, False)
>>> countries = CodedColumn.from_values(["BR", None, "AO", "BR"])
>>> list(countries), countries.codes, countries.ids.tolist()
(['BR', None, 'AO', 'BR'], ('AO', 'BR'), [1, -1, 0, 1])
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar, overload

import numpy as np
import numpy.typing as npt

from matcher.domain.arrays import IntArray
from matcher.domain.dataset import Dataset
from matcher.domain.model import (
    Conflict,
    Flag,
    FlagLevel,
    GCStatus,
    Kind,
    Organisation,
    Sector,
    Size,
)
from matcher.domain.sequences import MadeOnRead
from matcher.domain.taxonomy import Taxonomies
from matcher.integrity.screening import ScreeningPolicy

__all__ = [
    "StringColumn",
    "CodedColumn",
    "KeyIndex",
    "GroupedMapping",
    "PartnershipLabel",
    "Directory",
    "build_directory",
]

Arrays = dict[str, npt.NDArray[Any]]

_T = TypeVar("_T")
_V = TypeVar("_V")

#: Days since 1970-01-01 of a missing date.
NO_DATE = np.iinfo(np.int32).min
_EPOCH = dt.date(1970, 1, 1)
_ALIAS_SEPARATOR = "\x1f"
_LEVELS: tuple[FlagLevel, ...] = tuple(FlagLevel)
_GC: tuple[GCStatus, ...] = tuple(GCStatus)
_SIZES: tuple[Size, ...] = tuple(Size)
_KINDS: tuple[Kind, ...] = tuple(Kind)
_SECTORS: tuple[Sector, ...] = tuple(Sector)
#: Every field of Organisation with its default (None for the required ones, all kept here).
_ORGANISATION_DEFAULTS: tuple[tuple[str, Any], ...] = tuple(
    (
        f.name,
        f.default_factory()
        if f.default_factory is not dataclasses.MISSING
        else (None if f.default is dataclasses.MISSING else f.default),
    )
    for f in dataclasses.fields(Organisation)
)


def _days(value: dt.date | None) -> int:
    return NO_DATE if value is None else (value - _EPOCH).days


def _date(days: int) -> dt.date | None:
    return None if days == NO_DATE else _EPOCH + dt.timedelta(days=int(days))


class StringColumn(MadeOnRead[str]):
    """A read-only sequence of strings stored as one UTF-8 buffer and ``n + 1`` offsets.

    Parameters
    ----------
    data : ndarray of uint8
        The strings' bytes, one after the other.
    offsets : ndarray of int64, shape (n + 1,)
        String ``i`` is ``data[offsets[i]:offsets[i + 1]]``.

    Notes
    -----
    A million short names take about 30 MB here against about 60 MB as Python ``str`` objects
    plus the tuple, and the arrays can be memory-mapped; item access decodes one string.
    """

    def __init__(self, data: npt.NDArray[np.uint8], offsets: IntArray) -> None:
        self.data = data
        self.offsets = offsets

    @classmethod
    def from_strings(cls, values: Iterable[str]) -> StringColumn:
        """Encode ``values`` (in order)."""
        encoded = [value.encode("utf-8") for value in values]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=offsets[1:])
        data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(data, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def _make(self, k: int) -> str:
        start, end = self.offsets[k : k + 2].tolist()
        return self.data[start:end].tobytes().decode("utf-8")

    def __iter__(self) -> Iterator[str]:
        text = bytes(self.data)
        offsets = self.offsets.tolist()
        for start, end in zip(offsets[:-1], offsets[1:], strict=True):
            yield text[start:end].decode("utf-8")

    def arrays(self, prefix: str) -> Arrays:
        """The column's arrays, named ``prefix.data`` and ``prefix.offsets``."""
        return {f"{prefix}.data": self.data, f"{prefix}.offsets": self.offsets}

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, npt.NDArray[Any]], prefix: str) -> StringColumn:
        """The column stored by :meth:`arrays`."""
        return cls(arrays[f"{prefix}.data"], arrays[f"{prefix}.offsets"])


class CodedColumn(Sequence[str | None]):
    """A read-only sequence of optional codes stored as small integers (``-1`` for ``None``).

    Parameters
    ----------
    ids : ndarray of int64
    codes : tuple of str
        ``codes[ids[i]]`` is item ``i``.
    """

    def __init__(self, ids: IntArray, codes: Sequence[str]) -> None:
        self.ids = ids
        self.codes = tuple(codes)

    @classmethod
    def from_values(cls, values: Sequence[str | None]) -> CodedColumn:
        """Code ``values`` by their sorted distinct codes."""
        codes = tuple(sorted({v for v in values if v is not None}))
        lookup = {code: k for k, code in enumerate(codes)}
        ids = np.fromiter(
            (lookup[v] if v is not None else -1 for v in values), np.int64, len(values)
        )
        return cls(ids, codes)

    def __len__(self) -> int:
        return len(self.ids)

    @overload
    def __getitem__(self, i: int) -> str | None: ...

    @overload
    def __getitem__(self, i: slice) -> list[str | None]: ...

    def __getitem__(self, i: int | slice) -> str | None | list[str | None]:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        code = int(self.ids[i])
        return self.codes[code] if code >= 0 else None

    def __iter__(self) -> Iterator[str | None]:
        codes = self.codes
        return (codes[k] if k >= 0 else None for k in self.ids.tolist())


def _key_hashes(keys: Iterable[str]) -> npt.NDArray[np.uint64]:
    values = [
        int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
        for key in keys
    ]
    return np.asarray(values, dtype=np.uint64)


class KeyIndex(Mapping[str, int]):
    """Position of a key in a :class:`StringColumn`, through its sorted 64-bit hashes.

    A lookup hashes the key (BLAKE2b, 8 bytes: stable across processes, unlike ``hash``),
    binary-searches the sorted hashes and compares the one or few candidate keys: O(log n),
    and 16 bytes a key that can be memory-mapped, where a ``dict`` of a million ids costs about
    100 MB in every process.

    Parameters
    ----------
    keys : StringColumn
        Distinct keys; position ``i`` is ``keys[i]``.
    hashes, order : ndarray, optional
        Precomputed (as :meth:`arrays` gives them): ``hashes`` sorted, ``order`` the positions
        in that order.
    """

    def __init__(
        self,
        keys: StringColumn,
        hashes: npt.NDArray[np.uint64] | None = None,
        order: IntArray | None = None,
    ) -> None:
        self.column = keys
        if hashes is None or order is None:
            raw = _key_hashes(keys)
            order = np.argsort(raw, kind="stable").astype(np.int64)
            hashes = raw[order]
        self.hashes = hashes
        self.order = order

    def __getitem__(self, key: str) -> int:
        if not isinstance(key, str):
            raise KeyError(key)
        value = np.uint64(
            int.from_bytes(hashlib.blake2b(key.encode("utf-8"), digest_size=8).digest(), "little")
        )
        lo = int(np.searchsorted(self.hashes, value, side="left"))
        hi = lo
        while hi < len(self.hashes) and self.hashes[hi] == value:
            hi += 1
        for k in range(lo, hi):
            position = int(self.order[k])
            if self.column[position] == key:
                return position
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.column)

    def __len__(self) -> int:
        return len(self.column)

    def arrays(self, prefix: str) -> Arrays:
        """The sorted hashes and their positions, named ``prefix.hashes`` and ``prefix.order``."""
        return {f"{prefix}.hashes": self.hashes, f"{prefix}.order": self.order}

    @classmethod
    def from_arrays(
        cls, keys: StringColumn, arrays: Mapping[str, npt.NDArray[Any]], prefix: str
    ) -> KeyIndex:
        """The index stored by :meth:`arrays`."""
        return cls(keys, arrays[f"{prefix}.hashes"], arrays[f"{prefix}.order"])


class GroupedMapping(Mapping[str, tuple[_V, ...]], Generic[_V]):
    """Records grouped by organisation: ``mapping[org_id]`` is the tuple of its records.

    Parameters
    ----------
    position : mapping of str to int
        Index position of an organisation id.
    keys : sequence of str
        The organisation id at each position.
    indptr : ndarray of int64, shape (n + 1,)
        The records of position ``i`` are ``rows[indptr[i]:indptr[i + 1]]``.
    rows : ndarray of int64
        Record numbers, in the order they are given back.
    make : callable(int) -> record
        Makes the record of a record number (on access only).
    """

    def __init__(
        self,
        position: Mapping[str, int],
        keys: Sequence[str],
        indptr: IntArray,
        rows: IntArray,
        make: Callable[[int], _V],
    ) -> None:
        self._position = position
        self._keys = keys
        self.indptr = indptr
        self.rows = rows
        self._make = make
        self._owners: dict[str, tuple[int, int]] | None = None

    def _spans(self) -> dict[str, tuple[int, int]]:
        """The records' span of each organisation that has some (made on first use: the
        owners are few, flags and conflicts being rare, so a lookup of the many without any
        is one ``dict`` miss rather than an id lookup)."""
        if self._owners is None:
            indptr = self.indptr.tolist()
            self._owners = {
                self._keys[i]: (indptr[i], indptr[i + 1])
                for i in np.flatnonzero(np.diff(self.indptr)).tolist()
            }
        return self._owners

    @staticmethod
    def layout(owners: IntArray, n: int) -> tuple[IntArray, IntArray]:
        """``indptr`` and ``rows`` grouping record numbers by their owner's position, each
        group in record order (``owners[r]`` owns record ``r``; a record may appear twice with
        two owners by passing ``owners`` of the concatenated lists and ``rows`` mod length)."""
        order = np.argsort(owners, kind="stable").astype(np.int64)
        counts = np.bincount(owners, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return indptr, order

    def __getitem__(self, key: str) -> tuple[_V, ...]:
        start, end = self._spans()[key]
        return tuple(self._make(r) for r in self.rows[start:end].tolist())

    def __contains__(self, key: object) -> bool:
        return key in self._spans()

    def __iter__(self) -> Iterator[str]:
        return iter(self._spans())

    def __len__(self) -> int:
        return len(self._spans())


class PartnershipLabel(NamedTuple):
    """What an explanation says of a past partnership."""

    id: str
    name: str
    start_year: int | None
    countries: frozenset[str]


class Directory:
    """Organisations, partnerships, flags and conflicts as columns (see the module docstring).

    Row ``i`` of every organisation column is index position ``i``; partnership row ``j`` is
    the ``j``-th partnership of the dataset.

    Parameters
    ----------
    taxonomies : Taxonomies
    org_ids : sequence of str
    position : mapping of str to int
    columns : mapping of str to ndarray
        Every array (what :func:`build_directory` makes and :mod:`matcher.engine.snapshot`
        writes).
    """

    def __init__(
        self,
        taxonomies: Taxonomies,
        org_ids: Sequence[str],
        position: Mapping[str, int],
        columns: Mapping[str, npt.NDArray[Any]],
    ) -> None:
        self.taxonomies = taxonomies
        self.org_ids = org_ids
        self.position = position
        self.columns = columns
        c = columns
        self.country_codes = tuple(StringColumn.from_arrays(c, "country_codes"))
        self.names = StringColumn.from_arrays(c, "org.name")
        self._aliases = StringColumn.from_arrays(c, "org.aliases")
        self._countries = CodedColumn(c["org.country_id"], self.country_codes)
        self.partnership_ids = StringColumn.from_arrays(c, "partnership.id")
        self._pid_position = KeyIndex.from_arrays(self.partnership_ids, c, "partnership.key")
        self._pnames = StringColumn.from_arrays(c, "partnership.name")
        self._pcountries = StringColumn.from_arrays(c, "partnership.countries")
        self._flag_text = {
            name: StringColumn.from_arrays(c, f"flag.{name}")
            for name in ("category", "note", "source", "dismissed_by")
        }
        self._conflict_reason = StringColumn.from_arrays(c, "conflict.reason")

    # -- organisations ---------------------------------------------------------------------

    def organisation(self, i: int) -> Organisation:
        """The organisation at position ``i``, with the fields this directory keeps: id, name,
        aliases, kind, sector, country, size, Global Compact status, verification date and
        ``max_active`` (not its themes, resources, motivations, description or identifiers,
        which the index holds as arrays or does not need)."""
        c = self.columns
        alias_text = self._aliases[i]
        size, gc = int(c["org.size"][i]), int(c["org.gc_status"][i])
        max_active = int(c["org.max_active"][i])
        # the values were validated when the dataset was read: set them without validating
        # again (Organisation.__post_init__ costs most of the time of a lookup)
        kept = {
            "id": self.org_ids[i],
            "name": self.names[i],
            "kind": _KINDS[int(c["org.kind"][i])],
            "sector": _SECTORS[int(c["org.sector"][i])],
            "country": self._countries[i],
            "size": _SIZES[size] if size >= 0 else None,
            "gc_status": _GC[gc] if gc >= 0 else None,
            "verified_on": _date(int(c["org.verified_on"][i])),
            "max_active": max_active if max_active > 0 else None,
            "aliases": tuple(alias_text.split(_ALIAS_SEPARATOR)) if alias_text else (),
        }
        organisation = object.__new__(Organisation)
        for name, default in _ORGANISATION_DEFAULTS:
            object.__setattr__(organisation, name, kept.get(name, default))
        return organisation

    @property
    def organisations(self) -> Mapping[str, Organisation]:
        """Organisations by id, made on access (:meth:`organisation`)."""
        return _Organisations(self)

    def screenable(self, policy: ScreeningPolicy, active: IntArray) -> Iterator[Organisation]:
        """The organisations integrity screening may report on, in position order.

        Those with a flag, a delisted or non-communicating Global Compact status, a
        verification older than ``policy.verification_max_age_days``, or as many ``active``
        partnerships as their ``max_active`` (when ``policy.enforce_capacity``): screening
        (:func:`~matcher.integrity.screening.screen_all`) finds nothing on any other, so
        screening only these gives the same result, without making a million objects.
        """
        c = self.columns
        gc = c["org.gc_status"]
        worth = np.isin(gc, [_GC.index(GCStatus.DELISTED), _GC.index(GCStatus.NON_COMMUNICATING)])
        max_age = policy.verification_max_age_days
        if max_age is not None:
            stale_before = _days(policy.today() - dt.timedelta(days=max_age))
            verified = c["org.verified_on"]
            worth |= (verified != NO_DATE) & (verified < stale_before)
        if policy.enforce_capacity:
            max_active = c["org.max_active"]
            worth |= (max_active > 0) & (active >= max_active)
        worth[c["flag.org"]] = True
        for i in np.flatnonzero(worth).tolist():
            yield self.organisation(i)

    # -- partnerships ----------------------------------------------------------------------

    def partnerships_of(self, i: int) -> tuple[str, ...]:
        """The partnerships of the organisation at position ``i``, in the dataset's order of
        memberships."""
        return tuple(self.partnership_ids[j] for j in self.partnership_rows_of(i).tolist())

    def partnership_rows_of(self, i: int) -> IntArray:
        """The partnership rows of the organisation at position ``i`` (as
        :meth:`partnerships_of`, without making strings)."""
        c = self.columns
        start, end = c["membership.by_org.indptr"][i : i + 2].tolist()
        rows: IntArray = c["membership.partnership"][start:end]
        return rows

    def partnership_row(self, partnership_id: str) -> int | None:
        """The row of a partnership (``None`` if unknown)."""
        return self._pid_position.get(partnership_id)

    def start_years(self, rows: IntArray) -> IntArray:
        """The start years of the partnerships at ``rows`` (0: unknown)."""
        years: IntArray = self.columns["partnership.start_year"][rows]
        return years

    def start_year(self, partnership_id: str) -> int | None:
        """A partnership's start year (``None`` if unknown, or the partnership is)."""
        j = self._pid_position.get(partnership_id)
        year = int(self.columns["partnership.start_year"][j]) if j is not None else 0
        return year if year > 0 else None

    def partnership(self, partnership_id: str) -> PartnershipLabel | None:
        """Name, start year and countries of a partnership (``None`` if unknown)."""
        j = self._pid_position.get(partnership_id)
        return None if j is None else self.partnership_at(j)

    def partnership_at(self, j: int) -> PartnershipLabel:
        """Name, start year and countries of the partnership at row ``j``."""
        year = int(self.columns["partnership.start_year"][j])
        where = self._pcountries[j]
        return PartnershipLabel(
            self.partnership_ids[j],
            self._pnames[j],
            year if year > 0 else None,
            frozenset(where.split(_ALIAS_SEPARATOR)) if where else frozenset(),
        )

    # -- flags and conflicts ---------------------------------------------------------------

    def flag(self, r: int) -> Flag:
        """Flag number ``r``."""
        c = self.columns
        text = self._flag_text
        return Flag(
            org_id=self.org_ids[int(c["flag.org"][r])],
            category=text["category"][r],
            level=_LEVELS[int(c["flag.level"][r])],
            note=text["note"][r],
            date=_date(int(c["flag.date"][r])),
            source=text["source"][r],
            dismissed_by=text["dismissed_by"][r],
            dismissed_on=_date(int(c["flag.dismissed_on"][r])),
        )

    def conflict(self, r: int) -> Conflict:
        """Conflict number ``r``."""
        pairs = self.columns["conflict.pairs"]
        reasons: StringColumn = self._conflict_reason
        return Conflict(self.org_ids[int(pairs[r, 0])], self.org_ids[int(pairs[r, 1])], reasons[r])

    @property
    def conflict_pairs(self) -> IntArray:
        """``(conflicts, 2)`` index positions of each conflict's two organisations."""
        pairs: IntArray = self.columns["conflict.pairs"]
        return pairs

    def flags_of(self) -> GroupedMapping[Flag]:
        """Flags by organisation id, each organisation's in the dataset's order."""
        c = self.columns
        return GroupedMapping(
            self.position, self.org_ids, c["flag.by_org.indptr"], c["flag.by_org.rows"], self.flag
        )

    def conflicts_of(self) -> GroupedMapping[Conflict]:
        """Conflicts by organisation id (each under both of its organisations)."""
        c = self.columns
        return GroupedMapping(
            self.position,
            self.org_ids,
            c["conflict.by_org.indptr"],
            c["conflict.by_org.rows"],
            self.conflict,
        )


class _Organisations(Mapping[str, Organisation]):
    def __init__(self, directory: Directory) -> None:
        self._directory = directory

    def __getitem__(self, key: str) -> Organisation:
        return self._directory.organisation(self._directory.position[key])

    def __contains__(self, key: object) -> bool:
        return key in self._directory.position

    def __iter__(self) -> Iterator[str]:
        return iter(self._directory.org_ids)

    def __len__(self) -> int:
        return len(self._directory.org_ids)


def _coded(values: Sequence[_T | None], choices: Sequence[_T]) -> npt.NDArray[np.int8]:
    lookup = {value: k for k, value in enumerate(choices)}
    return np.fromiter((lookup[v] if v is not None else -1 for v in values), np.int8, len(values))


def build_directory(
    dataset: Dataset, org_ids: Sequence[str], position: Mapping[str, int]
) -> Directory:
    """The :class:`Directory` of ``dataset``, organisation rows in the order of ``org_ids``.

    Notes
    -----
    O(organisations + partnerships + flags + conflicts).
    """
    n = len(org_ids)
    orgs = [dataset.organisations[org_id] for org_id in org_ids]
    columns: Arrays = {}
    columns.update(StringColumn.from_strings(o.name for o in orgs).arrays("org.name"))
    columns.update(
        StringColumn.from_strings(_ALIAS_SEPARATOR.join(o.aliases) for o in orgs).arrays(
            "org.aliases"
        )
    )
    country = CodedColumn.from_values([o.country for o in orgs])
    columns["org.country_id"] = country.ids
    columns.update(StringColumn.from_strings(country.codes).arrays("country_codes"))
    columns["org.kind"] = _coded([o.kind for o in orgs], _KINDS)
    columns["org.sector"] = _coded([o.sector for o in orgs], _SECTORS)
    columns["org.size"] = _coded([o.size for o in orgs], _SIZES)
    columns["org.gc_status"] = _coded([o.gc_status for o in orgs], _GC)
    columns["org.verified_on"] = np.fromiter((_days(o.verified_on) for o in orgs), np.int32, n)
    columns["org.max_active"] = np.fromiter(
        (o.max_active if o.max_active is not None else 0 for o in orgs), np.int64, n
    )

    partnerships = list(dataset.partnerships.values())
    pids = StringColumn.from_strings(p.id for p in partnerships)
    columns.update(pids.arrays("partnership.id"))
    columns.update(KeyIndex(pids).arrays("partnership.key"))
    columns.update(
        StringColumn.from_strings(p.name for p in partnerships).arrays("partnership.name")
    )
    columns.update(
        StringColumn.from_strings(
            _ALIAS_SEPARATOR.join(sorted(p.countries)) for p in partnerships
        ).arrays("partnership.countries")
    )
    columns["partnership.start_year"] = np.fromiter(
        (p.start_year or 0 for p in partnerships), np.int32, len(partnerships)
    )

    partnership_row = {p.id: j for j, p in enumerate(partnerships)}
    member_org = np.fromiter(
        (position[m.org_id] for m in dataset.memberships), np.int64, len(dataset.memberships)
    )
    member_partnership = np.fromiter(
        (partnership_row[m.partnership_id] for m in dataset.memberships),
        np.int64,
        len(dataset.memberships),
    )
    indptr, rows = GroupedMapping.layout(member_org, n)
    columns["membership.by_org.indptr"] = indptr
    columns["membership.partnership"] = member_partnership[rows]

    flags = dataset.flags
    flag_org = np.fromiter((position[f.org_id] for f in flags), np.int64, len(flags))
    columns["flag.org"] = flag_org
    columns["flag.level"] = _coded([f.level for f in flags], _LEVELS)
    columns["flag.date"] = np.fromiter((_days(f.date) for f in flags), np.int32, len(flags))
    columns["flag.dismissed_on"] = np.fromiter(
        (_days(f.dismissed_on) for f in flags), np.int32, len(flags)
    )
    for name in ("category", "note", "source", "dismissed_by"):
        columns.update(
            StringColumn.from_strings(getattr(f, name) for f in flags).arrays(f"flag.{name}")
        )
    indptr, rows = GroupedMapping.layout(flag_org, n)
    columns["flag.by_org.indptr"], columns["flag.by_org.rows"] = indptr, rows

    conflicts = dataset.conflicts
    pairs = np.array(
        [(position[c.org_a], position[c.org_b]) for c in conflicts], dtype=np.int64
    ).reshape(-1, 2)
    columns["conflict.pairs"] = pairs
    columns.update(StringColumn.from_strings(c.reason for c in conflicts).arrays("conflict.reason"))
    m = len(conflicts)
    owners = np.concatenate([pairs[:, 0], pairs[:, 1]])
    indptr, order = GroupedMapping.layout(owners, n)
    # each owner's conflicts in the dataset's order: sort that owner's entries by record number
    records = np.arange(2 * m, dtype=np.int64) % max(m, 1)
    rows = records[order]
    for i in np.flatnonzero(np.diff(indptr) > 1).tolist():
        rows[indptr[i] : indptr[i + 1]].sort()
    columns["conflict.by_org.indptr"], columns["conflict.by_org.rows"] = indptr, rows
    return Directory(dataset.taxonomies, org_ids, position, columns)
