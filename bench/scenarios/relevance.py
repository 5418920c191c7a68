"""S7: retrieval relevance on the labelled corpus (tests/domains/notes/relevance_corpus.py), per embedder.

The corpus is loaded as one learner's private notes in a fresh organisation, embedded with each
embedder in turn (settings.EMBEDDER overridden), and every query runs through `notes_search` with
k=3, the relevance floor included. Reported per embedder: precision@3 (the share of relevant queries
whose note is among the first 3 results: one right note per query), the paraphrased queries found,
and how many irrelevant and nonsense queries got any result (the floor should leave them empty).
`minilm` needs requirements-ml.txt; without it the scenario reports "minilm: not installed".
"""

from __future__ import annotations

from typing import Any

from bench.registry import scenario

EMBEDDERS = ("hashing", "minilm")
TARGET = 0.8  # precision@3 with minilm (issue 12)


def _available(name: str) -> str:
    """Why `name` cannot embed in this process, or an empty string when it can."""
    from domains.ai.embedders import EmbedderUnavailable, embedder_get

    try:
        embedder_get(name).embed(["probe"])
    except EmbedderUnavailable:
        return "not installed"
    return ""


def score(name: str) -> dict[str, Any]:
    """The corpus as the one reader's notes, embedded by `name`, and every query scored. The
    organisation and its reader stay (deleting them would touch the append-only audit table)."""
    from django.test.utils import override_settings

    from domains.accounts.models import Membership, Organisation, Role, User
    from domains.notes.models import Note
    from tests.domains.notes.relevance_corpus import corpus_load, corpus_score

    organisation, _ = Organisation.objects.get_or_create(slug="bench-relevance", defaults={"name": "Bench relevance"})
    user = User.objects.filter(email="relevance@bench.invalid").first() or User.objects.create_user(
        email="relevance@bench.invalid", password=None, display_name="Reader"
    )
    Membership.objects.get_or_create(organisation=organisation, user=user, role=Role.LEARNER)
    Note.objects.filter(owner=user).delete()
    try:
        with override_settings(EMBEDDER=name):
            corpus_load(organisation=organisation, owner=user)
            scores = corpus_score(organisation=organisation, user=user, embedder=name)
    finally:
        Note.objects.filter(owner=user).delete()
    return {
        "precision_at_3": round(scores.precision_at_3, 3),
        "found": scores.found_in_top3,
        "relevant": scores.relevant,
        "paraphrases_found": scores.paraphrases_found,
        "paraphrases": scores.paraphrases,
        "irrelevant_answered": scores.irrelevant_answered,
        "nonsense_answered": scores.nonsense_answered,
        "misses": scores.misses,
    }


@scenario(
    "S7", "retrieval relevance: precision@3 on the labelled corpus, hashing and minilm", needs_stack=False, order=70
)
def s7(ctx: Any) -> dict[str, Any]:
    from django.conf import settings

    out: dict[str, Any] = {
        "k": 3,
        "floors": dict(settings.NOTES_VECTOR_FLOOR),
        "target_minilm": TARGET,
        "embedders": {},
    }
    for name in EMBEDDERS:
        missing = _available(name)
        if missing:
            ctx.log(f"S7 {name}: {missing}")
            out["embedders"][name] = {"status": missing}
            continue
        result = score(name)
        ctx.log(
            f"S7 {name}: precision@3 {result['precision_at_3']} ({result['found']}/{result['relevant']}), "
            f"irrelevant answered {result['irrelevant_answered']}, nonsense answered {result['nonsense_answered']}"
        )
        out["embedders"][name] = {"status": "ok", **result}
    return out
