"""Evaluating interview answers, grading sessions, and score overrides (docs/interviews.md
"Evaluation and reports").

- **Multiple choice** is scored exactly: 100 when the chosen ids are exactly the key, else 0.
- **Open, behavioural and system-design** answers get a rubric-anchored score 0-100, its band (from
  the question's `rubric_bands`), an explanation against that band, one tip, a correctness
  judgement, a sentiment and a confidence: from the organisation's provider for the `evaluation`
  feature, at temperature 0, as one JSON object validated by pydantic (`evaluation_prompts`). A
  malformed reply is asked again once; a second malformed reply, or a provider error (quota
  included), falls back to the offline evaluator. With the offline provider, the offline evaluator
  scores at once: rubric coverage (the reference answer's and the top band's terms found in the
  answer), deterministic, every result `offline=True` and its explanation saying so.
- **Consistency by construction:** every score is stored as an `Evaluation` under (sha256 of the
  normalised answer, question, rubric version, prompt version, model). The same key reuses the
  stored row, so the provider is asked once per key; a new rubric version (or prompt, or model)
  scores again.
- **An empty answer** scores 0 without asking anyone.

`session_grade` grades a finished session (submitted or expired) once: it scores every question the
session asked (a question never answered counts as an empty answer), publishes `answer.scored` on
the session's stream as each one is scored, writes the `SessionReport`, sets the session `graded`
and publishes `session.graded`. Running it again changes nothing. `score_override` lets a watcher
(a mentor of the organisation, or the assignment's reviewer) replace one answer's score with a
reason: audited, the report recomputed, `answer.scored` and `report.updated` published.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.translation import gettext

from domains.accounts.models import Organisation, User
from domains.ai.providers import AIError, ChatOptions
from domains.ai.selectors import ai_feature_settings
from domains.ai.services import chat_complete, provider_for
from domains.common.errors import Refusal
from domains.common.limits import hourly_allowance_take
from domains.common.validation import is_storable
from domains.compliance.services import audit_record
from domains.interviews import rules, selectors
from domains.interviews.evaluation_prompts import PROMPT_VERSION, RETRY_NOTE, SYSTEM, parse_verdict, user_prompt
from domains.interviews.events import AnswerScored, AnswerScoredPayload, ReportPayload, ReportUpdated, SessionGraded
from domains.interviews.followups import followup_evaluated
from domains.interviews.models import (
    Answer,
    Evaluation,
    FollowUp,
    InterviewSession,
    Question,
    QuestionType,
    ScoreOverride,
    SessionReport,
    SessionState,
)
from realtime.publish import publish_on_commit
from realtime.streams import interview_session_stream

log = structlog.get_logger(__name__)

AI_FEATURE = "evaluation"
# The `model` part of the key for scores no model gave.
EXACT_MODEL = "exact:multiple-choice"
EMPTY_MODEL = "rule:empty-answer"
OFFLINE_MODEL = "offline:rubric-coverage-v1"
OFFLINE_CONFIDENCE = 0.3
REASON_MAX = 300
DIMENSIONS = ("technical", "communication", "problem_solving")

# How each question type counts towards the three dimension scores (a weighted mean of the answers'
# scores); a question tagged with a topic in TOPIC_DIMENSIONS counts fully towards that dimension.
TYPE_WEIGHTS: dict[str, dict[str, float]] = {
    QuestionType.MULTIPLE_CHOICE: {"technical": 1.0},
    QuestionType.OPEN: {"technical": 1.0, "communication": 0.5, "problem_solving": 0.5},
    QuestionType.BEHAVIOURAL: {"communication": 1.0, "problem_solving": 0.5},
    QuestionType.SYSTEM_DESIGN: {"problem_solving": 1.0, "technical": 0.5, "communication": 0.5},
}
TOPIC_DIMENSIONS = {
    "communication": "communication",
    "collaboration": "communication",
    "star-method": "communication",
    "problem-solving": "problem_solving",
    "debugging": "problem_solving",
    "performance": "problem_solving",
    "scalability": "problem_solving",
    "reliability": "problem_solving",
}


class EvaluationError(Refusal):
    """A refused evaluation action (a score override)."""


# ---------------------------------------------------------------- keys and bands
def normalise(text: str) -> str:
    """The answer as the key sees it: Unicode NFKC, whitespace collapsed, trimmed (case kept)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def answer_hash(
    *, question_type: str, text: str = "", choice_ids: Sequence[str] = (), followup: tuple[str, str] | None = None
) -> str:
    """sha256 of the normalised answer: the sorted, distinct choice ids for multiple choice; for a
    written answer with an answered follow-up (`followup` = (question, response)), the follow-up's
    question and response too, so a changed response scores again. Without one, the hash is the
    answer's alone (scores stored before follow-ups existed are still found)."""
    if question_type == QuestionType.MULTIPLE_CHOICE:
        material = "mc:" + ",".join(sorted({str(ident).strip() for ident in choice_ids}))
    else:
        material = "text:" + normalise(text)
        if followup is not None:
            material += "\nfollowup:" + normalise(followup[0]) + "\nresponse:" + normalise(followup[1])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


