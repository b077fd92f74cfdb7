"""The index on disk: a versioned snapshot folder that every process memory-maps.

This module is the index's loader, so, like the data-directory readers of
:mod:`matcher.formats`, it does file I/O: it writes an :class:`~matcher.engine.index.Index` as a
folder of ``.npy`` arrays and a ``manifest.json``, and opens it back with
``np.load(mmap_mode="r")``. The pages of a memory-mapped file live in the operating system's
page cache, so every server worker that opens the same snapshot shares one copy of the arrays
instead of building and holding its own (the way Annoy and faiss's ``IO_FLAG_MMAP`` serve an
index file to many processes). Nothing in a snapshot needs the
:class:`~matcher.domain.dataset.Dataset` of domain objects: names, partnerships, flags,
conflicts and evidence are the columns of :class:`~matcher.engine.directory.Directory`. The
coverage of every capability code (:class:`~matcher.engine.coverage.CoverageTable`, for the
default credits) is stored too, so that no worker computes and keeps its own.

Layout of a snapshot folder::

    manifest.json          format, format_version, data_version, sizes, every array's
                           dtype, shape and SHA-256, the index's small tuples
    arrays/NAME.npy        one array each; a sparse matrix as NAME.data/.indices/.indptr
    taxonomies.json        the vocabularies and the country table the index was built with
    text/encoder.pickle    the fitted TF-IDF encoder (none for the sentence encoder)
    text/hnsw.faiss        the HNSW graph of the text profiles, when the index has one

A snapshot is written into a temporary sibling folder, each file flushed to disk, then
renamed into place (:func:`write_snapshot`): a reader sees a complete snapshot or none.
:class:`SnapshotStore` keeps one snapshot per data version in a folder and builds a missing
one in a single process under an exclusive file lock (``fcntl.flock``).

Examples
--------
>>> import tempfile
>>> from matcher.domain.model import Organisation, Partnership, Membership
>>> from matcher.formats.taxonomy_io import load_taxonomies
>>> from matcher.domain.dataset import Dataset
>>> from matcher.engine.index import build_index
>>> dataset = Dataset.build(
...     organisations=[Organisation("a", "A", "un_entity"), Organisation("b", "B", "company")],
...     partnerships=[Partnership("p", "P", start_year=2001)],
...     memberships=[Membership("p", "a", "lead"), Membership("p", "b", "funder")],
...     taxonomies=load_taxonomies(),
... )
>>> folder = Path(tempfile.mkdtemp()) / "snapshot"
>>> manifest = write_snapshot(build_index(dataset), folder, data_version=7)
>>> opened = open_snapshot(folder)
>>> opened.manifest["data_version"], opened.index.position["b"], opened.index.organisation(1).name
(7, 1, 'B')
>>> float(opened.index.collaboration[0, 1])
1.0
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import pickle
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.countries import CountryInfo, CountryTable
from matcher.domain.exceptions import SnapshotError
from matcher.domain.taxonomy import MatchCredits, Taxonomies, Term, Vocabulary
from matcher.engine.coverage import CoverageTable
from matcher.engine.directory import (
    CodedColumn,
    Directory,
    GroupedMapping,
    KeyIndex,
    StringColumn,
)
from matcher.engine.index import INFERENCE_RULES, Evidence, Index
from matcher.engine.proximity import WalkGraph
from matcher.engine.text import EmbeddingCache, ProfileSearch, TextIndex, make_encoder

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "OpenedSnapshot",
    "write_snapshot",
    "open_snapshot",
    "read_manifest",
    "verify_snapshot",
    "SnapshotStore",
]

#: What ``manifest["format"]`` says.
FORMAT = "partnermatch-index-snapshot"
#: Bumped whenever the layout changes; a snapshot of another version is refused.
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

Arrays = dict[str, npt.NDArray[Any]]
_RULES: tuple[str, ...] = tuple(INFERENCE_RULES)
#: The index's sparse matrices stored as their three arrays (besides the collaboration matrix).
_MATRICES = ("capability", "capability_rows", "theme", "theme_by_column", "theme_sdg")
#: The index's per-organisation arrays stored as they are, each under its attribute's name.
_PLAIN = (
    "inferred",
    "activity",
    "kind",
    "sector",
    "country_id",
    "region_id",
    "ldc",
    "large",
    "resources",
    "motivations",
    "worst_flag",
    "partnerships",
    "led",
    "active",
    "max_active",
    "record",
    "last_year",
)


@dataclass(frozen=True)
class OpenedSnapshot:
    """An index opened from a snapshot, its manifest and folder."""

    index: Index
    manifest: Mapping[str, Any]
    path: Path


# -- writing -------------------------------------------------------------------------------


def _sparse(prefix: str, matrix: sp.spmatrix) -> tuple[Arrays, dict[str, Any]]:
    arrays = {
        f"{prefix}.data": matrix.data,
        f"{prefix}.indices": matrix.indices,
        f"{prefix}.indptr": matrix.indptr,
    }
    return arrays, {"format": matrix.format, "shape": list(matrix.shape)}


def _groups(prefix: str, groups: Mapping[str, Any] | tuple[Any, ...]) -> Arrays:
    values = list(groups.values()) if isinstance(groups, Mapping) else list(groups)
    indptr = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum([len(v) for v in values], out=indptr[1:])
    positions = (
        np.concatenate([np.asarray(v, dtype=np.int64) for v in values])
        if values
        else np.zeros(0, dtype=np.int64)
    )
    return {f"{prefix}.indptr": indptr, f"{prefix}.positions": positions}


def _evidence_arrays(index: Index) -> Arrays:
    n = index.size
    partnership_row = {pid: j for j, pid in enumerate(index.records.partnership_ids)}
    counts = np.zeros(n, dtype=np.int64)
    capability: list[int] = []
    strength: list[float] = []
    rule: list[int] = []
    pid_counts: list[int] = []
    pid_rows: list[int] = []
    rule_number = {name: k for k, name in enumerate(_RULES)}
    for i in sorted(index.evidence):
        items = index.evidence[i]
        counts[i] = len(items)
        for item in items:
            capability.append(index.capability_position[item.capability])
            strength.append(item.strength)
            rule.append(rule_number[item.rule])
            pid_counts.append(len(item.partnerships))
            pid_rows.extend(partnership_row[pid] for pid in item.partnerships)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    pid_indptr = np.zeros(len(pid_counts) + 1, dtype=np.int64)
    np.cumsum(np.asarray(pid_counts, dtype=np.int64), out=pid_indptr[1:])
    return {
        "evidence.indptr": indptr,
        "evidence.capability": np.asarray(capability, dtype=np.int16),
        "evidence.strength": np.asarray(strength, dtype=np.float64),
        "evidence.rule": np.asarray(rule, dtype=np.int8),
        "evidence.partnerships.indptr": pid_indptr,
        "evidence.partnerships.rows": np.asarray(pid_rows, dtype=np.int32),
    }


def _sources_arrays(index: Index) -> Arrays:
    owners: list[int] = []
    codes: list[int] = []
    texts: list[str] = []
    for org_id, sources in index.capability_sources.items():
        for code, text in sources.items():
            owners.append(index.position[org_id])
            codes.append(index.capability_position[code])
            texts.append(text)
    owner_array = np.asarray(owners, dtype=np.int64)
    indptr, rows = GroupedMapping.layout(owner_array, index.size)
    arrays: Arrays = {
        "sources.indptr": indptr,
        "sources.capability": np.asarray(codes, dtype=np.int16)[rows],
    }
    arrays.update(StringColumn.from_strings(texts[r] for r in rows.tolist()).arrays("sources"))
    return arrays


def _index_arrays(index: Index) -> tuple[Arrays, dict[str, Any]]:
    """Every array of ``index`` by name, and the small facts for the manifest."""
    arrays: Arrays = {}
    matrices: dict[str, Any] = {}
    ids = StringColumn.from_strings(index.org_ids)
    arrays.update(ids.arrays("org.id"))
    arrays.update(KeyIndex(ids).arrays("org.key"))
    for name in _MATRICES:
        part, meta = _sparse(name, getattr(index, name))
        arrays.update(part)
        matrices[name] = meta
    part, meta = _sparse("collaboration", index.collaboration)
    arrays.update(part)
    matrices["collaboration"] = meta
    for name in _PLAIN:
        arrays[name] = np.asarray(getattr(index, name))
    region = CodedColumn.from_values(list(index.region))
    arrays["region.ids"] = region.ids
    arrays.update(_groups("by_country", index.by_country))
    arrays.update(_groups("by_sector", index.by_sector))
    arrays.update(_groups("by_kind", index.by_kind))
    walk = (
        index.walk_graph
        if index.walk_graph is not None
        else WalkGraph.from_matrix(index.collaboration)
    )
    for name in ("cumulative", "row_start", "row_total", "degree"):
        arrays[f"walk.{name}"] = getattr(walk, name)
    same = all(
        np.array_equal(getattr(walk.matrix, part), getattr(index.collaboration, part))
        for part in ("indptr", "indices", "data")
    )
    if not same:  # the walk graph's matrix is the collaboration matrix but for its order
        part, meta = _sparse("walk.matrix", walk.matrix)
        arrays.update(part)
        matrices["walk.matrix"] = meta
    arrays.update(_evidence_arrays(index))
    arrays.update(_sources_arrays(index))
    for name, column in index.records.columns.items():
        arrays[f"records.{name}"] = np.asarray(column)
    coverage = index.coverage or CoverageTable.build(
        index.capability, index.capability_codes, index.taxonomies.capabilities, MatchCredits()
    )
    arrays.update(coverage.arrays("coverage"))
    facts = {
        "matrices": matrices,
        "capability_codes": list(index.capability_codes),
        "theme_codes": list(index.theme_codes),
        "resource_codes": list(index.resource_codes),
        "motivation_codes": list(index.motivation_codes),
        "country_codes": sorted(index.country_lookup, key=index.country_lookup.__getitem__),
        "region_codes": list(region.codes),
        "by_country": list(index.by_country),
        "reference_year": index.reference_year,
        "inference_rules": list(_RULES),
        "coverage": coverage.facts(),
    }
    return arrays, facts


def _text_arrays(text: TextIndex, folder: Path) -> tuple[Arrays, dict[str, Any]]:
    arrays: Arrays = {
        "text.embeddings": np.asarray(text.embeddings, dtype=np.float16),
        "text.partnership_embeddings": np.asarray(text.partnership_embeddings, dtype=np.float16),
        "text.has_text": np.asarray(text.search.has_text, dtype=bool),
    }
    arrays.update(StringColumn.from_strings(text.partnership_ids).arrays("text.partnership_ids"))
    owners = sorted(text.partnerships_of)
    counts = np.zeros(len(text.embeddings), dtype=np.int64)
    rows: list[npt.NDArray[np.int64]] = []
    for i in owners:
        counts[i] = len(text.partnerships_of[i])
        rows.append(np.asarray(text.partnerships_of[i], dtype=np.int64))
    indptr = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    arrays["text.partnerships_of.indptr"] = indptr
    arrays["text.partnerships_of.rows"] = (
        np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    )
    (folder / "text").mkdir()
    encoder = text.encoder
    if encoder.name != "use":
        with open(folder / "text" / "encoder.pickle", "wb") as handle:
            pickle.dump(encoder, handle, protocol=pickle.HIGHEST_PROTOCOL)
    graph = getattr(text.search, "_graph", None)
    if graph is not None:
        import faiss

        faiss.write_index(graph, str(folder / "text" / "hnsw.faiss"))
    facts = {
        "encoder": encoder.name,
        "fingerprint": encoder.fingerprint,
        "search": text.search.method,
    }
    return arrays, facts


def _taxonomies_to_json(taxonomies: Taxonomies) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for item in dataclasses.fields(taxonomies):
        value = getattr(taxonomies, item.name)
        if isinstance(value, Vocabulary):
            result[item.name] = {
                "name": value.name,
                "terms": [
                    [t.code, t.label, t.parent, t.description, t.source, dict(t.attributes)]
                    for t in value.values()
                ],
            }
    result["countries"] = [dataclasses.astuple(info) for info in taxonomies.countries.values()]
    return result


def _taxonomies_from_json(data: Mapping[str, Any]) -> Taxonomies:
    fields: dict[str, Any] = {
        name: Vocabulary(value["name"], [Term(*term) for term in value["terms"]])
        for name, value in data.items()
        if name != "countries"
    }
    fields["countries"] = CountryTable(CountryInfo(*row) for row in data["countries"])
    return Taxonomies(**fields)


def _digest_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def write_snapshot(
    index: Index,
    path: Path | str,
    *,
    data_version: int | None = None,
    replace: bool = False,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``index`` as a snapshot folder at ``path``, atomically.

    Parameters
    ----------
    index : Index
    path : path
        The folder to create (its parent must exist).
    data_version : int, optional
        The data version the index was built from (the database's; ``None`` for a directory).
    replace : bool
        Replace an existing snapshot at ``path`` (two renames: the old one is moved aside,
        then removed); otherwise an existing ``path`` is an error. A folder at ``path`` that
        is not a snapshot is never replaced.
    extra : mapping, optional
        More facts for the manifest (e.g. where the data came from, the build time).

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    SnapshotError
        ``path`` exists (without ``replace``, or is not a snapshot) or its parent does not, or
        writing failed; nothing is left at ``path`` then, nor any temporary folder.

    Notes
    -----
    Everything is written into a temporary folder beside ``path``, every file fsynced, and
    the folder renamed to ``path`` (``os.rename`` of a folder is atomic on POSIX file
    systems): a reader sees the whole snapshot or nothing. O(size of the index) time.
    """
    target = Path(path)
    if target.exists() and not replace:
        raise SnapshotError(f"{target} already exists; remove it or choose another path")
    if target.exists():  # replace a snapshot, never a folder of anything else
        try:
            read_manifest(target)
        except SnapshotError as err:
            raise SnapshotError(f"{target} is not replaced: {err}") from err
    if not target.parent.is_dir():
        raise SnapshotError(f"{target.parent} is not a folder")
    started = time.perf_counter()
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        arrays, facts = _index_arrays(index)
        text_facts = None
        if index.text is not None:
            text_arrays, text_facts = _text_arrays(index.text, temporary)
            arrays.update(text_arrays)
        (temporary / "arrays").mkdir()
        described: dict[str, Any] = {}
        for name, array in arrays.items():
            file = temporary / "arrays" / f"{name}.npy"
            np.save(file, np.ascontiguousarray(array), allow_pickle=False)
            described[name] = {
                "dtype": np.dtype(array.dtype).str,
                "shape": list(array.shape),
                "sha256": _digest_file(file),
            }
        (temporary / "taxonomies.json").write_text(
            json.dumps(_taxonomies_to_json(index.taxonomies), ensure_ascii=False),
            encoding="utf-8",
        )
        others = {
            str(file.relative_to(temporary)): _digest_file(file)
            for file in sorted(temporary.rglob("*"))
            if file.is_file() and file.parent.name != "arrays"
        }
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "data_version": data_version,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "organisations": index.size,
            "partnerships": len(index.records.partnership_ids),
            "bytes": sum(f.stat().st_size for f in temporary.rglob("*") if f.is_file()),
            "index": facts,
            "text": text_facts,
            "arrays": described,
            "files": others,
            **dict(extra or {}),
        }
        manifest["write_seconds"] = round(time.perf_counter() - started, 3)
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        for file in temporary.rglob("*"):
            if file.is_file():
                _fsync(file)
        for folder in (temporary / "arrays", temporary):
            _fsync(folder)
        if target.exists():
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
            os.rename(target, aside / "snapshot")
            os.rename(temporary, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(temporary, target)
        _fsync(target.parent)
    except BaseException as err:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(err, SnapshotError | KeyboardInterrupt | SystemExit):
            raise
        if isinstance(err, Exception):
            raise SnapshotError(f"cannot write the snapshot {target}: {err}") from err
        raise
    return manifest


# -- reading -------------------------------------------------------------------------------


def read_manifest(path: Path | str) -> dict[str, Any]:
    """The manifest of the snapshot at ``path``, checked for format and version.

    Raises
    ------
    SnapshotError
        No snapshot there, or one of another format or format version.
    """
    folder = Path(path)
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise SnapshotError(f"{folder} is not an index snapshot (no {MANIFEST})") from err
    except (OSError, ValueError) as err:
        raise SnapshotError(f"{folder}/{MANIFEST} cannot be read: {err}") from err
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{folder} is not an index snapshot ({MANIFEST} says another format)")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise SnapshotError(
            f"{folder} is an index snapshot of format version {version}; this partnermatch "
            f"reads version {FORMAT_VERSION}: build it again with `partnermatch index build`"
        )
    return manifest


