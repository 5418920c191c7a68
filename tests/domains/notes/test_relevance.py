"""The relevance floor, measured on a labelled corpus (`relevance_corpus.py`) with the default
`hashing` embedder: a query that matches nothing finds nothing (search and the coach alike), and a
relevant query finds its note in the top 3 often enough. Snippets and citations read as text."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from django.test import Client
from pytest_django import Settings

from domains.notes.models import NoteVisibility
from domains.notes.retrieval import (
    citations_for,
    markdown_plain,
    notes_search,
    passages_for_learner,
    passages_for_lounge,
    vector_floor,
)
from tests.domains.notes.helpers import World, embedded_note
from tests.domains.notes.relevance_corpus import QUERIES, corpus_load, corpus_score

pytestmark = pytest.mark.django_db

NONSENSE = [query.text for query in QUERIES if query.kind == "nonsense"]
MIN_PRECISION_AT_3 = 0.7


@pytest.fixture
def corpus(world: World, settings: Settings) -> World:
    settings.EMBEDDER = "hashing"
    corpus_load(organisation=world.org, owner=world.learner)
    return world


@pytest.mark.parametrize("query", NONSENSE)
def test_a_nonsense_query_finds_nothing(corpus: World, query: str) -> None:
    """Nearest-neighbour search always has k neighbours; the floor keeps them out of the results."""
    assert notes_search(organisation=corpus.org, user=corpus.learner, query=query, k=8) == []
    assert passages_for_learner(organisation=corpus.org, user=corpus.learner, query=query) == []


def test_relevant_queries_find_their_note_in_the_top_3(corpus: World) -> None:
    scores = corpus_score(organisation=corpus.org, user=corpus.learner, embedder="hashing")
    print(
        f"\nhashing: precision@3 {scores.precision_at_3:.2f} ({scores.found_in_top3}/{scores.relevant}; "
        f"paraphrases {scores.paraphrases_found}/{scores.paraphrases}), irrelevant answered "
        f"{scores.irrelevant_answered}, nonsense answered {scores.nonsense_answered}; missed: {scores.misses}"
    )
    assert scores.precision_at_3 >= MIN_PRECISION_AT_3
    assert scores.nonsense_answered == 0


def test_the_lounge_coach_gets_no_passage_for_an_unrelated_question(world: World) -> None:
    """The lounge's knowledge base holds a salary note; a question about STAR answers cites nothing."""
    embedded_note(
        organisation=world.org,
        owner=world.moderator,
        lounge=world.lounge,
        visibility=NoteVisibility.LOUNGE,
        title="Salary negotiation",
        body="Never name a figure first; anchor at the top of the market range.",
    )
    assert passages_for_lounge(lounge=world.lounge, query="How do I use the STAR method?") == []
    assert [p.title for p in passages_for_lounge(lounge=world.lounge, query="How do I negotiate my salary?")] == [
        "Salary negotiation"
    ]


def test_a_vector_match_counts_above_the_embedders_floor(corpus: World, settings: Settings) -> None:
    """The floor is the embedder's (NOTES_VECTOR_FLOOR): lowered to nothing, every neighbour is a
    result again, as before the floor; at its default a nonsense query's neighbours stay out."""
    assert vector_floor("hashing") == settings.NOTES_VECTOR_FLOOR["hashing"]
    assert vector_floor("minilm") == settings.NOTES_VECTOR_FLOOR["minilm"] < vector_floor("hashing")
    settings.NOTES_VECTOR_FLOOR = {**settings.NOTES_VECTOR_FLOOR, "hashing": -1.0}
    assert len(notes_search(organisation=corpus.org, user=corpus.learner, query="zzzqqq", k=3)) == 3


def test_the_search_page_says_no_matching_passages(corpus: World) -> None:
    client = Client()
    client.force_login(corpus.learner)
    for url in ("/notes/?q=zzzqqq", "/notes/search/?q=zzzqqq"):
        body = client.get(url).content.decode()
        # said once on screen (the empty state), and announced once by the status line, which is
        # visually hidden so that the page does not show it twice
        assert '<span class="visually-hidden">No matching passages for “zzzqqq”.</span>' in body
        assert body.count("<strong>No matching passages.</strong>") == 1
        assert "passages found" not in body
        assert 'class="note-hit"' not in body