_STANDARD_BANDS = (("strong", 80), ("good", 60), ("developing", 40), ("weak", 0))


def band_for(bands: Sequence[Mapping[str, Any]], score: int) -> str:
    """The name of the band whose range holds `score` (the highest such band); bands with gaps give
    the nearest band below; no bands: the standard four."""
    usable = [band for band in bands if isinstance(band, Mapping) and "band" in band]
    for band in sorted(usable, key=lambda b: -int(b.get("min", 0))):
        if int(band.get("min", 0)) <= score <= int(band.get("max", 100)):
            return str(band["band"])
    below = [band for band in usable if int(band.get("min", 0)) <= score]
    if below:
        return str(max(below, key=lambda b: int(b.get("min", 0)))["band"])
    if usable:
        return str(min(usable, key=lambda b: int(b.get("min", 0)))["band"])
    return next(name for name, floor in _STANDARD_BANDS if score >= floor)


def _lowest_band(bands: Sequence[Mapping[str, Any]]) -> str:
    return band_for(bands, 0)


# ---------------------------------------------------------------- the offline evaluator
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "again",
        "against",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "because",
        "been",
        "before",
        "being",
        "below",
        "between",
        "both",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "doing",
        "down",
        "during",
        "each",
        "else",
        "etc",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "having",
        "he",
        "her",
        "here",
        "hers",
        "him",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "itself",
        "just",
        "me",
        "more",
        "most",
        "my",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "off",
        "on",
        "once",
        "one",
        "only",
        "or",
        "other",
        "our",
        "ours",
        "out",
        "over",
        "own",
        "same",
        "she",
        "should",
        "so",
        "some",
        "such",
        "than",
        "that",
        "the",
        "their",
        "theirs",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "until",
        "up",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yours",
        "explain",
        "explains",
        "explained",
        "mention",
        "mentions",
        "answer",
        "answers",
        "example",
        "examples",
        "give",
        "gives",
        "says",
        "say",
        "uses",
        "use",
        "used",
        "using",
        "such",
        "e.g",
        "i.e",
        "plus",
        "them",
        "per",
        "via",
    ]
)
_SUFFIXES = ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "ly", "s")
_POSITIVE = frozenset(
    [
        "achieved",
        "agreed",
        "appreciated",
        "better",
        "calm",
        "confident",
        "delivered",
        "enjoyed",
        "excited",
        "glad",
        "good",
        "great",
        "happy",
        "helped",
        "improved",
        "improving",
        "learned",
        "learnt",
        "love",
        "pleased",
        "proud",
        "resolved",
        "solved",
        "success",
        "successful",
        "succeeded",
        "thankful",
        "thanks",
        "worked",
    ]
)
_NEGATIVE = frozenset(
    [
        "angry",
        "annoyed",
        "awful",
        "bad",
        "blame",
        "blamed",
        "boring",
        "fail",
        "failed",
        "failure",
        "frustrated",
        "frustrating",
        "hate",
        "hated",
        "horrible",
        "hopeless",
        "incompetent",
        "lazy",
        "stupid",
        "terrible",
        "useless",
        "unfair",
        "upset",
        "worse",
        "worst",
    ]
)


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    """The content words of `text`, case-folded and lightly stemmed (3 letters or more, no stopwords)."""
    return {_stem(word) for word in _WORD.findall(text.casefold()) if len(word) >= 3 and word not in _STOPWORDS}


def offline_sentiment(text: str) -> str:
    """positive / neutral / negative from a small word list (no model)."""
    words = list(_WORD.findall(text.casefold()))
    balance = sum(word in _POSITIVE for word in words) - sum(word in _NEGATIVE for word in words)
    return "positive" if balance > 0 else "negative" if balance < 0 else "neutral"


def _key_terms(question: Question) -> set[str]:
    top = max(
        (band for band in question.rubric_bands if isinstance(band, Mapping)),
        key=lambda band: int(band.get("max", 0)),
        default=None,
    )
    descriptor = str(top.get("descriptor", "")) if top else ""
    return terms(question.reference_answer) | terms(descriptor)


