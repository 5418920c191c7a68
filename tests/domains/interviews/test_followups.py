"""The AI interviewer's follow-ups: asked once per saved written answer on the candidate's request,
streamed through the reply kit (ephemeral `followup.delta`, durable `followup.done`), answered with
an autosaved response on the server's clock, and scored with the answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.http import Http404
from django.utils import timezone

from domains.ai.models import ReplyStatus
from domains.ai.replies import reply_live_text
from domains.common.errors import Refusal
from domains.interviews import content, evaluation, followups, services
from domains.interviews.catalogue import bands
from domains.interviews.events import FollowUpEphemeralEvent, FollowUpEvent
from domains.interviews.models import Answer, Evaluation, FollowUp, InterviewSession, InterviewTemplate, Question
from realtime.models import StreamEvent
from realtime.replay import replay_after
from realtime.streams import interview_session_stream
from tests.domains.interviews.helpers import World, question_data, template_data, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets
from tests.events import CapturedEvents, contract_mismatches, event_types
from tests.fakes import fixtures
from tests.fakes.llm_server import FakeLLMServer

fake_llm_session = fixtures.fake_llm_session
fake_llm = fixtures.fake_llm

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ANSWER = "I would cache the hot keys in Valkey with a short TTL and invalidate on write."
FOLLOWUP_QUESTION = "What happens to readers while an invalidation is in flight?"


@pytest.fixture
def world(db: None) -> World:
    return world_make()


@pytest.fixture(autouse=True, name="enqueued")
def _enqueued(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The follow-up task and grading are run by hand here: record what the services enqueue."""
    calls: list[Any] = []
    monkeypatch.setattr(followups, "enqueue", lambda *args: calls.append(args))
    monkeypatch.setattr(services, "enqueue", lambda *args: calls.append(args))
    return calls


def followup_template(world: World, *, follow_ups: bool = True, minutes: int = 10) -> InterviewTemplate:
    """An organisation template (MC, open, behavioural) that opts in to follow-ups, its secrets marked."""

    def secret_bands(name: str) -> list[dict[str, Any]]:
        return bands(*(f"SECRET-BAND-{name}-{level}" for level in ("strong", "good", "developing", "weak")))

    questions = [
        question_data("multiple_choice", reference_answer="SECRET-REFERENCE-MC", rubric_bands=secret_bands("MC")),
        question_data(
            "open",
            prompt="How would you cache a hot read path?",
            reference_answer="SECRET-REFERENCE-OPEN cache invalidation ttl stampede",
            rubric_bands=secret_bands("OPEN"),
            topics=["caching", "consistency"],
        ),
        question_data(
            "behavioural",
            reference_answer="SECRET-REFERENCE-BEHAVIOURAL",
            rubric_bands=secret_bands("BEHAVIOURAL"),
            topics=["collaboration"],
        ),
    ]
    return content.template_create(
        organisation=world.organisation,
        user=world.staff,
        follow_ups=follow_ups,
        **template_data(
            title=f"Follow-ups {follow_ups} {minutes}",
            duration_minutes=minutes,
            rubric="SECRET-TEMPLATE-RUBRIC",
            questions=questions,
        ),
    )


def _start(world: World, template: InterviewTemplate) -> tuple[InterviewSession, list[Question]]:
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    return session, list(Question.objects.filter(template=template).order_by("position"))


def answered_session(
    world: World, template: InterviewTemplate, text: str = ANSWER
) -> tuple[InterviewSession, Question]:
    """The candidate's session of `template`, its second (open) question saved once with `text`."""
    session, questions = _start(world, template)
    services.answer_save(
        session_id=session.pk, user=world.candidate, question_id=questions[1].pk, revision=1, text=text
    )
    return session, questions[1]


def _ask(world: World, session: InterviewSession, question: Question, **kwargs: Any) -> tuple[FollowUp, bool]:
    return followups.followup_request(session_id=session.pk, user=world.candidate, question_id=question.pk, **kwargs)