def verify_snapshot(path: Path | str) -> dict[str, Any]:
    """Check every file of the snapshot against the SHA-256 in its manifest (reads it all).

    Raises
    ------
    SnapshotError
        A file is missing or differs.
    """
    folder = Path(path)
    manifest = read_manifest(folder)
    expected = {f"arrays/{name}.npy": meta["sha256"] for name, meta in manifest["arrays"].items()}
    expected.update(manifest["files"])
    for relative, digest in expected.items():
        file = folder / relative
        if not file.is_file():
            raise SnapshotError(f"{folder}: {relative} is missing")
        if _digest_file(file) != digest:
            raise SnapshotError(f"{folder}: {relative} differs from its manifest (damaged)")
    return manifest


def _load_arrays(folder: Path, manifest: Mapping[str, Any]) -> Arrays:
    arrays: Arrays = {}
    for name, meta in manifest["arrays"].items():
        file = folder / "arrays" / f"{name}.npy"
        try:
            shape = tuple(meta["shape"])
            if int(np.prod(shape)) == 0:  # an empty array cannot be memory-mapped
                array = np.load(file, allow_pickle=False)
            else:
                # a plain ndarray over the map (np.memmap's Python-level __getitem__ and
                # __array_finalize__ cost microseconds on every scalar read and slice)
                array = np.load(file, mmap_mode="r", allow_pickle=False).view(np.ndarray)
        except (OSError, ValueError) as err:
            raise SnapshotError(f"{folder}: array {name} cannot be read: {err}") from err
        if array.dtype.str != meta["dtype"] or list(array.shape) != list(shape):
            raise SnapshotError(
                f"{folder}: array {name} is {array.dtype.str} {list(array.shape)}, the "
                f"manifest says {meta['dtype']} {list(shape)} (damaged)"
            )
        arrays[name] = array
    return arrays


