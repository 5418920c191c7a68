"""Notes, their embeddings and retrieval (docs/decisions/0003-retrieval.md)."""

from django.core.exceptions import ImproperlyConfigured

from project.settings.environment import env

# Which embedder writes and queries note vectors: "hashing" (default, no extra deps), "minilm"
# (requirements-ml.txt, workers only) or "openai" (text-embedding-3-small at 384 dimensions).
# After changing it, run `manage.py reembed_notes`.
EMBEDDER = env("EMBEDDER", default="hashing")
if EMBEDDER not in ("hashing", "minilm", "openai"):
    raise ImproperlyConfigured(f"EMBEDDER must be hashing, minilm or openai, not {EMBEDDER!r}.")
EMBEDDER_OPENAI_MODEL = env("EMBEDDER_OPENAI_MODEL", default="text-embedding-3-small")
EMBEDDER_TIMEOUT = env.float("EMBEDDER_TIMEOUT", default=30.0)  # seconds, per embeddings request

# Retrieval. A readable set at most this many chunks is ranked exactly (a sequential distance sort
# over a B-tree-filtered set); larger sets go through the HNSW index with an iterative scan.
NOTES_EXACT_SCAN_MAX = env.int("NOTES_EXACT_SCAN_MAX", default=2000)
NOTES_HNSW_EF_SEARCH = env.int("NOTES_HNSW_EF_SEARCH", default=100)
NOTES_HNSW_MAX_SCAN_TUPLES = env.int("NOTES_HNSW_MAX_SCAN_TUPLES", default=20000)
# Reciprocal rank fusion: score = sum of 1 / (NOTES_RRF_K + rank) over the two rankings.
NOTES_RRF_K = env.int("NOTES_RRF_K", default=60)
# How many candidates each ranking contributes to the fusion.
NOTES_CANDIDATES = env.int("NOTES_CANDIDATES", default=40)
# The relevance floor. Nearest-neighbour search always returns k rows, so a chunk counts as a result
# only when it matches a word of the query (full-text search) or its cosine similarity to the query
# reaches its embedder's floor below. `hashing` is lexical and its vectors are weak evidence (an
# unrelated note of the same length scores about 0.1-0.2), so its floor is high: in practice it
# needs a word match or a near-copy. `minilm` and `openai` are semantic: a paraphrase with no word
# in common clears their floor. Measured on tests/domains/notes/relevance_corpus.py and by
# `python -m bench --only S7`; docs/decisions/0003-retrieval.md ("Relevance floor").
NOTES_VECTOR_FLOOR = {
    "hashing": env.float("NOTES_VECTOR_FLOOR_HASHING", default=0.5),
    "minilm": env.float("NOTES_VECTOR_FLOOR_MINILM", default=0.3),
    "openai": env.float("NOTES_VECTOR_FLOOR_OPENAI", default=0.3),
}