def _provider(settings: Any, fake_llm: FakeLLMServer) -> None:
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake_llm.openai_base_url
    settings.AI_DEFAULT_PROVIDER = "openai"
    settings.AI_OPENAI_MODEL = "gpt-test"
    settings.AI_MAX_RETRIES = 0
    settings.AI_QUOTA_REQUESTS_PER_HOUR = 0
    settings.AI_QUOTA_TOKENS_PER_DAY = 0


def test_the_offline_interviewer_streams_a_followup_whose_completion_is_durable(
    world: World, settings: Any, capture_events: CapturedEvents, enqueued: list[Any]
) -> None:
    """Given a saved open answer and the offline provider, when the candidate asks and the job runs,
    then `followup.started` is published and the task enqueued once; the deltas go out ephemeral and
    add up to the stored question, which says it is offline and names the question's topic; the
    durable `followup.done` is stored, so a resume from before it replays it."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    template = followup_template(world)
    session, question = answered_session(world, template)
    stream = interview_session_stream(session.pk)
    before = StreamEvent.objects.filter(stream_id=stream).order_by("-seq").values_list("seq", flat=True).first() or 0

    followup, created = _ask(world, session, question)
    assert created is True
    assert followup.status == ReplyStatus.STREAMING
    assert followup.provider_label == "offline interviewer"
    assert enqueued == [(followups.FOLLOWUP_TASK, followup.pk)]

    done = followups.followup_generate(followup_id=followup.pk)

    assert done is not None
    assert done.status == ReplyStatus.COMPLETE
    assert done.body.startswith("(Offline interviewer, no model")
    assert "caching" in done.body
    assert "consistency" in done.body
    assert done.answer_revision == 1
    deltas = capture_events.select(stream, durable=False)
    assert {d.type for d in deltas} == {"followup.delta"}
    assert "".join(d.payload["text"] for d in deltas) == done.body
    offsets = [d.payload["offset"] for d in deltas]
    assert offsets == sorted(offsets)
    assert offsets[0] == 0
    durable = capture_events.types(stream, durable=True)
    assert durable[-1] == "followup.done"
    assert "followup.started" in durable
    replay = replay_after(stream, before)
    replayed = [frame["event"] for frame in replay.frames]
    assert replayed[-1] == "followup.done"
    assert "followup.started" in replayed
    final: Any = replay.frames[-1]["data"]
    assert final["followup"]["body"] == done.body
    assert final["followup"]["status"] == "complete"
    assert final["followup"]["offline"] is True
    # The run lock: a redelivered task does not stream again.
    assert followups.followup_generate(followup_id=followup.pk) is None


def test_a_second_request_returns_the_followup_already_asked(
    world: World, capture_events: CapturedEvents, enqueued: list[Any]
) -> None:
    """Given a follow-up asked on an answer, when the candidate asks again (a replayed click), then
    the same follow-up comes back `created` False: nothing new is stored, published or enqueued."""
    template = followup_template(world)
    session, question = answered_session(world, template)
    first, _ = _ask(world, session, question)
    published = len(capture_events)

    again, created = _ask(world, session, question)

    assert (again.pk, created) == (first.pk, False)
    assert FollowUp.objects.count() == 1
    assert len(capture_events) == published
    assert len(enqueued) == 1


def test_a_followup_is_refused_where_it_is_not_offered_or_not_due(world: World) -> None:
    """Follow-ups are refused, and none is stored: on a template that does not offer them
    (`not_offered`), on a multiple-choice question (`invalid`), before an answer is saved
    (`no_answer`), and on a question of another session (404)."""
    closed = followup_template(world, follow_ups=False)
    session, question = answered_session(world, closed)
    with pytest.raises(Refusal) as refused:
        _ask(world, session, question)
    assert refused.value.code == "not_offered"

    template = followup_template(world)
    session, questions = _start(world, template)
    with pytest.raises(Refusal) as refused:
        _ask(world, session, questions[0])
    assert refused.value.code == "invalid"
    with pytest.raises(Refusal) as refused:
        _ask(world, session, questions[1])
    assert refused.value.code == "no_answer"
    other = Question.objects.filter(template=closed).order_by("position")[1]
    with pytest.raises(Http404):
        _ask(world, session, other)
    assert FollowUp.objects.count() == 0


def test_a_request_after_the_deadline_is_refused_and_the_session_closes(world: World) -> None:
    """Given a saved answer, when the candidate asks for a follow-up after the deadline on the
    server's clock, then it is refused `deadline_passed`, no follow-up exists, and the session is
    expired at its deadline."""
    template = followup_template(world, minutes=10)
    with time_machine.travel(T0, tick=False):
        session, question = answered_session(world, template)
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=1), tick=False), pytest.raises(Refusal) as refused:
        _ask(world, session, question)
    assert refused.value.code == "deadline_passed"
    session.refresh_from_db()
    assert (session.state, session.finished_at) == ("expired", session.deadline)
    assert FollowUp.objects.count() == 0


def test_followup_requests_are_rate_limited_and_take_the_ai_quota(world: World, settings: Any) -> None:
    """With one follow-up an hour per person, a follow-up on a second answer is refused
    `rate_limited` with a retry time; with the rate limit off and one AI request an hour, it is
    refused `quota`. Neither stores a follow-up."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    template = followup_template(world)
    session, questions = _start(world, template)
    for question in questions[1:]:
        services.answer_save(
            session_id=session.pk, user=world.candidate, question_id=question.pk, revision=1, text=ANSWER
        )
    settings.INTERVIEWS_FOLLOWUPS_PER_HOUR = 1
    _ask(world, session, questions[1])
    with pytest.raises(Refusal) as refused:
        _ask(world, session, questions[2])
    assert refused.value.code == "rate_limited"
    assert refused.value.retry_after

    settings.INTERVIEWS_FOLLOWUPS_PER_HOUR = 0
    settings.AI_QUOTA_REQUESTS_PER_HOUR = 1
    FollowUp.objects.all().delete()
    _ask(world, session, questions[1])
    with pytest.raises(Refusal) as refused:
        _ask(world, session, questions[2])
    assert refused.value.code == "quota"
    assert FollowUp.objects.count() == 1


