"""Evaluation: multiple choice scored exactly, the offline evaluator (rubric coverage, and saying
so), scores stored under (answer hash, rubric version, prompt version, model) and reused, a model's
malformed reply retried once then replaced by the offline evaluator, grading a session once, and
score overrides (audited, the report recomputed)."""

from __future__ import annotations

import json
import typing
from typing import Any

import pytest
from django.http import Http404

from domains.compliance.models import AuditEvent
from domains.interviews import evaluation
from domains.interviews.evaluation import EvaluationError
from domains.interviews.events import EvaluationEvent, ReadinessName
from domains.interviews.models import (
    Answer,
    Evaluation,
    Question,
    QuestionType,
    ScoreOverride,
    SessionReport,
    SessionState,
)
from realtime.streams import interview_session_stream
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_evaluation import finished_session, verdict
from tests.events import CapturedEvents, contract_mismatches, event_types
from tests.fakes import fixtures
from tests.fakes.llm_server import FakeLLMServer

pytestmark = pytest.mark.django_db

fake_llm_session = fixtures.fake_llm_session
fake_llm = fixtures.fake_llm


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _question(world: World, position: int) -> Question:
    return Question.objects.get(template=world.public, position=position)


def _provider(settings: Any, fake_llm: FakeLLMServer) -> None:
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    settings.AI_DEFAULT_PROVIDER = "openai"
    settings.AI_OPENAI_MODEL = "gpt-test"
    settings.AI_MAX_RETRIES = 0
    settings.AI_QUOTA_REQUESTS_PER_HOUR = 0
    settings.AI_QUOTA_TOKENS_PER_DAY = 0


# The public Python template: 1-3 multiple choice (keys b, b, a+c), 4-6 open.
OPEN = 4
GOOD_ANSWER = (
    "Processes have separate memory and give real CPU parallelism in CPython because of the GIL; threads "
    "share memory, are cheaper and suit I/O-bound work such as waiting on a database. A web service runs "
    "several worker processes, and threads or async inside them for I/O."
)


# ---------------------------------------------------------------- multiple choice
@pytest.mark.parametrize(
    ("position", "chosen", "score", "correct", "band"),
    [
        (1, ["b"], 100, True, "correct"),
        (1, ["a"], 0, False, "incorrect"),
        (1, ["b", "a"], 0, False, "incorrect"),
        (1, [], 0, False, "incorrect"),
        (3, ["c", "a"], 100, True, "correct"),
        (3, ["a"], 0, False, "incorrect"),
    ],
)
def test_multiple_choice_is_scored_exactly(
    world: World, position: int, chosen: list[str], score: int, correct: bool, band: str
) -> None:
    """Given a multiple-choice question, when an answer is evaluated, then it scores 100 only when
    the chosen ids are exactly the key (order aside), else 0, with full confidence and no model."""
    question = _question(world, position)

    result = evaluation.answer_evaluate(question=question, rubric_version=1, choice_ids=chosen)

    assert (result.score, result.correct, result.band, result.offline) == (score, correct, band, False)
    assert (result.model, result.confidence) == (evaluation.EXACT_MODEL, 1.0)


# ---------------------------------------------------------------- the offline evaluator
def test_the_offline_evaluator_scores_rubric_coverage_and_says_so(world: World) -> None:
    """Given no provider key (the offline evaluator), when a full answer and a thin one are
    evaluated, then the full one lands in the top band and the thin one in the bottom one; both are
    marked offline and their explanations say it is the offline evaluator; the same answer scores
    the same every time."""
    question = _question(world, OPEN)

    full = evaluation.answer_evaluate(
        question=question, rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )
    thin = evaluation.answer_evaluate(
        question=question, rubric_version=1, text="I am not sure.", organisation=world.organisation
    )

    assert (full.band, full.offline, full.model) == ("strong", True, evaluation.OFFLINE_MODEL)
    assert full.score >= 80
    assert (thin.band, thin.offline) == ("weak", True)
    assert thin.score < 40
    assert all("Offline evaluator (rubric coverage, no model)" in row.explanation for row in (full, thin))
    assert evaluation.offline_evaluate(question=question, text=GOOD_ANSWER)["score"] == full.score