def _matrix(arrays: Arrays, name: str, meta: Mapping[str, Any]) -> Any:
    """A scipy matrix over the memory-mapped arrays, without a copy (its index arrays are
    kept as written: the constructor would otherwise re-check and possibly copy them)."""
    kinds = {"csr": sp.csr_matrix, "csc": sp.csc_matrix}
    matrix = kinds[meta["format"]](tuple(meta["shape"]), dtype=arrays[f"{name}.data"].dtype)
    matrix.data = arrays[f"{name}.data"]
    matrix.indices = arrays[f"{name}.indices"]
    matrix.indptr = arrays[f"{name}.indptr"]
    return matrix


def _grouped_arrays(arrays: Arrays, prefix: str) -> list[npt.NDArray[np.int64]]:
    indptr = arrays[f"{prefix}.indptr"].tolist()
    positions = arrays[f"{prefix}.positions"]
    return [positions[a:b] for a, b in zip(indptr[:-1], indptr[1:], strict=True)]


class _EvidenceMap(Mapping[int, tuple[Evidence, ...]]):
    """``Index.evidence`` made on access from the snapshot's evidence columns."""

    def __init__(self, arrays: Arrays, codes: tuple[str, ...], pids: StringColumn) -> None:
        self._indptr = arrays["evidence.indptr"]
        self._capability = arrays["evidence.capability"]
        self._strength = arrays["evidence.strength"]
        self._rule = arrays["evidence.rule"]
        self._pid_indptr = arrays["evidence.partnerships.indptr"]
        self._pid_rows = arrays["evidence.partnerships.rows"]
        self._codes = codes
        self._pids = pids
        self._cache: dict[int, tuple[Evidence, ...]] = {}

    def __getitem__(self, i: int) -> tuple[Evidence, ...]:
        if not isinstance(i, int | np.integer) or not 0 <= i < len(self._indptr) - 1:
            raise KeyError(i)
        i = int(i)
        found = self._cache.get(i)
        if found is None:
            if len(self._cache) >= 4096:  # a bounded memo of the last organisations explained
                self._cache.clear()
            found = self._cache[i] = self._decoded(i)
        return found

    def _decoded(self, i: int) -> tuple[Evidence, ...]:
        start, end = int(self._indptr[i]), int(self._indptr[i + 1])
        if start == end:
            raise KeyError(i)
        found = []
        for e in range(start, end):
            a, b = int(self._pid_indptr[e]), int(self._pid_indptr[e + 1])
            found.append(
                Evidence(
                    capability=self._codes[int(self._capability[e])],
                    strength=float(self._strength[e]),
                    rule=_RULES[int(self._rule[e])],
                    partnerships=tuple(self._pids[int(r)] for r in self._pid_rows[a:b]),
                )
            )
        return tuple(found)

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(np.diff(self._indptr)).tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self._indptr)))