def test_the_response_autosaves_by_revision_and_is_refused_after_the_deadline(
    world: World, capture_events: CapturedEvents
) -> None:
    """The candidate's response to a follow-up is stored by revision: a replay or an older revision
    changes nothing; `followup.saved` carries no text; after the deadline a save is refused
    `deadline_passed` with the kept response, which stays."""
    template = followup_template(world, minutes=10)
    with time_machine.travel(T0, tick=False):
        session, question = answered_session(world, template)
        followup, _ = _ask(world, session, question)
        followups.followup_generate(followup_id=followup.pk)

        def save(revision: int, text: str) -> tuple[FollowUp, bool]:
            return followups.followup_save(
                session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=revision, text=text
            )

        assert save(2, "Readers see the old value for at most the TTL.")[1] is True
        assert save(2, "A replay with other text")[1] is False
        assert save(1, "An older revision arriving late")[1] is False
    followup.refresh_from_db()
    assert (followup.response_revision, followup.response_text) == (2, "Readers see the old value for at most the TTL.")
    assert followup.response_saved_at == T0
    saved = [e for e in capture_events.events(interview_session_stream(session.pk)) if e["type"] == "followup.saved"]
    assert saved == [
        {
            "type": "followup.saved",
            "session_id": session.pk,
            "followup_id": followup.pk,
            "question_id": question.pk,
            "revision": 2,
            "saved_at": T0.isoformat(),
        }
    ]

    with time_machine.travel(T0 + timedelta(minutes=11), tick=False), pytest.raises(services.SaveRefused) as late:
        save(3, "Too late")
    assert late.value.code == "deadline_passed"
    assert late.value.stored["revision"] == 2
    assert late.value.stored["text"] == "Readers see the old value for at most the TTL."
    followup.refresh_from_db()
    assert followup.response_revision == 2


