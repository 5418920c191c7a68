"""Query counts: the coach thread list costs a fixed number of queries, however many threads."""

from __future__ import annotations

from typing import Any

import pytest

from domains.coach.models import CoachThread, ThreadMessage, ThreadRole
from tests.domains.notes.helpers import World, signed_in_client

pytestmark = pytest.mark.django_db

# The session's user, organisation and roles, then the threads with their message counts in one query.
THREAD_LIST_QUERIES = 5  # with the notifications badge every page shows


@pytest.mark.parametrize("count", [1, 6])
def test_the_thread_list_costs_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: Any, count: int
) -> None:
    """The coach thread list runs the same queries for one thread as for many, with their messages."""
    # given the learner's threads, each with a question and an answer
    for n in range(count):
        thread = CoachThread.objects.create(organisation=world.org, owner=world.learner, title=f"Talk {n}")
        question = ThreadMessage.objects.create(thread=thread, role=ThreadRole.USER, body="Why?")
        ThreadMessage.objects.create(thread=thread, role=ThreadRole.COACH, parent=question, body="Because.")
    client = signed_in_client(world.learner, "/coach/")
    # when the learner opens the list, then it costs a fixed number of queries
    with django_assert_num_queries(THREAD_LIST_QUERIES):
        response = client.get("/coach/")
    assert response.status_code == 200
    assert all(f"Talk {n}" in response.content.decode() for n in range(count))
