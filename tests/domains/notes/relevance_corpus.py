"""A small labelled corpus for the relevance floor: notes on distinct interview and study topics, and
queries marked relevant (with the note that should answer them), irrelevant (a topic no note covers)
or nonsense. `test_relevance.py` asserts on it with the `hashing` embedder; `bench/scenarios/relevance.py`
(S7) reports precision@3 for `hashing` and `minilm` side by side.

Relevant queries are phrased the way a learner asks, not copied from the notes: most share a word or
two with their note; those marked `paraphrase` share few or none, which mostly a semantic embedder finds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from domains.accounts.models import Organisation, User


@dataclass(frozen=True)
class CorpusNote:
    title: str
    body: str


@dataclass(frozen=True)
class CorpusQuery:
    text: str
    kind: Literal["relevant", "irrelevant", "nonsense"]
    note: str = ""  # the title of the note that should be found (relevant queries)
    paraphrase: bool = False  # few or no words in common with its note


NOTES = [
    CorpusNote(
        "STAR method",
        "# STAR method\n\nStructure behavioural answers in four parts.\n\n"
        "- **Situation**: set the scene in one or two sentences.\n"
        "- **Task**: what you were responsible for.\n"
        "- **Action**: what *you* did, step by step.\n"
        "- **Result**: the outcome, with a number if you can.\n",
    ),
    CorpusNote(
        "Salary negotiation",
        "# Salary negotiation\n\nNever name a figure first. Research the market range for the role, "
        "then anchor at the top of it. Negotiate the whole package: base pay, bonus, equity and holidays. "
        "Ask for the offer in writing before you accept.",
    ),
    CorpusNote(
        "Tell me about yourself",
        "# Tell me about yourself\n\nA ninety-second pitch: present, past, future. Start with your current "
        "role, mention two achievements from your past that fit this job, and finish with why you want it.",
    ),
    CorpusNote(
        "System design interviews",
        "# System design interviews\n\nClarify requirements first, then estimate scale: users, requests per "
        "second, storage. Sketch the components (load balancer, cache, database, queue) and discuss "
        "trade-offs such as consistency against availability, and where the bottlenecks are.",
    ),
    CorpusNote(
        "Spaced repetition",
        "# Spaced repetition\n\nReview flashcards at growing intervals: one day, three days, a week, a month. "
        "Anki schedules the reviews for you. Forgetting a little before each review makes memories last.",
    ),
    CorpusNote(
        "Pomodoro technique",
        "# Pomodoro technique\n\nWork for **25 minutes** with a timer, then take a 5-minute break. After four "
        "pomodoros take a longer break. Silence notifications while the timer runs.",
    ),
    CorpusNote(
        "Big-O cheat sheet",
        "# Big-O cheat sheet\n\n| operation | complexity |\n|---|---|\n| binary search | O(log n) |\n"
        "| sorting | O(n log n) |\n| hash lookup | O(1) |\n\nState time and space complexity of your algorithm "
        "before you code it.",
    ),
    CorpusNote(
        "CV writing",
        "# CV writing\n\nKeep your résumé to one page. Lead each bullet with a verb and a measurable result. "
        "Tailor the CV to the job advert's keywords and put your most recent experience first.",
    ),
    CorpusNote(
        "Handling rejection",
        "# Handling rejection\n\nAsk the recruiter for feedback, write down what went well, and apply again "
        "later. A rejection says little about your worth; keep a list of lessons for the next interview.",
    ),
    CorpusNote(
        "Questions to ask the interviewer",
        "# Questions to ask the interviewer\n\nPrepare three: what does success look like in the first "
        "ninety days, how does the team review code, and what is the biggest challenge this quarter.",
    ),
    CorpusNote(
        "Sleep before exams",
        "# Sleep before exams\n\nCramming all night hurts recall. Sleep seven to nine hours: memory "
        "consolidation happens during deep sleep. Revise lightly the evening before and stop screens early.",
    ),
    CorpusNote(
        "Two pointers pattern",
        "# Two pointers pattern\n\nFor sorted arrays, move a left and a right pointer towards each other to "
        "find pairs with a target sum in linear time. Also detects cycles in a linked list (fast and slow).",
    ),
    CorpusNote(
        "Remote interview setup",
        "# Remote interview setup\n\nTest your camera, microphone and internet connection the day before. "
        "Sit facing a window for light, close other apps, and keep water and a notepad nearby.",
    ),
]

QUERIES = [
    # relevant: a word or two in common with the note
    CorpusQuery("How should I structure a behavioural answer?", "relevant", "STAR method"),
    CorpusQuery("What does STAR stand for?", "relevant", "STAR method"),
    CorpusQuery("How do I negotiate a higher salary?", "relevant", "Salary negotiation"),
    CorpusQuery("How long should my pitch about myself be?", "relevant", "Tell me about yourself"),
    CorpusQuery("How do I start a system design question?", "relevant", "System design interviews"),
    CorpusQuery("How often should I review my flashcards?", "relevant", "Spaced repetition"),
    CorpusQuery("How long is one pomodoro?", "relevant", "Pomodoro technique"),
    CorpusQuery("What is the complexity of binary search?", "relevant", "Big-O cheat sheet"),
    CorpusQuery("How long should a CV be?", "relevant", "CV writing"),
    CorpusQuery("I got a rejection after my final round", "relevant", "Handling rejection"),
    CorpusQuery(
        "Which questions should I ask at the end of an interview?", "relevant", "Questions to ask the interviewer"
    ),
    CorpusQuery("How many hours of sleep before an exam?", "relevant", "Sleep before exams"),
    CorpusQuery("How do I find a pair with a given sum in a sorted array?", "relevant", "Two pointers pattern"),
    CorpusQuery("How do I check my microphone before a video interview?", "relevant", "Remote interview setup"),
    # relevant, but in other words: a semantic embedder's ground
    CorpusQuery("What pay should I ask for when they make me an offer?", "relevant", "Salary negotiation", True),
    CorpusQuery("I keep forgetting what I memorised", "relevant", "Spaced repetition", True),
    CorpusQuery("I can't concentrate when I study", "relevant", "Pomodoro technique", True),
    CorpusQuery("They turned me down, what now?", "relevant", "Handling rejection", True),
    # irrelevant: topics no note covers
    CorpusQuery("How do I bake sourdough bread?", "irrelevant"),
    CorpusQuery("What is the capital of Australia?", "irrelevant"),
    CorpusQuery("Fix a flat bicycle tyre", "irrelevant"),
    CorpusQuery("Recommend a hiking trail in the Alps", "irrelevant"),
    # nonsense
    CorpusQuery("zzzqqq", "nonsense"),
    CorpusQuery("asdfgh qwertz", "nonsense"),
    CorpusQuery("xq zv blorptang", "nonsense"),
    CorpusQuery("lkjhgf mnbvc", "nonsense"),
]


@dataclass
class Scores:
    """What one embedder achieved on the corpus."""

    embedder: str
    relevant: int = 0
    found_in_top3: int = 0  # relevant queries whose note is among the first 3 results
    paraphrases: int = 0
    paraphrases_found: int = 0
    irrelevant_answered: int = 0  # irrelevant queries that got any result
    nonsense_answered: int = 0  # nonsense queries that got any result
    misses: list[str] = field(default_factory=list)

    @property
    def precision_at_3(self) -> float:
        """The share of relevant queries whose note is in the top 3 (one right note per query)."""
        return self.found_in_top3 / self.relevant if self.relevant else 0.0


def corpus_load(*, organisation: Organisation, owner: User) -> None:
    """The corpus as `owner`'s private notes, embedded with the active embedder."""
    from domains.notes.models import Note
    from domains.notes.services import note_embed

    for item in NOTES:
        note = Note.objects.create(organisation=organisation, owner=owner, title=item.title, body=item.body)
        note_embed(note_id=note.pk)


def corpus_score(*, organisation: Organisation, user: User, embedder: str, k: int = 3) -> Scores:
    """Run every query as `user` (who reads the corpus) and count."""
    from domains.notes.retrieval import notes_search

    scores = Scores(embedder=embedder)
    for query in QUERIES:
        hits = notes_search(organisation=organisation, user=user, query=query.text, k=k)
        if query.kind == "relevant":
            found = query.note in [hit.title for hit in hits]
            scores.relevant += 1
            scores.found_in_top3 += found
            scores.paraphrases += query.paraphrase
            scores.paraphrases_found += found and query.paraphrase
            if not found:
                scores.misses.append(query.text)
        elif query.kind == "irrelevant":
            scores.irrelevant_answered += bool(hits)
        else:
            scores.nonsense_answered += bool(hits)
    return scores