_TIPS: dict[str, str] = {
    QuestionType.OPEN: "state the idea precisely, then add a concrete example and the trade-off it involves",
    QuestionType.BEHAVIOURAL: (
        "tell it as situation, task, action and result: your own actions, a measurable result and what you learned"
    ),
    QuestionType.SYSTEM_DESIGN: (
        "start from the requirements, estimate the load, then name the failure modes and the trade-offs you chose"
    ),
}


def _tip(question: Question, *, strong: bool) -> str:
    topics = ", ".join(topic.replace("-", " ") for topic in question.topics[:3])
    how = _TIPS.get(question.question_type, _TIPS[QuestionType.OPEN])
    if strong:
        return gettext("Keep it up: to stay in the top band, %(how)s.") % {"how": how}
    if topics:
        return gettext("Revisit %(topics)s; in your answer, %(how)s.") % {"topics": topics, "how": how}
    return gettext("In your answer, %(how)s.") % {"how": how}


def offline_evaluate(*, question: Question, text: str) -> dict[str, Any]:
    """Score `text` by rubric coverage: the share of the key terms (the reference answer's and the
    top band descriptor's) found in it, where covering INTERVIEWS_OFFLINE_FULL_COVERAGE of them
    scores 100. Deterministic; no model, no network. Returns the Evaluation's fields."""
    key = _key_terms(question)
    found = terms(text) & key
    full = max(0.05, float(settings.INTERVIEWS_OFFLINE_FULL_COVERAGE))
    coverage = len(found) / len(key) if key else 0.0
    score = round(100 * min(1.0, coverage / full)) if key else 0
    band = band_for(question.rubric_bands, score)
    top = band_for(question.rubric_bands, 100)
    explanation = gettext(
        "Offline evaluator (rubric coverage, no model): your answer covers %(found)d of the %(total)d key "
        "points the rubric looks for, which places it in the “%(band)s” band. It counts what you covered, "
        "not whether your reasoning holds, so treat the score as indicative."
    ) % {"found": len(found), "total": len(key), "band": band}
    return {
        "score": score,
        "band": band,
        "explanation": explanation,
        "tip": _tip(question, strong=band == top),
        "correct": score >= 60,
        "sentiment": offline_sentiment(text),
        "confidence": OFFLINE_CONFIDENCE,
        "offline": True,
    }


# ---------------------------------------------------------------- scoring one answer
@dataclass(frozen=True)
class _Key:
    answer_hash: str
    question: Question
    rubric_version: int
    model: str

    def lookup(self) -> Evaluation | None:
        return Evaluation.objects.filter(
            answer_hash=self.answer_hash,
            question=self.question,
            rubric_version=self.rubric_version,
            prompt_version=PROMPT_VERSION,
            model=self.model,
        ).first()

    def store(self, fields: Mapping[str, Any]) -> Evaluation:
        """Create the row, or return the one a concurrent grader stored under the same key."""
        try:
            with transaction.atomic():
                return Evaluation.objects.create(
                    answer_hash=self.answer_hash,
                    question=self.question,
                    rubric_version=self.rubric_version,
                    prompt_version=PROMPT_VERSION,
                    model=self.model,
                    **fields,
                )
        except IntegrityError:
            stored = self.lookup()
            if stored is None:
                raise
            return stored


def _choice_tip(question: Question, *, correct: bool) -> str:
    if correct:
        return ""
    topics = ", ".join(topic.replace("-", " ") for topic in question.topics[:3])
    if topics:
        return gettext("Revisit %(topics)s, then read every option before choosing.") % {"topics": topics}
    return gettext("Read every option before choosing: some questions have more than one correct option.")


def _exact(question: Question, choice_ids: Sequence[str]) -> dict[str, Any]:
    chosen = {str(ident) for ident in choice_ids}
    correct = bool(question.answer_key) and chosen == set(question.answer_key)
    score = 100 if correct else 0
    if correct:
        explanation = gettext("You chose exactly the correct option(s).")
    elif not chosen:
        explanation = gettext("You did not choose an option.")
    else:
        explanation = gettext("Your choice is not the correct one, or not all of the correct options.")
    return {
        "score": score,
        "band": band_for(question.rubric_bands, score),
        "explanation": explanation,
        "tip": _choice_tip(question, correct=correct),
        "correct": correct,
        "sentiment": "",
        "confidence": 1.0,
        "offline": False,
    }


def _empty(question: Question) -> dict[str, Any]:
    return {
        "score": 0,
        "band": _lowest_band(question.rubric_bands),
        "explanation": gettext("No answer was given, so it scores 0."),
        "tip": _tip(question, strong=False),
        "correct": False,
        "sentiment": "",
        "confidence": 1.0,
        "offline": False,
    }


