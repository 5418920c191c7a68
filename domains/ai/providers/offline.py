"""The offline coach: deterministic, needs no key and no network.

Used when no provider key is configured (and in demos and tests). It cannot reason, and says so:
it points to the retrieved passages, quoting each one's sentences most relevant to the question as
plain text with its number ([1], [2] ...), or says plainly that it found nothing in the notes.

It reads the prompt as a model would. A lounge's prompt declares that its chat lines read
"Name: text" (`GROUP_CHAT_RULE`): the offline coach strips the name, and the @coach mention, before
it quotes a line. A summons without a question ends on `CONVERSATION_CUE`: it then picks up the
last thing a person said. The same input always gives the same reply, streamed in word-sized
deltas. The UI labels it "offline coach".
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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

# The lounge coach's prompt carries these (domains/coach/lounge_reply.py); every model reads them.
GROUP_CHAT_RULE = (
    "- This is a group chat: each person's message starts with their name and a colon, and the "
    "reference material is the notes shared with this lounge."
)
CONVERSATION_CUE = (
    "(Nobody asked a question: the coach was summoned to respond to the conversation so far. "
    "Pick up its latest messages.)"
)

_QUOTE_CHARS = 240
_QUESTION_CHARS = 200
_WORD = re.compile(r"\S+\s*")
_TERM = re.compile(r"[a-zA-Z][a-zA-Z'-]{2,}")
_SENTENCE = re.compile(r"(?<=[.!?…])\s+")
_MENTION = re.compile(r"(?<![\w@])@coach\b[,:;]?", re.IGNORECASE)
_STOPWORDS = frozenset(
    """
    the and for are but not you your with this that from have has had was were will would can could should
    what when where which who whom why how about into over under than then them they their there these those
    its it's our out own all any each few more most other some such only same very just also been being does
    did doing done may might must shall here his her hers him she he we us i'm i've let's get got make made
    """.split()  # noqa: SIM905 - a word list reads better as words
)

# Markdown, read as plain text: block markers go, inline markers keep their text.
_FENCE = re.compile(r"^\s*(```|~~~)")
_RULE = re.compile(r"^\s{0,3}([-*_])(\s*\1){2,}\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(\s+#+)?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,9}[.)])\s+")
_BLOCKQUOTE = re.compile(r"^\s{0,3}(>\s?)+")
_INLINE = (
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"<(https?://[^>\s]+)>"), r"\1"),
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
)
_ENDS_SENTENCE = tuple(".!?:;…")
_INNER_QUOTES = str.maketrans({"\u201c": "\u2018", "\u201d": "\u2019"})
_TITLE_PATH = "\u203a"  # a passage's title is the note's, then its heading path, joined by this


@dataclass(frozen=True)
class Said:
    """A chat line as a person wrote it: who (when the prompt names speakers) and the plain text."""

    speaker: str
    text: str


def _clean(text: str) -> str:
    return " ".join(text.split())


def _terms(text: str) -> list[str]:
    return [t.lower().strip("'-") for t in _TERM.findall(text) if t.lower() not in _STOPWORDS]


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:") + "…"


def _inline_plain(text: str) -> str:
    for pattern, keep in _INLINE:
        text = pattern.sub(keep, text)
    return _clean(text)


def _said(message: ChatMessage, *, group_chat: bool) -> Said:
    """The line without the prompt's "Name: " label and the @coach mention, as plain text."""
    content, speaker = message.content, ""
    if group_chat:
        name, colon, rest = content.partition(": ")
        if colon and name.strip() and "\n" not in name:
            speaker, content = name.strip(), rest
    opens_with_mention = bool(_MENTION.match(content.lstrip()))
    text = _inline_plain(_MENTION.sub(" ", content))
    if opens_with_mention and text[:1].islower():
        text = text[0].upper() + text[1:]
    return Said(speaker=speaker, text=_shorten(text, _QUESTION_CHARS))


def addressed(messages: Sequence[ChatMessage], *, group_chat: bool = False) -> Said | None:
    """What a reply answers: the last question, or after `CONVERSATION_CUE` the last thing a person
    said (None when nobody said anything). The lounge coach looks this text up in the notes."""
    people = [m for m in messages if m.role == "user"]
    if people and people[-1].content == CONVERSATION_CUE:
        people = people[:-1]
    for message in reversed(people):
        said = _said(message, group_chat=group_chat)
        if said.text:
            return said
    return None