def test_a_followup_of_someone_elses_session_is_not_found(world: World) -> None:
    """Another person (the mentor) cannot ask for or answer the candidate's follow-up: 404."""
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)
    with pytest.raises(Http404):
        followups.followup_request(session_id=session.pk, user=world.mentor, question_id=question.pk)
    with pytest.raises(Http404):
        followups.followup_save(session_id=session.pk, user=world.mentor, followup_id=followup.pk, revision=1, text="x")


def test_a_model_streams_the_followup_without_seeing_or_leaking_the_secrets(
    world: World, settings: Any, fake_llm: FakeLLMServer, capture_events: CapturedEvents
) -> None:
    """Given the fake provider server, when the follow-up job runs, then the model is asked with the
    question's prompt and the candidate's answer and never the reference answer, the bands or the
    template's rubric; its reply streams as deltas whose text is the stored question, and no event
    on the session's stream carries a secret."""
    _provider(settings, fake_llm)
    fake_llm.queue({"chunks": ["What happens to ", "readers while an ", "invalidation is in flight?"]})
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)

    done = followups.followup_generate(followup_id=followup.pk)

    assert done is not None
    assert (done.status, done.body) == (ReplyStatus.COMPLETE, FOLLOWUP_QUESTION)
    assert done.provider == "openai"
    [request] = fake_llm.requests
    sent = json.dumps(request.body)
    assert "How would you cache a hot read path?" in sent
    assert ANSWER in sent
    for secret in ("SECRET-REFERENCE", "SECRET-BAND", "SECRET-TEMPLATE-RUBRIC"):
        assert secret not in sent
    stream = interview_session_stream(session.pk)
    deltas = capture_events.select(stream, durable=False)
    assert "".join(d.payload["text"] for d in deltas) == FOLLOWUP_QUESTION
    assert_no_secrets([p.event for p in capture_events.select(stream)], template)


def test_a_provider_failure_interrupts_the_followup_with_a_reason(
    world: World, settings: Any, fake_llm: FakeLLMServer
) -> None:
    """When the provider fails, the follow-up ends `interrupted` with an error the candidate can read."""
    _provider(settings, fake_llm)
    fake_llm.queue({"error": "server_error"})
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)

    done = followups.followup_generate(followup_id=followup.pk)

    assert done is not None
    assert done.status == ReplyStatus.INTERRUPTED
    assert done.error_message


def test_the_sweep_marks_a_lost_followup_interrupted_keeping_its_text(
    world: World, capture_events: CapturedEvents
) -> None:
    """Given a follow-up streaming for long with no job holding its run lock (a dead worker), when
    the sweep runs, then it is interrupted with the live text it had and `followup.done` is published."""
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)
    live = reply_live_text(followup)
    live.start()
    live.append("What would you")
    FollowUp.objects.filter(pk=followup.pk).update(updated_at=timezone.now() - timedelta(minutes=10))

    assert followups.followups_sweep(older_than_seconds=300) == 1

    followup.refresh_from_db()
    assert (followup.status, followup.body, followup.error_code) == ("interrupted", "What would you", "worker_lost")
    assert capture_events.types(interview_session_stream(session.pk))[-1] == "followup.done"