def _model_name(organisation: Organisation | None) -> tuple[Any, str]:
    provider = provider_for(organisation=organisation, feature=AI_FEATURE)
    model = ai_feature_settings(organisation=organisation, feature=AI_FEATURE).model or provider.default_model
    return provider, model


def _ask_model(
    *,
    question: Question,
    text: str,
    template_rubric: str,
    organisation: Organisation | None,
    user: User | None,
    provider: Any,
    model: str,
    followup: tuple[str, str] | None = None,
) -> dict[str, Any] | None:
    """The model's verdict as the Evaluation's fields, or None: malformed twice, or the provider failed."""
    messages: list[dict[str, str]] = [
        {
            "role": "user",
            "content": user_prompt(
                question_type=question.get_question_type_display(),
                prompt=question.prompt,
                template_rubric=template_rubric,
                reference_answer=question.reference_answer,
                bands=question.rubric_bands,
                answer=text,
                followup=followup,
            ),
        }
    ]
    options = ChatOptions(model=model, temperature=0.0, max_tokens=int(settings.INTERVIEWS_EVALUATION_MAX_TOKENS))
    for attempt in (1, 2):
        try:
            result = chat_complete(
                organisation=organisation,
                user=user,
                feature=AI_FEATURE,
                system=SYSTEM,
                messages=messages,
                options=options,
                provider=provider,
            )
        except AIError as error:
            log.warning("interview_evaluation_provider_failed", question=question.pk, error=type(error).__name__)
            return None
        verdict = parse_verdict(result.text, bands=question.rubric_bands)
        if verdict is not None:
            return {
                "score": verdict.score,
                "band": verdict.band,
                "explanation": verdict.explanation.strip(),
                "tip": verdict.tip.strip(),
                "correct": verdict.correct,
                "sentiment": verdict.sentiment,
                "confidence": round(verdict.confidence, 3),
                "offline": False,
            }
        log.warning("interview_evaluation_malformed", question=question.pk, attempt=attempt)
        messages = [
            *messages,
            {"role": "assistant", "content": result.text or "-"},
            {"role": "user", "content": RETRY_NOTE},
        ]
    return None


def answer_evaluate(
    *,
    question: Question,
    rubric_version: int,
    text: str = "",
    choice_ids: Sequence[str] = (),
    organisation: Organisation | None = None,
    user: User | None = None,
    template_rubric: str | None = None,
    followup: tuple[str, str] | None = None,
) -> Evaluation:
    """The stored score of this answer to `question` under `rubric_version`: reused when its key is
    stored, else scored now and stored (see the module's docstring). `user` is whose AI quota the
    model call takes (the candidate). `followup` is the interviewer's follow-up question and the
    candidate's response (written answers only): scored with the answer, and part of its hash."""
    if question.question_type == QuestionType.MULTIPLE_CHOICE:
        followup = None
    digest = answer_hash(question_type=question.question_type, text=text, choice_ids=choice_ids, followup=followup)
    if question.question_type == QuestionType.MULTIPLE_CHOICE:
        key = _Key(digest, question, rubric_version, EXACT_MODEL)
        return key.lookup() or key.store(_exact(question, choice_ids))
    if not normalise(text) and followup is None:
        key = _Key(digest, question, rubric_version, EMPTY_MODEL)
        return key.lookup() or key.store(_empty(question))
    provider, model = _model_name(organisation)
    offline_key = _Key(digest, question, rubric_version, OFFLINE_MODEL)
    # The offline evaluator counts the key points covered in the answer and the response together.
    covered = text if followup is None else f"{text}\n{followup[1]}"
    if provider.name == "offline":
        return offline_key.lookup() or offline_key.store(offline_evaluate(question=question, text=covered))
    key = _Key(digest, question, rubric_version, f"{provider.name}:{model}"[:80])
    stored = key.lookup()
    if stored is not None:
        return stored
    fields = _ask_model(
        question=question,
        text=text,
        template_rubric=template_rubric if template_rubric is not None else question.template.rubric,
        organisation=organisation,
        user=user,
        provider=provider,
        model=model,
        followup=followup,
    )
    if fields is not None:
        return key.store(fields)
    log.info("interview_evaluation_offline_fallback", question=question.pk)
    return offline_key.lookup() or offline_key.store(offline_evaluate(question=question, text=covered))


