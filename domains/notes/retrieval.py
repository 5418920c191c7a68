"""Hybrid retrieval over note chunks: PostgreSQL full-text search fused with vector search.

    hits = notes_search(organisation=org, user=user, query="STAR answers", k=8)
    passages = passages_for_lounge(lounge=lounge, query=question, k=5)      # the lounge coach
    passages = passages_for_learner(organisation=org, user=user, query=q)   # a private coach thread

- **The audience is filtered before ranking**, inside both ranking queries (and again when the
  winners are fetched): a lounge reads only the notes shared with it; a learner reads their own
  private notes and the notes shared with lounges they belong to (not banned); always within one
  organisation. Nothing outside the audience is ever ranked, so nothing outside it can leak.
- Vector ranking (cosine, `<=>`) uses an exact scan when the readable set is small
  (NOTES_EXACT_SCAN_MAX chunks), else the HNSW index with `hnsw.iterative_scan = relaxed_order`,
  so that k results come back whenever k readable chunks exist (docs/stack-notes.md §6).
- Only chunks written by the active embedder (name and version) take part in the vector ranking;
  full-text search reads all of them, so a note stays findable while `reembed_notes` runs.
- The two rankings are fused by reciprocal rank fusion: score = sum of 1 / (NOTES_RRF_K + rank).
- **A relevance floor**: nearest-neighbour search always returns k rows, so a chunk is a result only
  when it matches a word of the query (full text, its note's title included) or its cosine
  similarity reaches the active embedder's floor (NOTES_VECTOR_FLOOR). A query that matches nothing
  gets nothing, and the coach then cites nothing.
- Snippets and citations are plain text: the Markdown syntax is gone (`markdown_plain`).
See docs/decisions/0003-retrieval.md.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from markdown_it import MarkdownIt

from domains.accounts.models import Organisation, User
from domains.ai.embedders import EmbedderError, embedder_get
from domains.ai.providers.base import Passage
from domains.ai.replies import Citation
from domains.lounges.models import Lounge
from domains.notes.chunking import PATH_SEPARATOR
from domains.notes.models import SEARCH_CONFIG, Note, NoteChunk, NoteVisibility
from domains.notes.rules import is_organisation_member
from domains.notes.selectors import readable_lounge_ids

log = structlog.get_logger(__name__)

CHUNKS = NoteChunk._meta.db_table
NOTES = Note._meta.db_table
_MARK_OPEN, _MARK_CLOSE = "\ue000", "\ue001"
_HEADLINE_OPTIONS = (
    f'StartSel={_MARK_OPEN}, StopSel={_MARK_CLOSE}, MaxWords=40, MinWords=15, MaxFragments=2, FragmentDelimiter=" … "'
)
# Any-word semantics: a chat question rarely contains every word of the passage that answers it.
_OR_QUERY = f"(SELECT replace(plainto_tsquery('{SEARCH_CONFIG}', %s)::text, ' & ', ' | ')::tsquery AS q) tq"


@dataclass(frozen=True)
class Audience:
    """Whose notes may be ranked: built by `lounge_audience` or `learner_audience` only."""

    kind: Literal["lounge", "learner"]
    organisation_id: int
    owner_id: int | None  # a learner's own private notes
    lounge_ids: tuple[int, ...]  # notes shared with these lounges

    @property
    def is_empty(self) -> bool:
        return self.owner_id is None and not self.lounge_ids


def lounge_audience(lounge: Lounge) -> Audience:
    """A lounge's coach reply is read by the whole room: only the notes shared with that lounge."""
    return Audience(kind="lounge", organisation_id=lounge.organisation_id, owner_id=None, lounge_ids=(lounge.pk,))


def learner_audience(*, organisation: Organisation, user: User | AnonymousUser | None) -> Audience:
    """A learner's own notes, and the notes shared with the lounges they belong to (not banned)."""
    if user is None or not user.is_authenticated or not is_organisation_member(user, organisation.pk):
        return Audience(kind="learner", organisation_id=organisation.pk, owner_id=None, lounge_ids=())
    return Audience(
        kind="learner",
        organisation_id=organisation.pk,
        owner_id=user.pk,
        lounge_ids=tuple(readable_lounge_ids(user=user, organisation=organisation)),
    )