def test_the_evaluator_scores_the_answer_with_the_followup_and_a_changed_response_rescores(
    world: World, settings: Any, fake_llm: FakeLLMServer
) -> None:
    """Given an answered follow-up, the evaluator is asked about the answer, the follow-up question
    and the response together; the stored score's key covers them, so the same answer with another
    response is scored again while the answer alone keeps its own key."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)
    followups.followup_generate(followup_id=followup.pk)
    followups.followup_save(
        session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=1, text="A stampede."
    )
    followup.refresh_from_db()
    _provider(settings, fake_llm)
    fake_llm.queue(
        {"text": json.dumps(_verdict(70, "good"))},
        {"text": json.dumps(_verdict(45, "developing"))},
    )

    first = evaluation.answer_evaluate(
        question=question,
        rubric_version=1,
        text=ANSWER,
        organisation=world.organisation,
        followup=(followup.body, followup.response_text),
    )
    same = evaluation.answer_evaluate(
        question=question,
        rubric_version=1,
        text=ANSWER,
        organisation=world.organisation,
        followup=(followup.body, followup.response_text),
    )
    other = evaluation.answer_evaluate(
        question=question,
        rubric_version=1,
        text=ANSWER,
        organisation=world.organisation,
        followup=(followup.body, "Something else entirely."),
    )

    assert first.pk == same.pk
    assert other.pk != first.pk
    assert fake_llm.request_count == 2
    prompt = json.dumps(fake_llm.requests[0].body)
    assert "Follow-up question" in prompt
    assert "A stampede." in prompt
    alone = evaluation.answer_hash(question_type="open", text=ANSWER)
    assert first.answer_hash != alone
    assert Evaluation.objects.filter(answer_hash=alone).count() == 0


def test_grading_includes_the_answered_followup(world: World, settings: Any) -> None:
    """Given a submitted session whose open answer has an answered follow-up, when it is graded
    (offline), then the answer's stored score is keyed by the answer with the follow-up, and the
    response's key points count towards the rubric coverage."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    template = followup_template(world)
    session, question = answered_session(world, template, text="Short.")
    followup, _ = _ask(world, session, question)
    followups.followup_generate(followup_id=followup.pk)
    followups.followup_save(
        session_id=session.pk,
        user=world.candidate,
        followup_id=followup.pk,
        revision=1,
        text="Cache invalidation with a ttl, and guard against a stampede.",
    )
    services.interview_session_submit(session_id=session.pk, user=world.candidate)
    followup.refresh_from_db()

    evaluation.session_grade(session_id=session.pk)

    answer = Answer.objects.select_related("evaluation").get(session=session, question=question)
    assert answer.evaluation is not None
    expected = evaluation.answer_hash(
        question_type="open", text="Short.", followup=(followup.body, followup.response_text)
    )
    assert answer.evaluation.answer_hash == expected
    assert answer.evaluation.score > evaluation.offline_evaluate(question=question, text="Short.")["score"]


def test_every_followup_event_is_exactly_its_typeddict(world: World, capture_events: CapturedEvents) -> None:
    """Each follow-up event published on the session's stream matches its TypedDict key for key,
    and every declared type is published by asking, streaming and answering one follow-up."""
    template = followup_template(world)
    session, question = answered_session(world, template)
    followup, _ = _ask(world, session, question)
    followups.followup_generate(followup_id=followup.pk)
    followups.followup_save(session_id=session.pk, user=world.candidate, followup_id=followup.pk, revision=1, text="x")

    stream = interview_session_stream(session.pk)
    durable = [p for p in capture_events.select(stream, durable=True) if p.type.startswith("followup.")]
    ephemeral = capture_events.select(stream, durable=False)

    assert contract_mismatches(FollowUpEvent, durable) == []
    assert contract_mismatches(FollowUpEphemeralEvent, ephemeral) == []
    assert {p.type for p in durable} == set(event_types(FollowUpEvent))
    assert {p.type for p in ephemeral} == set(event_types(FollowUpEphemeralEvent))


def _verdict(score: int, band: str) -> dict[str, Any]:
    return {
        "score": score,
        "band": band,
        "explanation": "You name the mechanism and one risk.",
        "tip": "Say how you would measure the hit rate.",
        "correct": True,
        "sentiment": "neutral",
        "confidence": 0.7,
    }
