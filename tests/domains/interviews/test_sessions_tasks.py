"""The session life cycle's background side: concurrent starts make one session (the database
constraint settles the race), the beat sweep task, and the grading task's contract with
`evaluation.session_grade`."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from domains.interviews import services
from domains.interviews.models import InterviewSession, SessionState
from tests.domains.interviews.helpers import World, world_make
from tests.domains.interviews.helpers_sessions import timed_template
from workers.tasks import interviews as tasks


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_make_one_session() -> None:
    """Given two starts of the same template racing in two connections, then both return the same
    session and only one exists."""
    world = world_make()
    template = timed_template(world)
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def start() -> None:
        try:
            barrier.wait(timeout=10)
            session, created = services.interview_session_start(
                user=world.candidate, organisation=world.organisation, template_id=template.pk
            )
            results.append((session.pk, created))
        except Exception as error:  # noqa: BLE001 - surfaced by the assert below
            results.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(isinstance(result, tuple) for result in results), results
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]
    assert InterviewSession.objects.filter(candidate=world.candidate, template=template).count() == 1


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def test_the_sweep_task_expires_due_sessions_and_grading_calls_the_evaluator(
    world: World, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """Given a session past its deadline, when the beat task runs, then the session is expired at
    its deadline and, after commit, the grading task calls `evaluation.session_grade` with its id."""
    graded: list[int] = []
    monkeypatch.setattr(tasks, "session_grade", lambda *, session_id: graded.append(session_id))
    template = timed_template(world)
    session, _ = services.interview_session_start(
        user=world.candidate, organisation=world.organisation, template_id=template.pk
    )
    past = timezone.now() - timedelta(seconds=5)
    InterviewSession.objects.filter(pk=session.pk).update(started_at=past - timedelta(minutes=10), deadline=past)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.interview_sessions_expire_task() == 1
    session.refresh_from_db()
    assert session.state == SessionState.EXPIRED
    assert session.finished_at == past
    assert graded == [session.pk]