class _SourcesMap(Mapping[str, Mapping[str, str]]):
    """``Index.capability_sources`` made on access: organisation id → capability → §."""

    def __init__(
        self, arrays: Arrays, codes: tuple[str, ...], position: Mapping[str, int], ids: Any
    ) -> None:
        self._indptr = arrays["sources.indptr"]
        self._capability = arrays["sources.capability"]
        self._texts = StringColumn.from_arrays(arrays, "sources")
        self._codes = codes
        self._position = position
        self._ids = ids

    def __getitem__(self, org_id: str) -> Mapping[str, str]:
        i = self._position.get(org_id) if isinstance(org_id, str) else None
        if i is None or self._indptr[i] == self._indptr[i + 1]:
            raise KeyError(org_id)
        start, end = int(self._indptr[i]), int(self._indptr[i + 1])
        return {self._codes[int(self._capability[r])]: self._texts[r] for r in range(start, end)}

    def __iter__(self) -> Iterator[str]:
        for i in np.flatnonzero(np.diff(self._indptr)).tolist():
            yield self._ids[i]

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self._indptr)))


class _RowsOf(Mapping[int, npt.NDArray[np.int64]]):
    """``TextIndex.partnerships_of`` over the snapshot's CSR arrays."""

    def __init__(self, indptr: npt.NDArray[np.int64], rows: npt.NDArray[np.int64]) -> None:
        self._indptr = indptr
        self._rows = rows

    def __getitem__(self, i: int) -> npt.NDArray[np.int64]:
        if not isinstance(i, int | np.integer) or not 0 <= i < len(self._indptr) - 1:
            raise KeyError(i)
        start, end = int(self._indptr[i]), int(self._indptr[i + 1])
        if start == end:
            raise KeyError(i)
        return self._rows[start:end]

    def __iter__(self) -> Iterator[int]:
        return iter(np.flatnonzero(np.diff(self._indptr)).tolist())

    def __len__(self) -> int:
        return int(np.count_nonzero(np.diff(self._indptr)))