@dataclass(frozen=True)
class NoteHit:
    note_id: int
    chunk_id: int
    title: str
    heading_path: str
    snippet: str  # HTML: escaped text, with <mark>…</mark> around the matched words
    char_start: int
    char_end: int
    score: float
    text: str
    lounge_id: int | None


# ---------------------------------------------------------------- SQL pieces
def _audience_sql(audience: Audience) -> tuple[str, list[Any]]:
    """The WHERE clause over chunk `c` joined to note `n` that admits exactly the audience's notes."""
    readable: list[str] = []
    params: list[Any] = [audience.organisation_id, audience.organisation_id]
    if audience.owner_id is not None:
        readable.append("(n.visibility = %s AND n.owner_id = %s)")
        params += [NoteVisibility.PRIVATE.value, audience.owner_id]
    if audience.lounge_ids:
        readable.append("(n.visibility = %s AND n.lounge_id = ANY(%s))")
        params += [NoteVisibility.LOUNGE.value, list(audience.lounge_ids)]
    return f"c.organisation_id = %s AND n.organisation_id = %s AND ({' OR '.join(readable)})", params


def _vector_literal(vector: Sequence[float]) -> str:
    return "[" + ",".join(f"{value:.7g}" for value in vector) + "]"


@contextmanager
def _hnsw_settings(cursor: Any) -> Iterator[None]:
    """Iterative, relaxed-order HNSW scans for this transaction only; the previous values come back after.

    `enable_sort = off` too: we come here only when the readable set is large (the caller counted
    it), and then the index's order is the plan we want. Left alone, the planner sometimes prefers
    to sort a filtered set whose size it misjudges; any plan that orders by distance without a
    sort node goes through the HNSW index."""
    names = ("hnsw.iterative_scan", "hnsw.ef_search", "hnsw.max_scan_tuples", "enable_sort")
    cursor.execute("SELECT " + ", ".join("current_setting(%s, true)" for _ in names), list(names))
    previous = cursor.fetchone()
    cursor.execute(
        "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
        "set_config('hnsw.ef_search', %s, true), set_config('hnsw.max_scan_tuples', %s, true), "
        "set_config('enable_sort', 'off', true)",
        [str(settings.NOTES_HNSW_EF_SEARCH), str(settings.NOTES_HNSW_MAX_SCAN_TUPLES)],
    )
    try:
        yield
    finally:
        for name, value in zip(names, previous, strict=True):
            if value is not None:
                cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def vector_ranking_sql(audience: Audience, *, exact: bool) -> tuple[str, list[Any]]:
    """The vector ranking query (parameters: the audience's, then embedder, version, vector(s), limit
    are appended by the caller in the order of the placeholders). Exposed for EXPLAIN in tests."""
    where, params = _audience_sql(audience)
    base = (
        f"FROM {CHUNKS} c JOIN {NOTES} n ON n.id = c.note_id "
        f"WHERE {where} AND c.embedder = %s AND c.embedder_version = %s"
    )
    if exact:
        # A MATERIALIZED CTE keeps the planner from the index: the filtered set is sorted exactly.
        sql = (
            f"WITH readable AS MATERIALIZED (SELECT c.id, c.embedding {base}) "  # noqa: S608 - constants and placeholders only
            "SELECT id, embedding <=> %s::vector AS distance FROM readable ORDER BY distance, id LIMIT %s"
        )
    else:
        # relaxed_order returns nearly sorted rows: sort the winners again (pgvector's advice).
        sql = (
            f"WITH hits AS MATERIALIZED (SELECT c.id, c.embedding <=> %s::vector AS distance {base} "  # noqa: S608
            "ORDER BY c.embedding <=> %s::vector LIMIT %s) SELECT id, distance FROM hits ORDER BY distance, id"
        )
    return sql, params