# ---------------------------------------------------------------- the report
@dataclass(frozen=True)
class Scored:
    """One answer as the report counts it: the override's score where a reviewer set one."""

    answer: Answer
    evaluation: Evaluation
    override: ScoreOverride | None

    @property
    def score(self) -> int:
        return self.override.score if self.override is not None else self.evaluation.score

    @property
    def band(self) -> str:
        if self.override is None:
            return self.evaluation.band
        return band_for(self.answer.question.rubric_bands, self.override.score)

    @property
    def confidence(self) -> float:
        return 1.0 if self.override is not None else self.evaluation.confidence

    @property
    def offline(self) -> bool:
        return self.override is None and self.evaluation.offline


def _scored(session: InterviewSession) -> list[Scored]:
    answers = (
        Answer.objects.filter(session=session, evaluation__isnull=False)
        .select_related("question", "evaluation")
        .prefetch_related("overrides")
        .order_by("question__position")
    )
    rows = []
    for answer in answers:
        if answer.evaluation is None:
            continue
        overrides = sorted(answer.overrides.all(), key=lambda row: (row.created_at, row.pk))
        rows.append(Scored(answer=answer, evaluation=answer.evaluation, override=overrides[-1] if overrides else None))
    return rows


def _weights(question: Question) -> dict[str, float]:
    weights = dict(TYPE_WEIGHTS.get(question.question_type, {"technical": 1.0}))
    for topic in question.topics:
        dimension = TOPIC_DIMENSIONS.get(topic)
        if dimension:
            weights[dimension] = 1.0
    return weights


def report_figures(scored: Sequence[Scored]) -> dict[str, Any]:
    """The report's numbers and words from the scored answers (pure: no queries)."""
    if not scored:
        return {
            "overall": 0,
            "technical": None,
            "communication": None,
            "problem_solving": None,
            "confidence": 0.0,
            "readiness": "not_ready",
            "reasons": [gettext("No question was answered.")],
            "study_topics": [],
            "offline": False,
        }
    overall = round(sum(row.score for row in scored) / len(scored))
    dimensions: dict[str, int | None] = {}
    for dimension in DIMENSIONS:
        pairs = [(row.score, _weights(row.answer.question).get(dimension, 0.0)) for row in scored]
        total = sum(weight for _, weight in pairs)
        dimensions[dimension] = round(sum(score * weight for score, weight in pairs) / total) if total else None
    confidence = round(sum(row.confidence for row in scored) / len(scored), 2)
    by_topic: dict[str, list[int]] = defaultdict(list)
    for row in scored:
        for topic in row.answer.question.topics:
            by_topic[topic].append(row.score)
    averages = {topic: sum(values) / len(values) for topic, values in by_topic.items()}
    strong = int(settings.INTERVIEWS_STUDY_TOPIC_BELOW)
    study = sorted((topic for topic, mean in averages.items() if mean < strong), key=lambda t: (averages[t], t))
    ready, almost, floor = (
        int(settings.INTERVIEWS_READY_SCORE),
        int(settings.INTERVIEWS_ALMOST_READY_SCORE),
        int(settings.INTERVIEWS_DIMENSION_FLOOR),
    )
    labels = {
        "technical": gettext("Technical"),
        "communication": gettext("Communication"),
        "problem_solving": gettext("Problem solving"),
    }
    figures = {"overall": overall, "ready": ready, "almost": almost}
    weak = [name for name in DIMENSIONS if dimensions[name] is not None and int(dimensions[name] or 0) < floor]
    reasons: list[str] = []
    if overall >= ready and not weak:
        readiness = "ready"
        reasons.append(gettext("Overall %(overall)d reaches the ready mark of %(ready)d.") % figures)
    elif overall >= almost:
        readiness = "almost_ready"
        if overall < ready:
            reasons.append(gettext("Overall %(overall)d is below the ready mark of %(ready)d.") % figures)
    else:
        readiness = "not_ready"
        reasons.append(gettext("Overall %(overall)d is below %(almost)d.") % figures)
    for name in weak:
        reasons.append(
            gettext("%(dimension)s %(score)d is below %(floor)d.")
            % {"dimension": labels[name], "score": dimensions[name], "floor": floor}
        )
    assessed = [name for name in DIMENSIONS if dimensions[name] is not None]
    if assessed:
        best = max(assessed, key=lambda name: (dimensions[name] or 0, name))
        reasons.append(
            gettext("Strongest: %(dimension)s (%(score)d).") % {"dimension": labels[best], "score": dimensions[best]}
        )
    empty = sum(1 for row in scored if row.evaluation.model == EMPTY_MODEL and row.override is None)
    if empty:
        counts = {"count": empty, "total": len(scored)}
        reasons.append(gettext("%(count)d of %(total)d questions had no answer.") % counts)
    offline = sum(1 for row in scored if row.offline)
    if offline:
        reasons.append(
            gettext(
                "%(count)d of %(total)d answers were scored by the offline evaluator (rubric coverage, no model): "
                "treat those scores as indicative."
            )
            % {"count": offline, "total": len(scored)}
        )
    return {
        "overall": overall,
        **dimensions,
        "confidence": confidence,
        "readiness": readiness,
        "reasons": reasons,
        "study_topics": study[: int(settings.INTERVIEWS_STUDY_TOPICS_MAX)],
        "offline": offline > 0,
    }