def test_an_empty_answer_scores_zero_without_any_evaluator(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given an answer of only whitespace, when it is evaluated, then it scores 0 in the lowest band
    and neither the offline evaluator nor a model is asked."""
    monkeypatch.setattr(evaluation, "offline_evaluate", _never)
    monkeypatch.setattr(evaluation, "_ask_model", _never)

    result = evaluation.answer_evaluate(question=_question(world, OPEN), rubric_version=1, text="  \n ")

    assert (result.score, result.band, result.correct, result.model) == (0, "weak", False, evaluation.EMPTY_MODEL)


def _never(**kwargs: Any) -> Any:
    raise AssertionError("must not be called")


# ---------------------------------------------------------------- consistency by construction
def test_the_same_key_returns_the_stored_score_without_asking_the_provider_again(
    world: World, settings: Any, fake_llm: FakeLLMServer
) -> None:
    """Given a model provider (the fake server) that scores an answer once, when the same answer is
    evaluated again (with different spacing: the hash is of the normalised answer), then the stored
    Evaluation is returned and the provider gets no second request; the one request ran at
    temperature 0 with the answer inside its untrusted block."""
    _provider(settings, fake_llm)
    fake_llm.queue({"text": verdict()})
    question = _question(world, OPEN)

    first = evaluation.answer_evaluate(
        question=question, rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )
    again = evaluation.answer_evaluate(
        question=question,
        rubric_version=1,
        text="  " + GOOD_ANSWER.replace(" ", "\n  ", 3),
        organisation=world.organisation,
    )

    assert again.pk == first.pk
    assert (first.score, first.band, first.offline, first.model) == (72, "good", False, "openai:gpt-test")
    assert (first.prompt_version, first.sentiment, first.confidence) == ("eval-v1", "neutral", 0.8)
    assert fake_llm.request_count == 1
    [request] = fake_llm.requests
    assert request.body["temperature"] == 0
    prompt = json.dumps(request.body["messages"])
    assert "<<<candidate-answer>>>" in prompt
    assert Evaluation.objects.count() == 1


def test_a_new_rubric_version_scores_again(world: World, settings: Any, fake_llm: FakeLLMServer) -> None:
    """Given an answer stored under rubric version 1, when it is evaluated under version 2, then the
    provider is asked again and a second Evaluation is stored; version 1's stays as it was."""
    _provider(settings, fake_llm)
    fake_llm.queue({"text": verdict(score=72, band="good")}, {"text": verdict(score=45, band="developing")})
    question = _question(world, OPEN)

    old = evaluation.answer_evaluate(
        question=question, rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )
    new = evaluation.answer_evaluate(
        question=question, rubric_version=2, text=GOOD_ANSWER, organisation=world.organisation
    )

    assert fake_llm.request_count == 2
    assert new.pk != old.pk
    assert [(row.rubric_version, row.score) for row in Evaluation.objects.order_by("rubric_version")] == [
        (1, 72),
        (2, 45),
    ]


def test_a_malformed_reply_is_asked_again_once(world: World, settings: Any, fake_llm: FakeLLMServer) -> None:
    """Given a model that first answers prose, then a valid verdict, when an answer is evaluated,
    then the second request carries the retry note and the model's verdict is stored."""
    _provider(settings, fake_llm)
    fake_llm.queue(
        {"text": "I think this answer is quite good!"},
        {"text": "```json\n" + verdict(score=81, band="strong") + "\n```"},
    )

    result = evaluation.answer_evaluate(
        question=_question(world, OPEN), rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )

    assert (result.score, result.band, result.offline) == (81, "strong", False)
    assert fake_llm.request_count == 2
    assert "could not be read" in json.dumps(fake_llm.requests[1].body["messages"])


@pytest.mark.parametrize(
    "second",
    [
        verdict(score=95, band="weak"),  # a score outside the band it names
        verdict(band="excellent"),  # a band the question does not have
        verdict(score=72.5),  # not a whole score
        json.dumps({"score": 72, "band": "good"}),  # fields missing
    ],
)
def test_a_second_malformed_reply_falls_back_to_the_offline_evaluator(
    world: World, settings: Any, fake_llm: FakeLLMServer, second: str
) -> None:
    """Given a model whose two replies are both malformed, when an answer is evaluated, then exactly
    two requests were made and the offline evaluator's score is stored, marked offline."""
    _provider(settings, fake_llm)
    fake_llm.queue({"text": "not json"}, {"text": second})
    question = _question(world, OPEN)

    result = evaluation.answer_evaluate(
        question=question, rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )

    assert fake_llm.request_count == 2
    assert (result.offline, result.model) == (True, evaluation.OFFLINE_MODEL)
    assert result.score == evaluation.offline_evaluate(question=question, text=GOOD_ANSWER)["score"]


def test_a_provider_error_falls_back_to_the_offline_evaluator(
    world: World, settings: Any, fake_llm: FakeLLMServer
) -> None:
    """Given a provider answering 500, when an answer is evaluated, then the offline evaluator scores it."""
    _provider(settings, fake_llm)
    fake_llm.queue({"error": "server_error"})

    result = evaluation.answer_evaluate(
        question=_question(world, OPEN), rubric_version=1, text=GOOD_ANSWER, organisation=world.organisation
    )

    assert (result.offline, fake_llm.request_count) == (True, 1)


# ---------------------------------------------------------------- grading a session
def _graded_session(world: World, **answers: Any) -> Any:
    values: dict[int, Any] = {1: ["b"], 2: ["a"], 3: ["a", "c"], 4: GOOD_ANSWER, 5: "An index makes reads faster."}
    values.update({int(key[1:]): value for key, value in answers.items()})
    return finished_session(
        template=world.public, candidate=world.candidate, organisation=world.organisation, answers=values
    )


def test_grading_a_session_scores_every_answer_writes_the_report_and_publishes(
    world: World, capture_events: Any
) -> None:
    """Given a submitted session (offline) where question 6 was never answered, when it is graded,
    then every asked question has a scored answer (the unanswered one 0), the report holds the
    overall score (the mean), the dimensions, readiness with reasons and the weakest topics, the
    session is graded, and the stream carried one `answer.scored` per answer, then `session.graded`."""
    session = _graded_session(world)

    report = evaluation.session_grade(session_id=session.pk)

    assert report is not None
    session.refresh_from_db()
    assert session.state == SessionState.GRADED
    answers = list(Answer.objects.filter(session=session).select_related("evaluation").order_by("question__position"))
    assert len(answers) == 6
    scores = [answer.evaluation.score for answer in answers if answer.evaluation]
    assert scores[:3] == [100, 0, 100]
    assert scores[5] == 0
    assert answers[5].text == ""
    assert report.overall == round(sum(scores) / 6)
    assert report.offline is True
    assert report.readiness in {"ready", "almost_ready", "not_ready"}
    assert report.reasons
    assert report.study_topics
    assert report.communication is not None  # open questions count half towards it
    events = capture_events.events(interview_session_stream(session.pk))
    assert [event["type"] for event in events] == ["answer.scored"] * 6 + ["session.graded"]
    assert [event["answer"]["score"] for event in events[:6]] == scores
    assert events[-1]["report"]["overall"] == report.overall


def test_grading_again_changes_nothing(world: World, capture_events: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a graded session, when it is graded again (a redelivered task), then the same report
    comes back, nothing is evaluated or published, and no row is added."""
    session = _graded_session(world)
    first = evaluation.session_grade(session_id=session.pk)
    capture_events.clear()
    stored = Evaluation.objects.count()
    monkeypatch.setattr(evaluation, "answer_evaluate", _never)

    again = evaluation.session_grade(session_id=session.pk)

    assert first is not None
    assert again is not None
    assert again.pk == first.pk
    assert Evaluation.objects.count() == stored
    assert capture_events.events() == []


def test_a_session_in_progress_or_missing_is_not_graded(world: World) -> None:
    """Given a session still in progress, and a missing id, then grading returns None and writes nothing."""
    session = _graded_session(world)
    session.state = SessionState.IN_PROGRESS
    session.save(update_fields=["state"])

    assert evaluation.session_grade(session_id=session.pk) is None
    assert evaluation.session_grade(session_id=2**62) is None
    assert SessionReport.objects.count() == 0
    assert Evaluation.objects.count() == 0


def test_a_second_session_with_the_same_answers_reuses_the_stored_scores(
    world: World, settings: Any, fake_llm: FakeLLMServer
) -> None:
    """Given one graded session through a model, when another session with the same written answers
    is graded, then the provider is not asked again and both report the same scores."""
    _provider(settings, fake_llm)
    fake_llm.queue({"text": verdict(score=72, band="good")}, {"text": verdict(score=40, band="developing")})
    first = evaluation.session_grade(session_id=_graded_session(world).pk)
    asked = fake_llm.request_count

    second = evaluation.session_grade(session_id=_graded_session(world).pk)

    assert asked == 2  # two written answers; the unanswered sixth needs no model
    assert fake_llm.request_count == asked
    assert first is not None
    assert second is not None
    assert first.overall == second.overall


# ---------------------------------------------------------------- overrides
def test_a_mentor_overrides_a_score_with_a_reason_audited_and_the_report_recomputed(
    world: World, capture_events: Any
) -> None:
    """Given a graded session, when a mentor of the organisation sets question 2's score to 100 with
    a reason, then the override is stored and audited (from, to, reason), the report's overall rises
    accordingly, and the stream carries the overridden `answer.scored` and `report.updated`."""
    session = _graded_session(world)
    before = evaluation.session_grade(session_id=session.pk)
    assert before is not None
    answer = Answer.objects.get(session=session, question__position=2)
    capture_events.clear()

    report = evaluation.score_override(
        user=world.mentor, answer_id=answer.pk, score=100, reason="  Key was ambiguous. "
    )

    assert report.overall == round((before.overall * 6 + 100) / 6)
    override = ScoreOverride.objects.get(answer=answer)
    assert (override.score, override.reason, override.overridden_by) == (100, "Key was ambiguous.", world.mentor)
    audit = AuditEvent.objects.get(action="interview.score_overridden")
    assert (audit.actor_id, audit.details["from"], audit.details["to"]) == (world.mentor.pk, 0, 100)
    assert audit.details["reason"] == "Key was ambiguous."
    events = capture_events.events(interview_session_stream(session.pk))
    assert [event["type"] for event in events] == ["answer.scored", "report.updated"]
    assert events[0]["answer"] | {} == {
        **events[0]["answer"],
        "score": 100,
        "band": "correct",
        "overridden": True,
        "override_reason": "Key was ambiguous.",
    }
    assert events[1]["report"]["overall"] == report.overall


@pytest.mark.parametrize(
    ("score", "reason", "field"),
    [
        (101, "Fair.", "score"),
        (-1, "Fair.", "score"),
        ("90", "Fair.", "score"),
        (90, "   ", "reason"),
        (90, "x" * 301, "reason"),
    ],
)
def test_a_bad_override_is_refused_field_by_field_and_changes_nothing(
    world: World, score: Any, reason: Any, field: str
) -> None:
    """Given a graded session, when a mentor sends a score outside 0-100 (or not a whole number) or
    no reason (or an overlong one), then the field is named and nothing is stored or audited."""
    session = _graded_session(world)
    evaluation.session_grade(session_id=session.pk)
    answer = Answer.objects.get(session=session, question__position=2)

    with pytest.raises(EvaluationError) as refused:
        evaluation.score_override(user=world.mentor, answer_id=answer.pk, score=score, reason=reason)

    assert refused.value.code == "invalid"
    assert field in refused.value.field_errors()
    assert not ScoreOverride.objects.exists()
    assert not AuditEvent.objects.filter(action="interview.score_overridden").exists()


def test_only_watchers_override_and_others_see_no_answer(world: World) -> None:
    """Given a graded session, then its candidate, a learner and another organisation's staff get
    404 for its answer, as for a missing one; an ungraded session's answer is refused `not_graded`."""
    session = _graded_session(world)
    answer = Answer.objects.get(session=session, question__position=1)
    with pytest.raises(EvaluationError) as early:
        evaluation.score_override(user=world.mentor, answer_id=answer.pk, score=50, reason="Early.")
    assert early.value.code == "not_graded"
    evaluation.session_grade(session_id=session.pk)

    for outsider in (world.candidate, world.learner, world.other_staff):
        with pytest.raises(Http404):
            evaluation.score_override(user=outsider, answer_id=answer.pk, score=50, reason="Mine.")
    with pytest.raises(Http404):
        evaluation.score_override(user=world.mentor, answer_id=2**62, score=50, reason="Missing.")
    assert not ScoreOverride.objects.exists()


def test_the_dimension_mapping_follows_question_types() -> None:
    """The documented mapping: multiple choice counts only towards technical, behavioural mostly
    towards communication, system design mostly towards problem solving."""
    assert evaluation.TYPE_WEIGHTS[QuestionType.MULTIPLE_CHOICE] == {"technical": 1.0}
    assert evaluation.TYPE_WEIGHTS[QuestionType.BEHAVIOURAL]["communication"] == 1.0
    assert evaluation.TYPE_WEIGHTS[QuestionType.SYSTEM_DESIGN]["problem_solving"] == 1.0


def test_every_evaluation_event_is_exactly_its_typeddict(world: World, capture_events: CapturedEvents) -> None:
    """Given a session graded and then overridden, then each event published on its stream matches
    its TypedDict in `EvaluationEvent` key for key, every declared type was published, and the
    stored readiness is one of the declared names."""
    session = _graded_session(world)
    evaluation.session_grade(session_id=session.pk)
    answer = Answer.objects.get(session=session, question__position=2)
    evaluation.score_override(user=world.mentor, answer_id=answer.pk, score=80, reason="Close enough.")

    published = capture_events.select(stream=interview_session_stream(session.pk))

    assert contract_mismatches(EvaluationEvent, published) == []
    assert {event.type for event in published} == set(event_types(EvaluationEvent))
    assert SessionReport.objects.get(session=session).readiness in typing.get_args(ReadinessName)