def _vector_ranking(
    cursor: Any, audience: Audience, vector: Sequence[float], name: str, version: str, limit: int
) -> list[tuple[int, float]]:
    """(chunk id, cosine distance), nearest first."""
    where, params = _audience_sql(audience)
    cursor.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM {CHUNKS} c JOIN {NOTES} n ON n.id = c.note_id "  # noqa: S608
        f"WHERE {where} AND c.embedder = %s AND c.embedder_version = %s LIMIT %s) readable",
        [*params, name, version, settings.NOTES_EXACT_SCAN_MAX + 1],
    )
    readable = cursor.fetchone()[0]
    if readable == 0:
        return []
    literal = _vector_literal(vector)
    if readable <= settings.NOTES_EXACT_SCAN_MAX:
        sql, params = vector_ranking_sql(audience, exact=True)
        cursor.execute(sql, [*params, name, version, literal, limit])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]
    sql, params = vector_ranking_sql(audience, exact=False)
    with _hnsw_settings(cursor):
        cursor.execute(sql, [literal, *params, name, version, literal, limit])
        return [(row[0], float(row[1])) for row in cursor.fetchall()]


# The note's title counts as a word match too (weight A, like a heading): the chunk's own vector
# holds its heading path and text only, and a note called "Salary negotiation" is about salaries.
_TITLE_VECTOR = f"setweight(to_tsvector('{SEARCH_CONFIG}', n.title), 'A')"


def _text_ranking(cursor: Any, audience: Audience, query: str, limit: int) -> list[int]:
    where, params = _audience_sql(audience)
    cursor.execute(
        f"SELECT c.id FROM {CHUNKS} c JOIN {NOTES} n ON n.id = c.note_id, {_OR_QUERY} "  # noqa: S608
        f"WHERE {where} AND (c.search_vector @@ tq.q OR {_TITLE_VECTOR} @@ tq.q) "
        f"ORDER BY ts_rank_cd(c.search_vector || {_TITLE_VECTOR}, tq.q, 32) DESC, c.id LIMIT %s",
        [query, *params, limit],
    )
    return [row[0] for row in cursor.fetchall()]


def _snippet(headline: str) -> str:
    escaped = html.escape(headline, quote=True)
    return escaped.replace(_MARK_OPEN, "<mark>").replace(_MARK_CLOSE, "</mark>")


def vector_floor(name: str) -> float:
    """The cosine similarity at which a vector-only match counts as relevant for embedder `name`
    (NOTES_VECTOR_FLOOR; an embedder without a floor never matches by vector alone)."""
    return float(settings.NOTES_VECTOR_FLOOR.get(name, 1.0))


def _query_vector(query: str, *, load_models: bool) -> tuple[list[float], str, str] | None:
    try:
        embedder = embedder_get(load_models=load_models)
        return embedder.embed([query])[0], embedder.name, embedder.version
    except EmbedderError as error:
        # Full-text search still answers; the vector half sits this one out.
        log.warning("notes.query_embedding_failed", error=str(error))
        return None


