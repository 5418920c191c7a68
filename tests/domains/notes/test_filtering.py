"""Filtered vector search at scale: a filter admitting 1% of the chunks still yields k results,
through the HNSW index with an iterative scan (docs/stack-notes.md §6)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from django.db import connection, transaction

from domains.ai.embedders import DIMENSIONS, HashingEmbedder
from domains.notes import retrieval
from domains.notes.models import Note, NoteChunk, NoteVisibility
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory

TOTAL_NOTES = 200
CHUNKS_PER_NOTE = 100  # 20,000 chunks
READABLE_NOTES = 2  # the learner's own: 200 chunks, 1%
K = 10
WORDS = [
    "interview",
    "resume",
    "salary",
    "negotiation",
    "mentor",
    "feedback",
    "project",
    "deadline",
    "pitch",
    "portfolio",
]


def _random_unit(rng: random.Random) -> list[float]:
    values = [rng.gauss(0.0, 1.0) for _ in range(DIMENSIONS)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


def _load(org: Any, learner: Any, others: list[Any]) -> None:
    """20k chunks by COPY, with the HNSW index dropped during the load and rebuilt after (the
    test's transaction rolls both back)."""
    rng = random.Random(20260505)
    owners = [learner] * READABLE_NOTES + [others[i % len(others)] for i in range(TOTAL_NOTES - READABLE_NOTES)]
    notes = Note.objects.bulk_create(
        Note(organisation=org, owner=owner, visibility=NoteVisibility.PRIVATE, title=f"Note {i}", body="x" * 10)
        for i, owner in enumerate(owners)
    )
    # A pool of vectors, reused: building 20k Python lists of 384 floats dominates otherwise.
    pool = ["[" + ",".join(f"{v:.5f}" for v in _random_unit(rng)) + "]" for _ in range(1000)]
    columns = (
        "note_id, organisation_id, ordinal, text, heading_path, char_start, char_end, embedding, embedder, "
        "embedder_version, content_hash, created_at, updated_at"
    )
    embedder = HashingEmbedder()
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX notes_chunk_embedding")
        with cursor.cursor.copy(f"COPY {NoteChunk._meta.db_table} ({columns}) FROM STDIN") as copy:
            for note in notes:
                for ordinal in range(CHUNKS_PER_NOTE):
                    text = " ".join(rng.choice(WORDS) for _ in range(8))
                    copy.write_row(
                        (
                            note.pk,
                            org.pk,
                            ordinal,
                            text,
                            "",
                            0,
                            10,
                            rng.choice(pool),
                            embedder.name,
                            embedder.version,
                            f"{note.pk}-{ordinal}",
                            "now",
                            "now",
                        )
                    )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # run the deferred checks: CREATE INDEX needs none pending
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(
            f"CREATE INDEX notes_chunk_embedding ON {NoteChunk._meta.db_table} "
            "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
        )
        cursor.execute(f"ANALYZE {NoteChunk._meta.db_table}")
        cursor.execute(f"ANALYZE {Note._meta.db_table}")


@pytest.mark.django_db
def test_one_percent_filter_returns_k_through_hnsw(settings: Any) -> None:
    """With 20k chunks of which the learner may read 1%, the HNSW path (forced by a zero exact-scan
    threshold) still returns k results, all readable; EXPLAIN shows the HNSW index."""
    # given
    org = OrganisationFactory.create()
    learner = MembershipFactory.create(organisation=org).user
    others = [MembershipFactory.create(organisation=org, user=UserFactory.create()).user for _ in range(5)]
    started = time.monotonic()
    _load(org, learner, others)
    print(f"loaded 20k chunks in {time.monotonic() - started:.1f}s")
    settings.NOTES_EXACT_SCAN_MAX = 0  # always the index
    audience = retrieval.learner_audience(organisation=org, user=learner)
    readable = set(Note.objects.filter(owner=learner).values_list("pk", flat=True))
    assert NoteChunk.objects.count() == TOTAL_NOTES * CHUNKS_PER_NOTE

    # when: the plan of the ranking query
    vector = retrieval._vector_literal(HashingEmbedder().embed_one("salary negotiation"))
    sql, params = retrieval.vector_ranking_sql(audience, exact=False)
    embedder = HashingEmbedder()
    with transaction.atomic(), connection.cursor() as cursor, retrieval._hnsw_settings(cursor):
        cursor.execute("EXPLAIN " + sql, [vector, *params, embedder.name, embedder.version, vector, K])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(plan)
    # then: the HNSW index drives the scan
    assert "notes_chunk_embedding" in plan

    # when: searching through the public API
    hits = retrieval.notes_search(organisation=org, user=learner, query="salary negotiation pitch", k=K)
    # then: k results, every one readable by the learner
    assert len(hits) == K
    assert {hit.note_id for hit in hits} <= readable

    # and the vector half alone (no full-text help) brings k back too
    with transaction.atomic(), connection.cursor() as cursor:
        ranked = retrieval._vector_ranking(
            cursor, audience, embedder.embed_one("zzz"), embedder.name, embedder.version, K
        )
    ids = [chunk_id for chunk_id, _distance in ranked]
    assert len(ids) == K
    assert set(NoteChunk.objects.filter(pk__in=ids).values_list("note_id", flat=True)) <= readable

    # and without the iterative scan, a filtered query comes back short (the trap it avoids). The
    # query is unrelated to every note ("zzz"), so the 40 nearest candidates hold about 1% readable
    # chunks; a query close to the learner's own notes could find ten of them by proximity alone.
    vector = retrieval._vector_literal(embedder.embed_one("zzz"))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = off")
        cursor.execute("SET LOCAL hnsw.ef_search = 40")
        # the same index plan as above, whatever the planner would otherwise prefer for this query
        for setting in ("enable_sort", "enable_seqscan", "enable_bitmapscan"):
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute("EXPLAIN " + sql, [vector, *params, embedder.name, embedder.version, vector, K])
        assert "notes_chunk_embedding" in "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(sql, [vector, *params, embedder.name, embedder.version, vector, K])
        assert len(cursor.fetchall()) < K

    # and the exact path (the default threshold) agrees on the count
    settings.NOTES_EXACT_SCAN_MAX = 2000
    with transaction.atomic(), connection.cursor() as cursor:
        exact = retrieval._vector_ranking(
            cursor, audience, embedder.embed_one("zzz"), embedder.name, embedder.version, K
        )
    assert len(exact) == K
