"""Embedders: 384-dimensional unit vectors; the hashing one is deterministic and lexical."""

from __future__ import annotations

import importlib.util
import math
from typing import Any

import pytest

from domains.ai.embedders import DIMENSIONS, EmbedderUnavailable, HashingEmbedder, embedder_get, minilm_is_loaded


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_hashing_is_deterministic_unit_norm_and_discriminating() -> None:
    """The same text gives the same unit vector; different texts give different ones; related
    texts are closer than unrelated ones; even text without words gets a unit vector."""
    embedder = HashingEmbedder()
    texts = ["The STAR method for behavioural interviews", "Salary negotiation: anchor high", "", "!!!", "面接の準備"]
    first, second = embedder.embed(texts), HashingEmbedder().embed(texts)
    assert first == second
    for vector in first:
        assert len(vector) == DIMENSIONS
        assert _norm(vector) == pytest.approx(1.0, abs=1e-9)
    worded = [first[0], first[1], first[4]]  # "" and "!!!" have no words: both get the same fixed vector
    assert len({tuple(v) for v in worded}) == len(worded)
    query = embedder.embed_one("how do I use the STAR method in an interview")
    assert _cosine(query, first[0]) > _cosine(query, first[1])


def test_openai_embedder_asks_for_384_dimensions(settings: Any, fake_llm: Any) -> None:
    """The openai embedder calls /v1/embeddings with dimensions=384 and returns unit vectors."""
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    embedder = embedder_get("openai")
    vectors = embedder.embed(["one", "two"])
    assert [len(v) for v in vectors] == [DIMENSIONS, DIMENSIONS]
    assert all(_norm(v) == pytest.approx(1.0, abs=1e-6) for v in vectors)
    request = fake_llm.requests[-1]
    assert request.protocol == "embeddings"
    assert request.body["dimensions"] == DIMENSIONS
    assert request.body["model"] == "text-embedding-3-small"
    assert embedder.version == "text-embedding-3-small@384"


def test_minilm_is_never_loaded_for_a_web_request() -> None:
    """A web process asks with load_models=False: it never loads the model (workers only); it is told
    so, unless this process already holds the model (a worker), which it may then use."""
    was_loaded = minilm_is_loaded()
    try:
        embedder_get("minilm", load_models=False)
    except EmbedderUnavailable:
        assert not was_loaded
    else:
        assert was_loaded
    assert minilm_is_loaded() == was_loaded


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is not None, reason="the ML stack is installed")
def test_minilm_refuses_clearly_without_the_ml_stack() -> None:
    """Without requirements-ml.txt the minilm embedder says what to install."""
    with pytest.raises(EmbedderUnavailable, match=r"requirements-ml\.txt"):
        embedder_get("minilm")


def test_unknown_embedder_is_refused() -> None:
    with pytest.raises(EmbedderUnavailable, match="Unknown embedder"):
        embedder_get("word2vec")