# ---------------------------------------------------------------- public
def notes_search(
    *,
    organisation: Organisation,
    user: User | AnonymousUser | None,
    query: str,
    k: int = 8,
    audience: Audience | None = None,
    load_models: bool = True,
) -> list[NoteHit]:
    """The k best chunks for `query` that `audience` may read (default: the learner `user`'s).

    `load_models=False` (web requests): a local embedding model that is not loaded in this process
    is not loaded for the query; the search then ranks by full text alone."""
    audience = audience or learner_audience(organisation=organisation, user=user)
    if audience.organisation_id != organisation.pk:
        raise ValueError("The audience belongs to another organisation.")
    query = " ".join((query or "").split())[:1000]
    if not query or k <= 0 or audience.is_empty:
        return []
    candidates = max(k, settings.NOTES_CANDIDATES)
    embedded = _query_vector(query, load_models=load_models)
    with transaction.atomic(), connection.cursor() as cursor:
        vector_hits = _vector_ranking(cursor, audience, *embedded, candidates) if embedded else []
        text_ids = _text_ranking(cursor, audience, query, candidates)
        floor = vector_floor(embedded[1]) if embedded else 1.0
        # The relevance floor: ranks are fused over every candidate, but only a chunk that matches
        # the query's words, or is close enough by vector, may be a result.
        relevant = set(text_ids) | {chunk_id for chunk_id, distance in vector_hits if 1.0 - distance >= floor}
        scores: dict[int, float] = defaultdict(float)
        for ranking in ([chunk_id for chunk_id, _ in vector_hits], text_ids):
            for rank, chunk_id in enumerate(ranking, start=1):
                scores[chunk_id] += 1.0 / (settings.NOTES_RRF_K + rank)
        winners = sorted(relevant, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[:k]
        if not winners:
            return []
        where, params = _audience_sql(audience)
        cursor.execute(
            "SELECT c.id, c.note_id, n.title, c.heading_path, c.char_start, c.char_end, c.text, n.lounge_id "  # noqa: S608
            f"FROM {CHUNKS} c JOIN {NOTES} n ON n.id = c.note_id WHERE c.id = ANY(%s) AND {where}",
            [winners, *params],
        )
        rows = {row[0]: row for row in cursor.fetchall()}
        found = [rows[chunk_id] for chunk_id in winners if chunk_id in rows]
        # Headlines over the passage as a reader sees it (no Markdown syntax), not the raw body.
        plain = [markdown_plain(passage_text_clean(row[6])).translate(_NO_MARKS) for row in found]
        cursor.execute(
            f"SELECT u.ord, ts_headline('{SEARCH_CONFIG}', u.body, tq.q, %s) "  # noqa: S608
            f"FROM unnest(%s::text[]) WITH ORDINALITY AS u(body, ord), {_OR_QUERY}",
            [_HEADLINE_OPTIONS, plain, query],
        )
        headlines = {int(row[0]) - 1: row[1] for row in cursor.fetchall()}
    return [
        NoteHit(
            chunk_id=row[0],
            note_id=row[1],
            title=row[2],
            heading_path=row[3],
            char_start=row[4],
            char_end=row[5],
            text=row[6],
            lounge_id=row[7],
            snippet=_snippet(headlines.get(index, plain[index])),
            score=round(scores[row[0]], 6),
        )
        for index, row in enumerate(found)
    ]


# ---------------------------------------------------------------- plain text
_NO_MARKS = str.maketrans("", "", _MARK_OPEN + _MARK_CLOSE)
_plain_md = MarkdownIt("commonmark", {"html": False}).enable("table")
_SPACES = re.compile(r"\s+")


def _inline_text(token: Any) -> str:
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))
    return "".join(parts)


def markdown_plain(text: str) -> str:
    """Markdown as the words a reader sees, on one line: no `#`, `**`, list markers, link targets
    or fences. A heading is followed by " — " so it still reads as a heading. Escaping for HTML is
    the caller's business (this is text, not markup)."""
    blocks: list[str] = []
    heading = False
    for token in _plain_md.parse(text):
        if token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "inline":
            words = _SPACES.sub(" ", _inline_text(token)).strip()
            if words:
                blocks.append(words + (" —" if heading else ""))
        elif token.type in ("fence", "code_block"):
            words = _SPACES.sub(" ", token.content).strip()
            if words:
                blocks.append(words)
    return " ".join(blocks).removesuffix(" —")


def _shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" —,;:") + "…"