def _report_write(session: InterviewSession) -> SessionReport:
    figures = report_figures(_scored(session))
    report, _ = SessionReport.objects.update_or_create(session=session, defaults=figures)
    return report


def report_payload(report: SessionReport) -> ReportPayload:
    return ReportPayload(
        overall=report.overall,
        technical=report.technical,
        communication=report.communication,
        problem_solving=report.problem_solving,
        confidence=report.confidence,
        readiness=report.readiness,  # type: ignore[typeddict-item]
        reasons=[str(reason) for reason in report.reasons],
        study_topics=list(report.study_topics),
        offline=report.offline,
    )


def scored_payload(row: Scored) -> AnswerScoredPayload:
    """One scored answer, candidate-safe: the score, band, explanation and tip; never the reference
    answer, the key or the band descriptors."""
    return AnswerScoredPayload(
        answer_id=row.answer.pk,
        question_id=row.answer.question_id,
        position=row.answer.question.position,
        score=row.score,
        band=row.band,
        correct=row.evaluation.correct,
        explanation=row.evaluation.explanation,
        tip=row.evaluation.tip,
        offline=row.offline,
        overridden=row.override is not None,
        override_reason=row.override.reason if row.override is not None else "",
    )


# ---------------------------------------------------------------- grading a session
def _answer_grade(*, session: InterviewSession, answer_id: int) -> None:
    """Score one answer (locked, so two graders never score it twice) and publish `answer.scored`;
    an answer already graded under the session's rubric version is left alone."""
    with transaction.atomic():
        answer = (
            Answer.objects.select_for_update(of=("self",)).select_related("question", "evaluation").get(pk=answer_id)
        )
        question = answer.question
        followup = (
            followup_evaluated(list(FollowUp.objects.filter(answer=answer)))
            if question.question_type != QuestionType.MULTIPLE_CHOICE
            else None
        )
        digest = answer_hash(
            question_type=question.question_type, text=answer.text, choice_ids=answer.choice_ids, followup=followup
        )
        current = answer.evaluation
        if current is not None and current.answer_hash == digest and current.rubric_version == session.rubric_version:
            return
        evaluation = answer_evaluate(
            question=question,
            rubric_version=session.rubric_version,
            text=answer.text,
            choice_ids=answer.choice_ids,
            organisation=session.organisation,
            user=session.candidate,
            template_rubric=session.template.rubric,
            followup=followup,
        )
        answer.evaluation = evaluation
        answer.save(update_fields=["evaluation", "updated_at"])
        row = Scored(answer=answer, evaluation=evaluation, override=None)
        publish_on_commit(
            interview_session_stream(session.pk),
            AnswerScored(type="answer.scored", session_id=session.pk, answer=scored_payload(row)),
        )


def session_grade(*, session_id: int) -> SessionReport | None:
    """Grade a finished session (see the module's docstring). None for a missing session or one
    still in progress; a graded session returns its report and changes nothing."""
    session = (
        InterviewSession.objects.select_related("template", "organisation", "candidate").filter(pk=session_id).first()
    )
    if session is None or session.state == SessionState.IN_PROGRESS:
        return None
    if session.state == SessionState.GRADED:
        return SessionReport.objects.filter(session=session).first()
    asked = selectors.session_questions(session=session)
    existing = set(Answer.objects.filter(session=session).values_list("question_id", flat=True))
    for question in asked:
        if question.pk not in existing:
            Answer.objects.get_or_create(session=session, question=question)
    for answer_id in Answer.objects.filter(session=session).order_by("question__position").values_list("pk", flat=True):
        _answer_grade(session=session, answer_id=answer_id)
    with transaction.atomic():
        locked = InterviewSession.objects.select_for_update().get(pk=session.pk)
        if locked.state == SessionState.GRADED:
            return SessionReport.objects.filter(session=locked).first()
        report = _report_write(locked)
        locked.state = SessionState.GRADED
        locked.save(update_fields=["state", "updated_at"])
        publish_on_commit(
            interview_session_stream(locked.pk),
            SessionGraded(type="session.graded", session_id=locked.pk, report=report_payload(report)),
        )
    log.info("interview_session_graded", session=session.pk, overall=report.overall, offline=report.offline)
    return report


