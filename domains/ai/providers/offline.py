"""The offline coach: deterministic, needs no key and no network.

Used when no provider key is configured (and in demos and tests). It cannot reason, so it does
what is honest and still useful: it acknowledges the question and, when retrieved passages are
given, quotes the most relevant sentence of each with a numbered citation ([1], [2] ...) and
sums up the terms they share with the question. The same input always gives the same reply,
streamed in word-sized deltas. The UI labels it "offline coach".
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence

from domains.ai.providers.base import (
    ChatMessage,
    ChatRequest,
    Delta,
    Finish,
    Passage,
    ProviderEvent,
    Usage,
    estimate_tokens,
    prompt_text,
)

OFFLINE_LABEL = "offline coach"
OFFLINE_MODEL = "offline-coach-1"
MAX_PASSAGES = 5
_QUOTE_CHARS = 240
_WORD = re.compile(r"\S+\s*")
_TERM = re.compile(r"[a-zA-Z][a-zA-Z'-]{2,}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = frozenset(
    """
    the and for are but not you your with this that from have has had was were will would can could should
    what when where which who whom why how about into over under than then them they their there these those
    its it's our out own all any each few more most other some such only same very just also been being does
    did doing done may might must shall here his her hers him she he we us i'm i've let's get got make made
    """.split()  # noqa: SIM905 - a word list reads better as words
)
_GENERIC_STEPS = (
    "Write the goal down in one sentence, as if explaining it to a friend.",
    "Pick the smallest next step you could finish in twenty minutes, and do that first.",
    "Note what you already know and what you still need to find out.",
    "Share the relevant notes with this conversation and ask again: I will quote them for you.",
)


def _clean(text: str) -> str:
    return " ".join(text.split())


def _terms(text: str) -> list[str]:
    return [t.lower().strip("'-") for t in _TERM.findall(text) if t.lower() not in _STOPWORDS]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _best_sentence(passage: Passage, question_terms: set[str]) -> str:
    """The passage's sentence sharing most terms with the question (the first one on a tie)."""
    sentences = [s for s in (_clean(s) for s in _SENTENCE.split(passage.text)) if s] or [_clean(passage.text)]
    best = max(sentences, key=lambda s: (len(question_terms & set(_terms(s))), -sentences.index(s)))
    return _shorten(best, _QUOTE_CHARS)


def _question(messages: Sequence[ChatMessage]) -> str:
    for message in reversed(messages):
        if message.role == "user" and message.content.strip():
            return _shorten(_clean(message.content), 200)
    return ""


def compose_offline_reply(messages: Sequence[ChatMessage], passages: Sequence[Passage]) -> str:
    """The whole reply, as plain text with light markdown. Pure and deterministic."""
    question = _question(messages)
    asked = f"You asked: “{question}”" if question else "You have not asked a question yet"
    passages = [p for p in passages if p.text.strip()][:MAX_PASSAGES]
    if not passages:
        steps = "\n".join(f"{n}. {step}" for n, step in enumerate(_GENERIC_STEPS, start=1))
        return (
            "Offline coach here: no AI model is connected, so I cannot write a tailored answer. "
            f"{asked}.\n\nA few steps that usually help:\n\n{steps}\n"
        )

    question_terms = set(_terms(question))
    lines = [
        f"Offline coach here: no AI model is connected, so this answer comes straight from your notes. {asked}.",
        "",
        "What your notes say:",
        "",
    ]
    for number, passage in enumerate(passages, start=1):
        title = f"{_clean(passage.title)}: " if passage.title.strip() else ""
        lines.append(f"- [{number}] {title}“{_best_sentence(passage, question_terms)}”")

    # Summary: the terms the passages share with the question (else their most frequent terms), cited.
    counts: Counter[str] = Counter()
    cited_by: dict[str, list[int]] = {}
    for number, passage in enumerate(passages, start=1):
        for term in dict.fromkeys(_terms(passage.title + " " + passage.text)):
            counts[term] += 1
            cited_by.setdefault(term, []).append(number)
    ranked = sorted(counts, key=lambda t: (t not in question_terms, -counts[t], t))[:3]
    lines.append("")
    if ranked:
        parts = [f"“{term}” ({', '.join(f'[{n}]' for n in cited_by[term])})" for term in ranked]
        summary = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
        lines.append(f"In short: your notes keep coming back to {summary}. Start with [{cited_by[ranked[0]][0]}].")
    else:
        lines.append("In short: start with [1].")
    return "\n".join(lines) + "\n"


class OfflineProvider:
    name = "offline"
    label = OFFLINE_LABEL
    default_model = OFFLINE_MODEL

    def stream(self, request: ChatRequest) -> Iterator[ProviderEvent]:
        reply = compose_offline_reply(request.messages, request.passages)
        pieces = _WORD.findall(reply)
        for piece in pieces:
            yield Delta(piece)
        yield Usage(tokens_in=estimate_tokens(prompt_text(request)), tokens_out=len(pieces))
        yield Finish("stop")