# ---------------------------------------------------------------- grounding
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\U000e0000-\U000e007f]")
# Every CommonMark image form: inline `![alt](url "title")`, full reference `![alt][ref]`, collapsed
# `![alt][]` and shortcut `![alt]`. The alt may hold one level of brackets and the inline
# destination one level of parentheses; each alternative starts with a distinct character, so the
# pattern cannot backtrack badly. Like CommonMark, any part may continue on the next line, but no
# part crosses a blank line. A shortcut is replaced even when its definition is elsewhere (in
# another chunk of the note): "[image: alt]" reads the same as the literal text would.
_LINE_BREAK = r"\n(?![ \t]*\n)"
_IMAGE = re.compile(
    rf"!\[(?P<alt>(?:[^\[\]\\\n]|\\.|{_LINE_BREAK}|\[(?:[^\[\]\n]|{_LINE_BREAK})*\])*)\]"
    rf"(?:\((?:[^()\\\n]|\\.|{_LINE_BREAK}|\((?:[^()\n]|{_LINE_BREAK})*\))*\)|\[(?:[^\[\]\n]|{_LINE_BREAK})*\])?"
)
# Link reference definitions (`[ref]: url "title"`, the title possibly on the next line): they never
# render, so to a reader they are hidden text, and they carry the URLs of reference-style images.
_REFERENCE_DEFINITION = re.compile(
    r"^ {0,3}\[(?:[^\[\]\\\n]|\\.){1,999}\]:[ \t]*\n?[ \t]*(?:<[^<>\n]*>|[^\s<][^\s]*)"
    r"(?:(?:[ \t]+|[ \t]*\n[ \t]*)(?:\"[^\"]*\"|'[^']*'|\([^()]*\)))?[ \t]*$\n?",
    re.MULTILINE,
)
_RAW_IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)


def passage_text_clean(text: str) -> str:
    """Retrieved text as a model should see it: no hidden text (HTML comments, zero-width, bidi
    and tag characters, link reference definitions) and no images in any Markdown or HTML form
    (their URLs would beacon out if a reply echoed them)."""
    text = _HTML_COMMENT.sub("", text)
    text = _INVISIBLE.sub("", text)
    text = _REFERENCE_DEFINITION.sub("", text)
    text = _IMAGE.sub(lambda m: f"[image: {m.group('alt')}]" if m.group("alt") else "[image]", text)
    return _RAW_IMG.sub("[image]", text)


def _passage(hit: NoteHit) -> Passage:
    title = (
        f"{hit.title}{PATH_SEPARATOR}{hit.heading_path}"
        if hit.heading_path and hit.heading_path != hit.title
        else hit.title
    )
    return Passage(
        text=passage_text_clean(hit.text),
        title=title,
        source=f"note:{hit.note_id}#{hit.char_start}-{hit.char_end}",
    )


def passages_for_lounge(*, lounge: Lounge, query: str, k: int = 5) -> list[Passage]:
    """Passages grounding a lounge coach reply: notes shared with this lounge, nothing else."""
    hits = notes_search(organisation=lounge.organisation, user=None, query=query, k=k, audience=lounge_audience(lounge))
    return [_passage(hit) for hit in hits]


def passages_for_learner(
    *, organisation: Organisation, user: User | AnonymousUser, query: str, k: int = 5
) -> list[Passage]:
    """Passages grounding a learner's private coach thread: their notes and their lounges' shared notes."""
    hits = notes_search(organisation=organisation, user=user, query=query, k=k)
    return [_passage(hit) for hit in hits]


def citation_url(source: str) -> str:
    """`note:<id>#<start>-<end>` → the note page showing that passage."""
    note, _, span = source.removeprefix("note:").partition("#")
    if not note.isdigit():
        return ""
    return f"/notes/{note}/?passage={span}" if span else f"/notes/{note}/"


CITATION_SNIPPET_MAX = 280


def citations_for(passages: Sequence[Passage]) -> list[Citation]:
    """The passages as a reply cites them: [n] is the n-th passage offered to the model."""
    citations = []
    for number, passage in enumerate(passages, start=1):
        note_id = passage.source.removeprefix("note:").partition("#")[0]
        title, _, heading = passage.title.partition(PATH_SEPARATOR)
        citations.append(
            Citation(
                n=number,
                note_id=int(note_id) if note_id.isdigit() else None,
                title=title,
                heading=heading,
                source=passage.source,
                snippet=_shorten(markdown_plain(passage.text), CITATION_SNIPPET_MAX),
                url=citation_url(passage.source),
            )
        )
    return citations
