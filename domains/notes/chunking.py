"""Split a Markdown note into passages for retrieval.

The rules, in order:
1. The body is cut into blocks that tile it exactly: a heading line, a fenced code block (never
   split at a `#` inside it), or a paragraph with the blank lines after it.
2. A heading starts a new section; a chunk never spans two sections. Its heading path is the
   stack of headings above it, joined by PATH_SEPARATOR.
3. Blocks too big for the budget are cut at whitespace into windows; a single run of text with no
   whitespace that is still too big is cut by characters.
4. Within a section, blocks are packed greedily into chunks. Each chunk after the first in a
   section starts a little before the previous one ended (overlap), at a word boundary.

So the chunks' `[char_start, char_end)` spans cover the body from 0 to its end, in order, with
overlaps and no gaps, and every chunk's embedding input (`embed_input`) fits the embedder's limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domains.ai.embedders import InputLimit, estimate_pieces, fits

HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
PATH_SEPARATOR = " \u203a "  # a single right-pointing angle quotation mark
HEADING_PATH_MAX = 300


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    char_start: int
    char_end: int
    text: str
    heading_path: str


@dataclass
class _Block:
    start: int
    end: int
    path: str
    opens_section: bool  # a heading block, or the first block of the body


def embed_prefix(title: str, heading_path: str, limit: InputLimit) -> str:
    """What precedes a chunk's text in its embedding input: the title and heading path, cut to at
    most a quarter of the budget so that the text keeps the rest."""
    prefix = f"{title}{PATH_SEPARATOR}{heading_path}" if heading_path else title
    cap_chars = limit.max_chars // 4
    cap_pieces = limit.max_pieces // 4
    prefix = prefix[:cap_chars]
    while prefix and estimate_pieces(prefix) > cap_pieces:
        prefix = prefix[: max(0, len(prefix) - max(1, len(prefix) // 8))]
    return f"{prefix}\n\n" if prefix else ""


def embed_input(title: str, chunk: Chunk, limit: InputLimit) -> str:
    """The exact text an embedder reads for a chunk (also what its content hash covers)."""
    return embed_prefix(title, chunk.heading_path, limit) + chunk.text


def _text_budget(limit: InputLimit) -> InputLimit:
    # The prefix takes at most a quarter (see embed_prefix) plus the two newlines.
    return InputLimit(
        max_pieces=limit.max_pieces - limit.max_pieces // 4, max_chars=limit.max_chars - limit.max_chars // 4 - 2
    )


def _overlap_budget(limit: InputLimit) -> InputLimit:
    return InputLimit(max_pieces=max(1, limit.max_pieces // 6), max_chars=max(1, limit.max_chars // 6))


def _blocks(body: str) -> list[_Block]:
    blocks: list[_Block] = []
    stack: list[tuple[int, str]] = []
    fence: str | None = None
    paragraph_open = False
    position = 0

    def path() -> str:
        return PATH_SEPARATOR.join(text for _, text in stack)[:HEADING_PATH_MAX]

    for line in body.splitlines(keepends=True):
        start, position = position, position + len(line)
        stripped = line.strip()
        if fence is not None:
            blocks[-1].end = position
            if stripped.startswith(fence):
                fence = None
            continue
        fence_match = FENCE.match(line)
        heading = HEADING.match(line.rstrip("\r\n"))
        if fence_match:
            fence = fence_match.group(1)[0] * 3
            blocks.append(_Block(start, position, path(), opens_section=not blocks))
            paragraph_open = False
        elif heading:
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()[:80] or "#" * level))
            blocks.append(_Block(start, position, path(), opens_section=True))
            paragraph_open = False
        elif not stripped:
            if blocks:
                blocks[-1].end = position
            else:
                blocks.append(_Block(start, position, path(), opens_section=True))
            paragraph_open = False
        elif paragraph_open:
            blocks[-1].end = position
        else:
            blocks.append(_Block(start, position, path(), opens_section=not blocks))
            paragraph_open = True
    return blocks


def _split_span(body: str, start: int, end: int, budget: InputLimit) -> list[tuple[int, int]]:
    """Cut [start, end) into consecutive windows that each fit `budget`, at whitespace if possible."""
    if fits(body[start:end], budget):
        return [(start, end)]
    windows: list[tuple[int, int]] = []
    cursor = start
    tokens = [(m.start(), m.end()) for m in re.finditer(r"\S+\s*|\s+", body[start:end])]
    index = 0
    while index < len(tokens):
        token_start, token_end = tokens[index][0] + start, tokens[index][1] + start
        if not fits(body[cursor:token_end], budget):
            if cursor < token_start:
                windows.append((cursor, token_start))
                cursor = token_start
                continue
            # One token alone is too big: cut it by characters (every character costs at most one piece).
            step = max(1, min(budget.max_chars, budget.max_pieces))
            while token_end - cursor > step:
                windows.append((cursor, cursor + step))
                cursor += step
            if not fits(body[cursor:token_end], budget):  # pragma: no cover - guarded by the step above
                windows.append((cursor, token_end))
                cursor = token_end
        index += 1
    if cursor < end:
        windows.append((cursor, end))
    return windows


def _overlap_start(body: str, start: int, end: int, budget: InputLimit) -> int:
    """Where the next chunk starts so that it repeats the tail of [start, end): the earliest word
    boundary after `start` whose tail fits `budget`; `end` (no overlap) when none does."""
    best = end
    for match in reversed(list(re.finditer(r"(?<=\s)\S", body[start:end]))):
        candidate = start + match.start()
        if candidate <= start or not fits(body[candidate:end], budget):
            break
        best = candidate
    return best


def chunk_note(body: str, limit: InputLimit) -> list[Chunk]:
    """The chunks of `body` for an embedder with input limit `limit` (see the module docstring)."""
    if not body:
        return []
    text_budget = _text_budget(limit)
    overlap = _overlap_budget(limit)
    atom_budget = InputLimit(
        max_pieces=text_budget.max_pieces - overlap.max_pieces, max_chars=text_budget.max_chars - overlap.max_chars
    )
    # Atoms: blocks cut to fit, each remembering its section.
    atoms: list[tuple[int, int, str, bool]] = []
    for block in _blocks(body):
        for number, (start, end) in enumerate(_split_span(body, block.start, block.end, atom_budget)):
            atoms.append((start, end, block.path, block.opens_section and number == 0))

    spans: list[tuple[int, int, str]] = []
    current: list[int] = []  # [start, end] of the chunk being packed
    current_path = ""
    for start, end, path, opens_section in atoms:
        if current and not opens_section and fits(body[current[0] : end], text_budget):
            current[1] = end
            continue
        if current:
            spans.append((current[0], current[1], current_path))
            if not opens_section:
                # Same section: repeat the previous chunk's tail, which fits beside any atom.
                begin = _overlap_start(body, current[0], current[1], overlap)
                if not fits(body[begin:end], text_budget):  # the estimate is not always additive
                    begin = start
                current = [begin, end]
                current_path = path
                continue
        current = [start, end]
        current_path = path
    if current:
        spans.append((current[0], current[1], current_path))
    return [
        Chunk(ordinal=n, char_start=s, char_end=e, text=body[s:e], heading_path=p) for n, (s, e, p) in enumerate(spans)
    ]