def _profile_search(embeddings: Any, has_text: Any, graph_file: Path) -> ProfileSearch:
    """A :class:`ProfileSearch` over the memory-mapped embeddings, its HNSW graph read from
    the snapshot rather than built again (``ProfileSearch.__init__`` would build it)."""
    search = ProfileSearch.__new__(ProfileSearch)
    search.embeddings = embeddings
    search.has_text = has_text
    search._texted = np.flatnonzero(has_text).astype(np.int64)
    search._graph = None
    search._exact = None
    search.method = "exact"
    if graph_file.exists():
        import faiss

        search._graph = faiss.read_index(str(graph_file))
        search._graph.hnsw.efSearch = 64
        search.method = "hnsw"
    else:
        search._exact = np.asarray(embeddings[search._texted], dtype=np.float32)
    return search


def _text_index(folder: Path, arrays: Arrays, facts: Mapping[str, Any]) -> TextIndex:
    if facts["encoder"] == "use":
        encoder = make_encoder("use")
    else:
        with open(folder / "text" / "encoder.pickle", "rb") as handle:
            encoder = pickle.load(handle)  # noqa: S301 - written by write_snapshot
    if encoder.fingerprint != facts["fingerprint"]:
        raise SnapshotError(
            f"{folder}: the text encoder is {encoder.fingerprint}, the snapshot was embedded "
            f"with {facts['fingerprint']}: build it again"
        )
    embeddings = arrays["text.embeddings"]
    return TextIndex(
        encoder=encoder,
        embeddings=embeddings,
        partnership_ids=tuple(StringColumn.from_arrays(arrays, "text.partnership_ids")),
        partnership_embeddings=arrays["text.partnership_embeddings"],
        partnerships_of=_RowsOf(
            arrays["text.partnerships_of.indptr"], arrays["text.partnerships_of.rows"]
        ),
        search=_profile_search(embeddings, arrays["text.has_text"], folder / "text/hnsw.faiss"),
        cache=EmbeddingCache(),
    )