def _plain_text(text: str, title: str) -> str:
    """A passage's Markdown as plain sentences: each heading, list item and paragraph ends as one.
    A heading that repeats the note's title is dropped: the reply names the note already."""
    title_parts = {_clean(part).lower() for part in title.split(_TITLE_PATH)}
    blocks: list[str] = []
    current: list[str] = []

    def close() -> None:
        block = _inline_plain(" ".join(current))
        current.clear()
        if block:
            blocks.append(block if block.endswith(_ENDS_SENTENCE) else block + ".")

    for line in text.splitlines():
        if _FENCE.match(line) or _RULE.match(line) or not line.strip():
            close()
            continue
        heading = _HEADING.match(line)
        if heading:
            close()
            words = _inline_plain(heading.group(1))
            if words and words.lower() not in title_parts:
                blocks.append(words if words.endswith(_ENDS_SENTENCE) else words + ":")
            continue
        line = _BLOCKQUOTE.sub("", line)
        if _LIST_ITEM.match(line):
            close()
            line = _LIST_ITEM.sub("", line)
        current.append(line)
    close()
    plain = " ".join(blocks)
    return plain[:-1] + "." if plain.endswith(":") else plain


def _excerpt(passage: Passage, question_terms: set[str]) -> str:
    """From the passage's sentence sharing most terms with the question (the first on a tie), as
    many sentences as fit in a short quote."""
    sentences = [s for s in _SENTENCE.split(_plain_text(passage.text, passage.title)) if s]
    if not sentences:
        return ""
    start = max(range(len(sentences)), key=lambda i: (len(question_terms & set(_terms(sentences[i]))), -i))
    quote = sentences[start]
    for sentence in sentences[start + 1 :]:
        if len(quote) + 1 + len(sentence) > _QUOTE_CHARS:
            break
        quote = f"{quote} {sentence}"
    return _shorten(quote, _QUOTE_CHARS)


def _quoted(text: str) -> str:
    """In double quotes; quotes inside become single ones, so that the nesting reads."""
    return f"“{text.translate(_INNER_QUOTES)}”"


def compose_offline_reply(messages: Sequence[ChatMessage], passages: Sequence[Passage], *, system: str = "") -> str:
    """The whole reply, as plain sentences (rendered as Markdown, so paragraphs are blank-line
    separated). Passages keep the numbers they have in the prompt. Pure and deterministic."""
    group_chat = GROUP_CHAT_RULE in system
    notes = "the notes shared with this lounge" if group_chat else "your notes"
    summoned = bool(messages) and messages[-1].role == "user" and messages[-1].content == CONVERSATION_CUE
    said = addressed(messages, group_chat=group_chat)
    if said is None:
        nobody = "Nobody has asked anything here yet" if summoned else "You have not asked a question yet"
        return f"Offline coach here. {nobody}: ask a question, and I will point you to what {notes} say about it.\n"
    if summoned:
        subject = "Picking up the last message" + (f", from {said.speaker}" if said.speaker else "")
    else:
        subject = "You asked"
    subject = f"{subject}: {_quoted(said.text)}"

    question_terms = set(_terms(said.text))
    quotes = [
        (number, passage, excerpt)
        for number, passage in enumerate(passages, start=1)
        if (excerpt := _excerpt(passage, question_terms))
    ][:MAX_PASSAGES]
    if not quotes:
        suggestion = "share a note about it with this lounge" if group_chat else "write a note about it"
        return (
            f"Offline coach here. {subject}\n\n"
            f"I found nothing in {notes} about that. Offline, I can only point to what the notes say: "
            f"{suggestion}, or ask a mentor.\n"
        )

    paragraphs = [f"Offline coach here: no AI model is connected, so I can only point you to {notes}. {subject}"]
    for number, passage, excerpt in quotes:
        title = _inline_plain(passage.title)
        source = f"From the note {_quoted(title)}" if title else "From a note"
        paragraphs.append(f"{source}: {excerpt} [{number}]")
    if len(quotes) > 1:
        closest = max(quotes, key=lambda q: (len(question_terms & set(_terms(q[1].title + " " + q[1].text))), -q[0]))
        paragraphs.append(f"The closest match is [{closest[0]}].")
    return "\n\n".join(paragraphs) + "\n"


class OfflineProvider:
    name = "offline"
    label = OFFLINE_LABEL
    default_model = OFFLINE_MODEL

    def stream(self, request: ChatRequest) -> Iterator[ProviderEvent]:
        reply = compose_offline_reply(request.messages, request.passages, system=request.system)
        pieces = _WORD.findall(reply)
        for piece in pieces:
            yield Delta(piece)
        yield Usage(tokens_in=estimate_tokens(prompt_text(request)), tokens_out=len(pieces))
        yield Finish("stop")
