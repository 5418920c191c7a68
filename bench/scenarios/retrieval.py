# mypy: disable-error-code="misc"
# ruff: noqa: RUF002
"""S6 (retrieval over 100k chunks × 384 dims) and its limit B4 (a raw psycopg loop, exact and HNSW).

Corpus: the text of the stdlib's `pydoc_data.topics` (~465k characters), expanded to N distinct chunks
by word windows of varied size and stride; exact duplicates dropped. Embedded with the project's
`hashing` embedder when `domains.ai.embedders` provides it, else with `bench_hashing_embed` below
(same idea: signed feature hashing of lowercased word unigrams into 384 dims, L2-normalised).

Table `bench_chunks(id, org, tag, embedding vector(384))` with NoteChunk's index shape: HNSW,
vector_cosine_ops. `tag` is uniform in 0..999, so `tag < 100`, `tag < 10`, `tag = 0` select 10%, 1%
and 0.1%. S6 queries through the Django ORM (pgvector.django's CosineDistance) as product code would;
B4 sends the same SQL through a bare psycopg connection. Exact ground truth comes from numpy.
"""

from __future__ import annotations

import hashlib
import random
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from bench.registry import scenario
from bench.stats import summary

DIMS = 384
WORD = re.compile(r"\S+")
TOKEN = re.compile(r"\w+")
FILTERS = {"10%": "tag < 100", "1%": "tag < 10", "0.1%": "tag = 0"}
FILTER_FN = {"10%": lambda tag: tag < 100, "1%": lambda tag: tag < 10, "0.1%": lambda tag: tag == 0}