# ---------------------------------------------------------------- overrides
def _override_check(score: Any, reason: Any) -> tuple[int, str]:
    errors: dict[str, list[str]] = {}
    if type(score) is not int or not 0 <= score <= 100:
        errors["score"] = [gettext("Give a whole score from 0 to 100.")]
    text = " ".join(str(reason).split()) if isinstance(reason, str) else ""
    if not text:
        errors["reason"] = [gettext("Say why you change the score.")]
    elif len(text) > REASON_MAX or not is_storable(text):
        errors["reason"] = [gettext("Keep the reason under %(max)d plain characters.") % {"max": REASON_MAX}]
    if errors:
        raise EvaluationError("invalid", gettext("Some fields are invalid."), fields=errors)
    return int(score), text


def _override_rate(*, user: User) -> None:
    hourly_allowance_take(
        key=f"interviews:override:{user.pk}",
        per_hour=float(settings.INTERVIEWS_OVERRIDES_PER_HOUR),
        message=gettext("You changed many scores recently; please try again later."),
        refusal=EvaluationError,
    )


def score_override(
    *,
    user: User,
    answer_id: int,
    score: Any,
    reason: Any,
    session_id: int | None = None,
    request: HttpRequest | None = None,
) -> SessionReport:
    """A watcher of the session (a mentor of its organisation, or its assignment's reviewer) sets
    one answer's score, with a reason. The session must be graded. Audited
    `interview.score_overridden`; the report is recomputed; `answer.scored` (overridden) and
    `report.updated` are published. An answer the user may not review (or not of `session_id`, when
    given) is 404, like a missing one. Limited per person and hour (INTERVIEWS_OVERRIDES_PER_HOUR)."""
    value, text = _override_check(score, reason)
    _override_rate(user=user)
    with transaction.atomic():
        answer = (
            Answer.objects.select_for_update(of=("self",))
            .select_related("question", "evaluation", "session__organisation", "session__assignment")
            .filter(pk=answer_id)
            .first()
        )
        if (
            answer is None
            or (session_id is not None and answer.session_id != session_id)
            or not rules.may_watch(user=user, session=answer.session)
        ):
            raise Http404("No such answer.")
        session = InterviewSession.objects.select_for_update().get(pk=answer.session_id)
        if session.state != SessionState.GRADED or answer.evaluation is None:
            raise EvaluationError("not_graded", gettext("This session is not graded yet: try again shortly."))
        before = next(iter(answer.overrides.order_by("-created_at", "-pk")), None)
        previous = before.score if before is not None else answer.evaluation.score
        override = ScoreOverride.objects.create(answer=answer, score=value, reason=text, overridden_by=user)
        audit_record(
            actor=user,
            organisation=session.organisation,
            action="interview.score_overridden",
            target=answer,
            details={
                "session": session.pk,
                "question": answer.question_id,
                "position": answer.question.position,
                "from": previous,
                "to": value,
                "reason": text,
            },
            request=request,
        )
        report = _report_write(session)
        stream = interview_session_stream(session.pk)
        row = Scored(answer=answer, evaluation=answer.evaluation, override=override)
        scored = AnswerScored(type="answer.scored", session_id=session.pk, answer=scored_payload(row))
        publish_on_commit(stream, scored)
        updated = ReportUpdated(type="report.updated", session_id=session.pk, report=report_payload(report))
        publish_on_commit(stream, updated)
    return report


# ---------------------------------------------------------------- reading a report
def grading_snapshot(session: InterviewSession) -> dict[str, Any] | None:
    """How far grading has got, for the socket's snapshot of a finished session (null while it is
    in progress): `total` questions asked, `scored` so far with each one's candidate-safe payload
    (as `answer.scored` carries it), and the `report` once graded (as `session.graded` carries it)."""
    if session.state == SessionState.IN_PROGRESS:
        return None
    rows = _scored(session)
    report = SessionReport.objects.filter(session=session).first() if session.state == SessionState.GRADED else None
    return {
        "total": len(selectors.session_questions(session=session)),
        "scored": len(rows),
        "answers": [scored_payload(row) for row in rows],
        "report": report_payload(report) if report is not None else None,
        "report_url": reverse("interviews:session_report", kwargs={"session_id": session.pk}),
    }