def open_snapshot(path: Path | str, *, verify: bool = False) -> OpenedSnapshot:
    """Open the snapshot at ``path``: its arrays memory-mapped, read-only.

    Parameters
    ----------
    path : path
    verify : bool
        Check every file's SHA-256 first (reads the whole snapshot; by default only the
        format version and every array's dtype and shape are checked, which reads nothing
        but the headers).

    Returns
    -------
    OpenedSnapshot
        ``index`` serves :meth:`~matcher.engine.recommend.CoalitionRecommender.fit` as a built
        one does, with the same recommendations; its ``dataset`` is absent (``records``
        answers for it).

    Raises
    ------
    SnapshotError
        No snapshot at ``path``, another format version, a missing or damaged file.

    Notes
    -----
    O(number of arrays + countries) time: nothing proportional to the organisations is read
    until used. The arrays are read-only: the engine never writes into the index.
    """
    folder = Path(path)
    manifest = verify_snapshot(folder) if verify else read_manifest(folder)
    arrays = _load_arrays(folder, manifest)
    facts = manifest["index"]
    try:
        taxonomies = _taxonomies_from_json(
            json.loads((folder / "taxonomies.json").read_text(encoding="utf-8"))
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise SnapshotError(f"{folder}: taxonomies cannot be read: {err}") from err
    if tuple(facts["inference_rules"]) != _RULES:
        raise SnapshotError(f"{folder}: built with other inference rules; build it again")
    ids = StringColumn.from_arrays(arrays, "org.id")
    position = KeyIndex.from_arrays(ids, arrays, "org.key")
    records = Directory(
        taxonomies,
        ids,
        position,
        {
            name.removeprefix("records."): array
            for name, array in arrays.items()
            if name.startswith("records.")
        },
    )
    try:
        capability_codes = tuple(facts["capability_codes"])
        country_codes = tuple(facts["country_codes"])
        matrices = facts["matrices"]
        by_country = _grouped_arrays(arrays, "by_country")
        collaboration = _matrix(arrays, "collaboration", matrices["collaboration"])
        index = Index(
            org_ids=ids,
            position=position,
            capability_codes=capability_codes,
            capability_position=MappingProxyType({c: j for j, c in enumerate(capability_codes)}),
            capability_sources=_SourcesMap(arrays, capability_codes, position, ids),
            evidence=_EvidenceMap(arrays, capability_codes, records.partnership_ids),
            theme_codes=tuple(facts["theme_codes"]),
            collaboration=collaboration,
            country=CodedColumn(arrays["country_id"], country_codes),
            country_lookup=MappingProxyType({c: k for k, c in enumerate(country_codes)}),
            by_country=MappingProxyType(dict(zip(facts["by_country"], by_country, strict=True))),
            by_sector=tuple(_grouped_arrays(arrays, "by_sector")),
            by_kind=tuple(_grouped_arrays(arrays, "by_kind")),
            region=CodedColumn(arrays["region.ids"], facts["region_codes"]),
            resource_codes=tuple(facts["resource_codes"]),
            motivation_codes=tuple(facts["motivation_codes"]),
            flags_of=records.flags_of(),
            conflicts_of=records.conflicts_of(),
            reference_year=int(facts["reference_year"]),
            taxonomies=taxonomies,
            records=records,
            source=None,
            **{name: arrays[name] for name in _PLAIN},
            **{name: _matrix(arrays, name, matrices[name]) for name in _MATRICES},
            text=_text_index(folder, arrays, manifest["text"]) if manifest.get("text") else None,
            walk_graph=WalkGraph(
                matrix=(
                    _matrix(arrays, "walk.matrix", matrices["walk.matrix"])
                    if "walk.matrix" in matrices
                    else collaboration
                ),
                cumulative=arrays["walk.cumulative"],
                row_start=arrays["walk.row_start"],
                row_total=arrays["walk.row_total"],
                degree=arrays["walk.degree"],
            ),
            coverage=(
                CoverageTable.from_arrays(arrays, "coverage", facts["coverage"])
                if "coverage" in facts
                else None
            ),
        )
    except KeyError as err:
        raise SnapshotError(f"{folder}: {err} is missing from the snapshot (damaged)") from err
    return OpenedSnapshot(index, manifest, folder)


# -- one snapshot per data version ---------------------------------------------------------


class SnapshotStore:
    """A folder of snapshots, one per data version (``v000000000042``), built once.

    Parameters
    ----------
    root : path
        Created if missing. Holds the snapshots and ``.lock``.
    keep : int
        Snapshots kept after a build (the newest; older ones are removed: a process that
        still maps one keeps reading it, as POSIX keeps an open file until closed).
    """

    def __init__(self, root: Path | str, *, keep: int = 2) -> None:
        self.root = Path(root)
        self.keep = keep

    def path(self, data_version: int) -> Path:
        """Where the snapshot of ``data_version`` lives."""
        return self.root / f"v{data_version:012d}"

    def versions(self) -> list[int]:
        """The data versions with a complete snapshot, in increasing order."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            name = entry.name
            if name.startswith("v") and name[1:].isdigit() and (entry / MANIFEST).is_file():
                found.append(int(name[1:]))
        return sorted(found)

    def latest(self, at_least: int = 0) -> tuple[int, Path] | None:
        """The newest snapshot's data version and folder, if it is at least ``at_least``."""
        versions = self.versions()
        if not versions or versions[-1] < at_least:
            return None
        return versions[-1], self.path(versions[-1])

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's exclusive lock (``fcntl.flock`` on ``root/.lock``): one process
        builds at a time; the lock goes with the process if it dies."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def ensure(
        self, data_version: int, build: Callable[[], tuple[int, Index, Mapping[str, Any]]]
    ) -> tuple[int, Path]:
        """The newest snapshot of at least ``data_version``, built by ``build`` if missing.

        Under the lock: if another process already wrote a snapshot of ``data_version`` or
        later, it is returned; otherwise ``build()`` gives ``(version, index, extra)`` read in
        one consistent view of the data (its version may be newer than asked; ``extra``, more
        facts for the manifest), the snapshot is written and the older ones beyond ``keep``
        removed.
        """
        found = self.latest(data_version)
        if found is not None:
            return found
        with self.locked():
            found = self.latest(data_version)
            if found is not None:
                return found
            started = time.perf_counter()
            version, index, extra = build()
            target = self.path(version)
            if not target.exists():
                write_snapshot(
                    index,
                    target,
                    data_version=version,
                    extra={**extra, "build_seconds": round(time.perf_counter() - started, 3)},
                )
            for old in self.versions()[: -self.keep]:
                shutil.rmtree(self.path(old), ignore_errors=True)
            return version, target