# ---------------------------------------------------------------------------------------- corpus
def corpus_chunks(n: int, seed: int = 6, fits: Callable[[str], bool] = lambda text: True) -> list[str]:
    """N distinct chunks of the pydoc topics text, by windows of varied size and stride, each within the
    embedder's input limit."""
    from pydoc_data.topics import topics

    words = WORD.findall("\n".join(topics[key] for key in sorted(topics)))
    rng = random.Random(seed)
    seen: set[str] = set()
    chunks: list[str] = []
    sizes = [12, 16, 20, 24, 32, 40, 48, 56, 64, 80]
    passes = 0
    while len(chunks) < n and passes < 400:
        size = sizes[passes % len(sizes)] + rng.randrange(0, 8)
        stride = max(3, size // rng.choice([2, 3, 4, 5, 6, 8]) + rng.randrange(0, 5))
        start = rng.randrange(0, stride)
        for position in range(start, len(words) - size, stride):
            text = " ".join(words[position : position + size])
            if text not in seen and fits(text):
                seen.add(text)
                chunks.append(text)
                if len(chunks) >= n:
                    break
        passes += 1
    return chunks


def query_texts(count: int, seed: int = 7) -> list[str]:
    from pydoc_data.topics import topics

    words = WORD.findall("\n".join(topics[key] for key in sorted(topics)))
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        size = rng.randrange(4, 13)
        position = rng.randrange(0, len(words) - size)
        out.append(" ".join(words[position : position + size]))
    return out


_token_cache: dict[str, tuple[int, float]] = {}


def bench_hashing_embed(texts: list[str]) -> np.ndarray:
    """Signed feature hashing of lowercased word tokens into 384 dims, L2-normalised (float32)."""
    out = np.zeros((len(texts), DIMS), dtype=np.float32)
    for row, text in enumerate(texts):
        idx, sign = [], []
        for token in TOKEN.findall(text.lower()):
            cached = _token_cache.get(token)
            if cached is None:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                cached = (value % DIMS, 1.0 if (value >> 32) & 1 else -1.0)
                _token_cache[token] = cached
            idx.append(cached[0])
            sign.append(cached[1])
        if idx:
            out[row] = np.bincount(idx, weights=sign, minlength=DIMS)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return out / norms


def pick_embedder() -> tuple[str, Callable[[list[str]], np.ndarray], Callable[[str], bool]]:
    """The project's `hashing` embedder (domains.ai.embedders) and its input limit; the bench's own
    stand-in when that module is absent (it was being written alongside this bench)."""
    try:
        from domains.ai.embedders import embedder_get, embedder_limit, fits
    except ImportError:
        return "bench_hashing_embed (domains.ai.embedders not present)", bench_hashing_embed, lambda text: True
    embedder = embedder_get("hashing")
    limit = embedder_limit("hashing")
    return (
        'the project\'s `hashing` embedder (`domains.ai.embedders.embedder_get("hashing")`)',
        lambda texts: _as_array(embedder.embed(texts)),
        lambda text: fits(text, limit),
    )


def _as_array(vectors: Any) -> np.ndarray:
    arr = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    norms[norms == 0] = 1
    return arr / norms


# ---------------------------------------------------------------------------------------- database
def raw_connect(ctx: Any) -> Any:
    import psycopg
    from pgvector.psycopg import register_vector

    conn = psycopg.connect(_conninfo(ctx), autocommit=True)
    register_vector(conn)
    return conn


def _conninfo(ctx: Any) -> str:
    url = ctx.stack.env.get("DATABASE_OWNER_URL") or ctx.stack.env["DATABASE_URL"]  # it creates its own table
    return url.replace("postgres://", "postgresql://", 1)


def load_table(ctx: Any, vectors: np.ndarray, tags: np.ndarray, orgs: np.ndarray) -> float:
    with raw_connect(ctx) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("DROP TABLE IF EXISTS bench_chunks")
        conn.execute(
            "CREATE TABLE bench_chunks (id int PRIMARY KEY, org int NOT NULL, tag int NOT NULL, "
            "embedding vector(384) NOT NULL)"
        )
        start = time.time()
        with (
            conn.cursor() as cur,
            cur.copy("COPY bench_chunks (id, org, tag, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy,
        ):
            copy.set_types(["int4", "int4", "int4", "vector"])
            for i in range(len(vectors)):
                copy.write_row((i, int(orgs[i]), int(tags[i]), vectors[i]))
        conn.execute("CREATE INDEX bench_chunks_tag ON bench_chunks (tag)")
        conn.execute("VACUUM ANALYZE bench_chunks")
        return time.time() - start


def build_index(ctx: Any, m: int, ef_construction: int) -> dict[str, Any]:
    with raw_connect(ctx) as conn:
        conn.execute("DROP INDEX IF EXISTS bench_chunks_hnsw")
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 1")  # 2 cores: the leader and one worker
        start = time.time()
        conn.execute(
            f"CREATE INDEX bench_chunks_hnsw ON bench_chunks USING hnsw (embedding vector_cosine_ops) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
        )
        seconds = time.time() - start
        size = conn.execute("SELECT pg_relation_size('bench_chunks_hnsw'), pg_relation_size('bench_chunks')").fetchone()
        conn.execute("ANALYZE bench_chunks")
    return {
        "m": m,
        "ef_construction": ef_construction,
        "build_seconds": round(seconds, 1),
        "index_mib": round(size[0] / 2**20, 1),
        "table_mib": round(size[1] / 2**20, 1),
    }


# ---------------------------------------------------------------------------------------- truth
def exact_topk(
    vectors: np.ndarray, queries: np.ndarray, k: int, mask: np.ndarray | None = None
) -> list[tuple[set[int], float]]:
    """Per query: the exact top-k ids and the k-th distance (ties at the boundary count as hits)."""
    sims = queries @ vectors.T
    if mask is not None:
        sims[:, ~mask] = -np.inf
    out = []
    for row in sims:
        top = np.argpartition(-row, k)[:k]
        kth = float(1 - row[top].min())
        out.append(({int(i) for i in top}, kth))
    return out


def recall(found: list[tuple[int, float]], truth: tuple[set[int], float], k: int) -> float:
    ids, kth = truth
    hits = sum(1 for i, dist in found[:k] if i in ids or dist <= kth + 1e-6)
    return hits / k


# ---------------------------------------------------------------------------------------- query paths
SQL = "SELECT id, embedding <=> %s AS d FROM bench_chunks {where} ORDER BY embedding <=> %s LIMIT %s"


def raw_query(
    conn: Any, q: np.ndarray, k: int, *, ef: int | None, where: str = "", exact: bool = False, iterative: bool = False
) -> list[tuple[int, float]]:
    with conn.transaction():
        if exact:
            conn.execute("SET LOCAL enable_indexscan = off")
        if ef:
            conn.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
        if iterative:
            conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        rows = conn.execute(SQL.format(where=f"WHERE {where}" if where else ""), (q, q, k), prepare=True).fetchall()
    return sorted(((int(i), float(d)) for i, d in rows), key=lambda r: r[1])


def orm_model() -> Any:
    from django.db import models
    from pgvector.django import VectorField

    existing = getattr(orm_model, "_model", None)
    if existing is not None:
        return existing

    class BenchChunk(models.Model):  # noqa: DJ008 - never printed
        org = models.IntegerField()
        tag = models.IntegerField()
        embedding = VectorField(dimensions=DIMS)

        class Meta:
            app_label = "bench"
            db_table = "bench_chunks"
            managed = False

    orm_model._model = BenchChunk  # type: ignore[attr-defined]
    return BenchChunk


def orm_query(q: np.ndarray, k: int, *, ef: int, filt: str | None = None) -> list[tuple[int, float]]:
    """The product's path: Django ORM + pgvector.django, SET LOCAL inside the transaction."""
    from django.db import connection, transaction
    from pgvector.django import CosineDistance

    model = orm_model()
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"SET LOCAL hnsw.ef_search = {int(ef)}")
        qs = model.objects.all()
        if filt is not None:
            cur.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            qs = {"10%": qs.filter(tag__lt=100), "1%": qs.filter(tag__lt=10), "0.1%": qs.filter(tag=0)}[filt]
        rows = list(qs.annotate(d=CosineDistance("embedding", q)).order_by("d").values_list("id", "d")[:k])
    return sorted(((int(i), float(d)) for i, d in rows), key=lambda r: r[1])


def measure(
    fn: Callable[[np.ndarray], list[tuple[int, float]]],
    queries: np.ndarray,
    truth: list[Any],
    k: int,
    clients: int,
    warm: int = 20,
) -> dict[str, Any]:
    for q in queries[:warm]:
        fn(q)
    latencies: list[float] = []
    recalls: list[float] = []
    short = [0]
    lock = threading.Lock()

    def worker(part: list[int]) -> None:
        lat, rec, sh = [], [], 0
        for i in part:
            t = time.perf_counter()
            found = fn(queries[i])
            lat.append(time.perf_counter() - t)
            rec.append(recall(found, truth[i], k))
            sh += len(found) < k
        with lock:
            latencies.extend(lat)
            recalls.extend(rec)
            short[0] += sh

    parts = [list(range(c, len(queries), clients)) for c in range(clients)]
    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(part,)) for part in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return {
        "clients": clients,
        "queries": len(queries),
        "qps": round(len(queries) / wall, 1),
        "latency_ms": summary(latencies, scale=1000),
        "recall_at_k": round(float(np.mean(recalls)), 4),
        "short_results": short[0],
    }