def feedback_for_user(*, user: User, organisation: Organisation | None, session_id: int) -> dict[str, Any]:
    """The session's feedback for its candidate, or for a watcher while the session's organisation
    is the one bound (anyone else: 404, like a missing id): the state, the report once graded, and
    each scored answer (score, band, explanation, tip). Candidate-safe for both: no reference
    answer, key or band descriptor."""
    session, is_candidate = selectors.session_get_for_user(user=user, session_id=session_id)
    if not is_candidate and (organisation is None or session.organisation_id != organisation.pk):
        raise Http404("No such interview session.")
    report = SessionReport.objects.filter(session=session).first() if session.state == SessionState.GRADED else None
    rows = _scored(session) if report is not None else []
    prompts = {row.answer.question_id: row.answer.question for row in rows}
    return {
        "session_id": session.pk,
        "state": session.state,
        "graded": report is not None,
        "viewer_is_candidate": is_candidate,
        "may_override": report is not None and rules.may_watch(user=user, session=session),
        "template_title": session.template.title,
        "candidate_name": session.candidate.display_name or session.candidate.email,
        "report": report_payload(report) if report is not None else None,
        "percentile": percentile(report) if report is not None else None,
        "answers": [
            {
                **scored_payload(row),
                "question_type": prompts[row.answer.question_id].question_type,
                "prompt": prompts[row.answer.question_id].prompt,
                "topics": list(prompts[row.answer.question_id].topics),
            }
            for row in rows
        ],
    }


def percentile(report: SessionReport) -> int | None:
    """The share (0-100) of the organisation's earlier graded sessions of the same template that
    scored below this one (ties count half); None until there are INTERVIEWS_PERCENTILE_MIN earlier."""
    session = report.session
    earlier = SessionReport.objects.filter(
        session__organisation_id=session.organisation_id,
        session__template_id=session.template_id,
        session__started_at__lt=session.started_at,
    ).values_list("overall", flat=True)
    scores = list(earlier)
    if len(scores) < int(settings.INTERVIEWS_PERCENTILE_MIN):
        return None
    below = sum(1 for value in scores if value < report.overall) + 0.5 * sum(1 for v in scores if v == report.overall)
    return round(100 * below / len(scores))


# ---------------------------------------------------------------- practice areas
_DIFFICULTIES = ("easy", "medium", "hard")


def _next_difficulty(current: int, difficulty: str) -> str:
    """One step up from a strong current score, one step down from a weak one, else the same."""
    index = _DIFFICULTIES.index(difficulty) if difficulty in _DIFFICULTIES else 0
    if current >= int(settings.INTERVIEWS_PRACTICE_STEP_UP):
        index = min(index + 1, len(_DIFFICULTIES) - 1)
    elif current < int(settings.INTERVIEWS_PRACTICE_STEP_DOWN):
        index = max(index - 1, 0)
    return _DIFFICULTIES[index]


def practice_areas_for_user(*, user: User) -> list[dict[str, Any]]:
    """The user's practice per topic, over their graded sessions (overrides included): attempts
    (graded sessions that asked about the topic), the best, average and current (latest session's)
    score, where a session's score on a topic is the mean of its answers tagged with it, total
    practice time (those sessions' start to finish, in seconds), last activity, and a recommended
    next difficulty. Topics by name. Two queries, whatever the number of sessions."""
    answers = (
        Answer.objects.filter(
            session__candidate_id=user.pk, session__state=SessionState.GRADED, evaluation__isnull=False
        )
        .select_related("question", "evaluation", "session__template")
        .prefetch_related("overrides")
        .order_by("session__started_at", "session_id", "question__position")
    )
    per_session: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    sessions: dict[int, InterviewSession] = {}
    for answer in answers:
        if answer.evaluation is None:
            continue
        overrides = sorted(answer.overrides.all(), key=lambda row: (row.created_at, row.pk))
        row = Scored(answer=answer, evaluation=answer.evaluation, override=overrides[-1] if overrides else None)
        sessions[answer.session_id] = answer.session
        for topic in answer.question.topics:
            per_session[topic][answer.session_id].append(row.score)
    areas = []
    for topic in sorted(per_session):
        by_session = per_session[topic]
        ordered = sorted(by_session, key=lambda pk: (sessions[pk].started_at, pk))
        scores = [round(sum(by_session[pk]) / len(by_session[pk])) for pk in ordered]
        latest = sessions[ordered[-1]]
        seconds = sum(
            max(0, int(((s.finished_at or s.deadline) - s.started_at).total_seconds()))
            for s in (sessions[pk] for pk in ordered)
        )
        areas.append(
            {
                "topic": topic,
                "attempts": len(ordered),
                "best": max(scores),
                "average": round(sum(scores) / len(scores)),
                "current": scores[-1],
                "practice_seconds": seconds,
                "last_activity": latest.finished_at or latest.deadline,
                "recommended_difficulty": _next_difficulty(scores[-1], latest.template.difficulty),
            }
        )
    return areas