# ---------------------------------------------------------------- snippets and citations as text
MARKDOWN_NOTE = (
    "# STAR method\n\nStructure answers in four parts.\n\n"
    "- **Situation**: set the scene, *briefly*.\n- **Result**: see [the guide](https://example.com/star).\n\n"
    "Use `<script>` tags & ampersands literally.\n"
)


def test_markdown_becomes_the_words_a_reader_sees() -> None:
    assert markdown_plain(MARKDOWN_NOTE) == (
        "STAR method — Structure answers in four parts. Situation: set the scene, briefly. "
        "Result: see the guide. Use <script> tags & ampersands literally."
    )


def test_search_snippets_are_escaped_text_with_marks(world: World) -> None:
    embedded_note(organisation=world.org, owner=world.learner, title="STAR", body=MARKDOWN_NOTE)
    embedded_note(organisation=world.org, owner=world.learner, title="Tags", body="Fish & chips, **ampersands**.")
    [hit] = notes_search(organisation=world.org, user=world.learner, query="situation scene", k=3)
    assert hit.snippet.startswith("STAR method — Structure answers in four parts. <mark>Situation</mark>: set the")
    assert "<mark>scene</mark>" in hit.snippet
    for syntax in ("#", "**", "](", "`"):
        assert syntax not in hit.snippet
    [hit] = notes_search(organisation=world.org, user=world.learner, query="ampersands", k=3)
    assert hit.snippet.startswith("Fish &amp; chips, <mark>ampersands</mark>")


def test_citation_snippets_are_plain_text(world: World) -> None:
    embedded_note(organisation=world.org, owner=world.learner, title="STAR", body=MARKDOWN_NOTE)
    passages = passages_for_learner(organisation=world.org, user=world.learner, query="situation")
    snippet = citations_for([replace(passages[0], text=passages[0].text + "\n\nword " + "word " * 80)])[0]["snippet"]
    assert snippet.startswith("STAR method — Structure answers in four parts. Situation: set the scene")
    assert "**" not in snippet
    assert "#" not in snippet
    assert len(snippet) <= 280
    assert snippet.endswith("word…")


def _detail(world: World, note_id: int, passage: str) -> str:
    client = Client()
    client.force_login(world.learner)
    response = client.get(f"/notes/{note_id}/?passage={passage}")
    assert response.status_code == 200
    return response.content.decode()


def test_the_note_page_highlights_the_cited_passage_inside_the_note(world: World) -> None:
    note = embedded_note(organisation=world.org, owner=world.learner, title="STAR", body=MARKDOWN_NOTE)
    chunk: Any = note.chunks.order_by("ordinal").first()
    page = _detail(world, note.pk, f"{chunk.char_start}-{chunk.char_end}")
    assert "Characters" not in page
    assert '<h1><mark class="cited" id="cited-passage" data-cited-mark>STAR method</mark></h1>' in page
    assert '<strong><mark class="cited" data-cited-mark>Situation</mark></strong>' in page
    assert '<code><mark class="cited" data-cited-mark>&lt;script&gt;</mark></code>' in page
    assert "<script>" not in page.split("data-note-body", 1)[1]


def test_a_passage_in_the_middle_of_the_note_is_highlighted_alone(world: World) -> None:
    body = "# Plan\n\nFirst paragraph.\n\nSecond paragraph, the cited one.\n\nThird paragraph.\n"
    note = embedded_note(organisation=world.org, owner=world.learner, title="Plan", body=body)
    start = body.index("Second")
    page = _detail(world, note.pk, f"{start}-{body.index('Third')}")
    assert (
        '<p><mark class="cited" id="cited-passage" data-cited-mark>Second paragraph, the cited one.</mark></p>' in page
    )
    assert page.count("data-cited-mark") == 1
    assert "<p>First paragraph.</p>" in page
    assert "<p>Third paragraph.</p>" in page


def test_a_passage_that_cannot_be_marked_in_place_is_shown_as_rendered_text(world: World) -> None:
    """A span starting inside a link's title would change the HTML: the passage then renders above."""
    body = 'See [the guide](https://example.com "the title") for more.\n'
    note = embedded_note(organisation=world.org, owner=world.learner, title="Guide", body=body)
    start = body.index("title")
    page = _detail(world, note.pk, f"{start}-{len(body)}")
    assert "data-cited-mark" not in page
    assert '<div class="prose cited-text" data-cited-text><p>title") for more.</p>' in page.replace("\n", "")