def _thread_local_conn(ctx: Any) -> Callable[[], Any]:
    local = threading.local()

    def get() -> Any:
        if not hasattr(local, "conn"):
            local.conn = raw_connect(ctx)
        return local.conn

    return get


# ---------------------------------------------------------------------------------------- scenario
@scenario("S6", "retrieval over 100k chunks x 384 dims (with B4, the raw psycopg limit)", order=60)
def s6(ctx: Any) -> dict[str, Any]:
    from django.db import connections

    p = ctx.profile["S6"]
    n, k = p["chunks"], p["k"]
    embedder_name, embed, fits = pick_embedder()
    t = time.time()
    chunks = corpus_chunks(n, fits=fits)
    corpus_seconds = time.time() - t
    t = time.time()
    vectors = embed(chunks)
    embed_seconds = time.time() - t
    rng = np.random.default_rng(6)
    tags = rng.integers(0, 1000, size=len(chunks))
    orgs = rng.integers(0, 10, size=len(chunks))
    load_seconds = load_table(ctx, vectors, tags, orgs)
    queries = embed(query_texts(p["queries"]))
    truth = exact_topk(vectors, queries, k)
    filter_truth = {
        name: exact_topk(vectors, queries[: p["filtered_queries"]], k, mask=np.vectorize(FILTER_FN[name])(tags))
        for name in FILTERS
    }
    ctx.log(
        f"  S6 corpus {len(chunks)} chunks ({corpus_seconds:.1f}s), embedded by {embedder_name} "
        f"({embed_seconds:.1f}s), loaded {load_seconds:.1f}s"
    )
    out: dict[str, Any] = {
        "chunks": len(chunks),
        "dims": DIMS,
        "k": k,
        "embedder": embedder_name,
        "corpus_seconds": round(corpus_seconds, 1),
        "embed_seconds": round(embed_seconds, 1),
        "load_seconds": round(load_seconds, 1),
        "indexes": [],
    }
    get_conn = _thread_local_conn(ctx)
    # B4 exact: the raw limit without an index (parallel seq scan + sort), once.
    exact_q = queries[: p["exact_queries"]]
    out["b4_exact"] = [
        measure(lambda q: raw_query(get_conn(), q, k, ef=None, exact=True), exact_q, truth, k, c, warm=3)
        for c in (1, 4)
    ]
    ctx.log(f"  B4 exact: p50 {out['b4_exact'][0]['latency_ms']['p50']} ms, qps(4) {out['b4_exact'][1]['qps']}")
    for m, efc in p["builds"]:
        built = build_index(ctx, m, efc)
        ctx.log(f"  S6 HNSW m={m} ef_construction={efc}: {built['build_seconds']} s, {built['index_mib']} MiB")
        built["searches"] = []
        for ef in p["ef_search"]:
            row: dict[str, Any] = {"ef_search": ef}
            row["b4"] = [
                measure(lambda q, ef=ef: raw_query(get_conn(), q, k, ef=ef), queries, truth, k, c) for c in (1, 4)
            ]
            row["s6"] = [measure(lambda q, ef=ef: orm_query(q, k, ef=ef), queries, truth, k, c) for c in (1, 4)]
            connections.close_all()
            row["filtered"] = {}
            for name in FILTERS:
                fq = queries[: p["filtered_queries"]]
                row["filtered"][name] = {
                    "s6": measure(
                        lambda q, ef=ef, name=name: orm_query(q, k, ef=ef, filt=name), fq, filter_truth[name], k, 1
                    ),
                    "b4": measure(
                        lambda q, ef=ef, name=name: raw_query(
                            get_conn(), q, k, ef=ef, where=FILTERS[name], iterative=True
                        ),
                        fq,
                        filter_truth[name],
                        k,
                        1,
                    ),
                }
            connections.close_all()
            s6_1 = row["s6"][0]
            ctx.log(
                f"    ef_search={ef}: S6 recall {s6_1['recall_at_k']} p50 {s6_1['latency_ms']['p50']} p95 "
                f"{s6_1['latency_ms']['p95']} ms qps(1) {s6_1['qps']} qps(4) {row['s6'][1]['qps']}; B4 p95 "
                f"{row['b4'][0]['latency_ms']['p95']}; filtered short: "
                f"{ {n_: v['s6']['short_results'] for n_, v in row['filtered'].items()} }"
            )
            built["searches"].append(row)
        out["indexes"].append(built)
    return out
