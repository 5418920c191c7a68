"""Pages refuse text PostgreSQL cannot store with a 400 that names the field, and change nothing.

Each case here was a 500 before (psycopg: "PostgreSQL text fields cannot contain NUL (0x00) bytes").
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from domains.coach.models import CoachThread, ThreadMessage
from domains.compliance.models import AuditEvent
from domains.notes.models import Note
from tests.domains.notes.helpers import World


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _refused(response: Any, field: str) -> str:
    assert response.status_code == 400, response.content[:300]
    text = response.content.decode()
    assert f"“{field}”" in text
    assert "NUL" in text
    return text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/notes/?q=a%00b", "q"),
        ("/notes/?tag=a%00", "tag"),
        ("/notes/search/?q=a%00b", "q"),
        ("/notes/search/?tag=%00", "tag"),
        ("/notes/?a%00=1", "a\\x00"),  # the name itself, shown escaped
    ],
)
def test_nul_in_a_query_string_is_400_naming_the_field(world: World, path: str, field: str) -> None:
    """The notes list and its search partial answer 400 for a NUL in `q`, `tag` or a name."""
    _refused(_client(world.learner).get(path), field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "form",
    [
        {"title": "a\x00b"},
        {"title": "Fine", "question": "Why \x00?"},
    ],
)
def test_coach_new_refuses_nul_in_title_or_question_and_creates_nothing(world: World, form: dict[str, str]) -> None:
    """/coach/new/ with a NUL in the title or the question: 400 naming the
    field, and no thread, no message, no audit row."""
    client = _client(world.learner)  # signing in is audited; count after it
    before = (CoachThread.objects.count(), ThreadMessage.objects.count(), AuditEvent.objects.count())
    field = next(name for name, value in form.items() if value != "Fine")
    _refused(client.post("/coach/new/", form), field)
    assert (CoachThread.objects.count(), ThreadMessage.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_note_form_refuses_nul_and_writes_nothing(world: World) -> None:
    """The note form (multipart, as a browser sends it) with a NUL in the body: 400, no note."""
    response = _client(world.learner).post("/notes/new/", {"title": "Fine", "body": "x\x00y"})
    _refused(response, "body")
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_a_form_over_the_upload_limit_is_413(world: World) -> None:
    """A form body over DATA_UPLOAD_MAX_MEMORY_SIZE answers 413 (was Django's generic 400), no note."""
    body = "title=Big&body=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = _client(world.learner).post("/notes/new/", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert Note.objects.count() == 0


@pytest.mark.django_db
def test_clean_input_still_works(world: World) -> None:
    """The guard lets ordinary text (accents, emoji, CJK) through untouched."""
    client = _client(world.learner)
    assert client.get("/notes/", {"q": "négociation 給料 🙂"}).status_code == 200
    response = client.post("/coach/new/", {"title": "Salaire 給料 🙂"})
    assert response.status_code == 302
    assert CoachThread.objects.get(owner=world.learner).title == "Salaire 給料 🙂"


async def test_the_guard_runs_on_the_async_path_too() -> None:
    """Under ASGI (daphne) the middleware runs in async mode: the same 400, before any view (so
    before the sign-in redirect) and before the database is touched."""
    from django.test import AsyncClient

    response = await AsyncClient().get("/notes/?q=a%00b")
    _refused(response, "q")
    assert (await AsyncClient().get("/notes/?q=fine")).status_code == 302  # to sign in, as before
