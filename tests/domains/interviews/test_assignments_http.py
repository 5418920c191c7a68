"""Assessments and accommodations over HTTP: "My assignments", the .ics download, the staff pages
(POST-redirect-GET, field errors, 403 for others, 404 for foreign ids) and /api/v1/interviews
(assignments, accommodations). Candidates see only their own, and never a key, reference answer or
rubric band."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import icalendar
import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from domains.accounts.models import Role
from domains.compliance.models import AuditEvent
from domains.interviews import assignments
from domains.interviews.models import Accommodation, InterviewAssignment, InterviewSession
from domains.invitations.models import Invitation
from tests.domains.interviews.helpers import World, consented, signed_in, world_make
from tests.domains.interviews.helpers_sessions import assert_no_secrets, timed_template
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

API = "/api/v1/interviews/assignments"
ACCOMMODATIONS = "/api/v1/interviews/accommodations"
MISSING = 2**62


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _window(hours_from_now: float = -1, days: float = 2) -> tuple[Any, Any]:
    opens = timezone.now().replace(microsecond=0) + timedelta(hours=hours_from_now)
    return opens, opens + timedelta(days=days)


def _assign(w: World, **changes: Any) -> InterviewAssignment:
    opens, closes = _window()
    values: dict[str, Any] = {
        "organisation": w.organisation,
        "actor": w.staff,
        "template_id": w.own.pk,
        "opens_at": opens,
        "closes_at": closes,
        "attempts_allowed": 2,
        "candidate_id": w.candidate.pk,
    }
    values.update(changes)
    return assignments.assignment_create(**values)


def _json(client: Client, method: str, url: str, body: Any = None) -> Any:
    return getattr(client, method)(url, json.dumps(body) if body is not None else None, content_type="application/json")


# ---------------------------------------------------------------- My assignments
def test_my_assignments_shows_my_own_with_start_ics_and_attempts(world: World) -> None:
    """Given my open assignment and another candidate's, when I open "My assignments", then I see
    mine only: its window, attempts left, state, a Start button posting to the system check flow and
    the .ics link; no key, reference answer or band appears."""
    template = timed_template(world)
    mine = _assign(world, template_id=template.pk)
    other = MembershipFactory.create(organisation=world.organisation, role=Role.CANDIDATE).user
    theirs = _assign(world, candidate_id=other.pk)

    page = signed_in(world.candidate).get("/interviews/assignments/")

    html = page.content.decode()
    assert page.status_code == 200
    assert f'data-assignment-id="{mine.pk}"' in html
    assert f'data-assignment-id="{theirs.pk}"' not in html
    assert 'data-state="open"' in html
    assert "2 of 2" in html
    assert f'name="assignment_id" value="{mine.pk}"' in html
    assert f"/interviews/assignments/{mine.pk}/calendar.ics" in html
    assert_no_secrets(html, template)


def test_start_goes_through_the_system_check_into_the_room(world: World) -> None:
    """Given my open assignment, when I press Start, then the system check for it opens; when I
    begin there, the session starts on the assignment and its room opens; the finished session's
    report is then linked from "My assignments"."""
    template = timed_template(world)
    assignment = _assign(world, template_id=template.pk)
    client = signed_in(world.candidate)
    form = {"template_id": template.pk, "assignment_id": assignment.pk}

    check = client.post("/interviews/sessions/start/", form)
    assert check.status_code == 302
    assert check["Location"] == f"/interviews/check/{template.pk}/?assignment={assignment.pk}"
    assert client.get(check["Location"]).status_code == 200
    room = client.post("/interviews/sessions/start/", {**form, "begin": "1"})
    session = InterviewSession.objects.get(assignment=assignment)
    assert room["Location"] == f"/interviews/sessions/{session.pk}/"

    assert f"/interviews/sessions/{session.pk}/" in client.get("/interviews/assignments/").content.decode()  # Continue
    client.post(f"/interviews/sessions/{session.pk}/submit/")
    html = client.get("/interviews/assignments/").content.decode()
    assert f"/interviews/sessions/{session.pk}/report/" in html
    assert "1 of 2" in html


def test_a_refused_start_returns_to_the_assessments_check_with_the_reason(world: World) -> None:
    """Given my assignment whose window has not opened, when I begin, then I am back on its check
    page (with the assignment) and told when it opens; no session exists."""
    template = timed_template(world)
    opens, closes = _window(hours_from_now=5)
    assignment = _assign(world, template_id=template.pk, opens_at=opens, closes_at=closes)
    client = signed_in(world.candidate)

    response = client.post(
        "/interviews/sessions/start/", {"template_id": template.pk, "assignment_id": assignment.pk, "begin": "1"}
    )

    assert response["Location"] == f"/interviews/check/{template.pk}/?assignment={assignment.pk}"
    assert "This assessment opens at" in client.get(response["Location"]).content.decode()
    assert not InterviewSession.objects.exists()


def test_the_page_costs_the_same_queries_for_one_or_many(world: World) -> None:
    """Given one, then four assignments (each with a finished session), the page's queries do not grow."""
    counts = []
    client = signed_in(world.candidate)
    client.get("/interviews/assignments/")  # the first request of a session does its one-off work
    for extra in (0, 3):
        for _ in range(extra):
            assignment = _assign(world)
            opened = timezone.now() - timedelta(minutes=30)
            InterviewSession.objects.create(
                organisation=world.organisation,
                candidate=world.candidate,
                template=world.own,
                assignment=assignment,
                state="submitted",
                started_at=opened,
                deadline=opened + timedelta(minutes=20),
                finished_at=opened + timedelta(minutes=10),
                rubric_version=1,
            )
        if extra == 0:
            _assign(world)
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/interviews/assignments/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


# ---------------------------------------------------------------- the .ics
def test_the_calendar_download_is_mine_only(world: World) -> None:
    """Given my assignment, when I download its .ics, then it is text/calendar with the window in
    UTC; another candidate, staff, and a missing id get 404 alike."""
    assignment = _assign(world)
    url = f"/interviews/assignments/{assignment.pk}/calendar.ics"

    response = signed_in(world.candidate).get(url)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    (event,) = icalendar.Calendar.from_ical(response.content).events
    assert (event.start, event.end) == (assignment.opens_at, assignment.closes_at)
    other = consented(MembershipFactory.create(organisation=world.organisation, role=Role.CANDIDATE).user)
    assert signed_in(other).get(url).status_code == 404
    assert signed_in(world.staff).get(url).status_code == 404
    missing = signed_in(world.candidate).get(f"/interviews/assignments/{MISSING}/calendar.ics")
    assert missing.status_code == 404


# ---------------------------------------------------------------- staff pages
def _form(w: World, **changes: Any) -> dict[str, Any]:
    opens, closes = _window(hours_from_now=1)
    form: dict[str, Any] = {
        "template_id": w.own.pk,
        "candidate_id": w.candidate.pk,
        "email": "",
        "opens_at": timezone.localtime(opens).strftime("%Y-%m-%dT%H:%M"),
        "closes_at": timezone.localtime(closes).strftime("%Y-%m-%dT%H:%M"),
        "attempts_allowed": 1,
        "reviewer_id": w.mentor.pk,
    }
    form.update(changes)
    return form


def test_staff_create_an_assessment_post_redirect_get(world: World) -> None:
    """Given staff on the manage page, when they submit a valid form, then they are redirected back,
    the assessment is listed, and the creation is audited."""
    client = signed_in(world.staff)
    assert client.get("/interviews/assignments/manage/").status_code == 200

    response = client.post("/interviews/assignments/manage/", _form(world))

    assert response.status_code == 302
    assert response["Location"] == "/interviews/assignments/manage/"
    assignment = InterviewAssignment.objects.get()
    assert (assignment.candidate, assignment.reviewer) == (world.candidate, world.mentor)
    listed = client.get("/interviews/assignments/manage/").content.decode()
    assert f'data-assignment-id="{assignment.pk}"' in listed
    assert AuditEvent.objects.filter(action="interviews.assignment_created").count() == 1


def test_staff_invite_by_email_from_the_page(world: World) -> None:
    """Given staff, when they assign to an address of no member, then an invitation goes out."""
    client = signed_in(world.staff)
    response = client.post("/interviews/assignments/manage/", _form(world, candidate_id="", email="nia@example.test"))
    assert response.status_code == 302
    assert InterviewAssignment.objects.get().invited_email == "nia@example.test"
    assert Invitation.objects.filter(email="nia@example.test", role=Role.CANDIDATE).exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"attempts_allowed": 11}, "Ensure this value is less than or equal to 10."),
        ({"candidate_id": "", "email": ""}, "Choose a candidate, or give an email address to invite."),
        ({"email": "nia@example.test"}, "Choose a candidate or give an email address, not both."),
        ({"closes_at": "2020-01-01T10:00", "opens_at": "2020-01-01T09:00"}, "The window must close in the future."),
        ({"reviewer_id": "LEARNER"}, "Select a valid choice."),
        ({"template_id": "FOREIGN"}, "Select a valid choice."),
    ],
)
def test_bad_forms_show_field_errors_and_change_nothing(world: World, changes: dict[str, Any], message: str) -> None:
    """Given bad input (attempts out of range, neither or both of candidate and email, a past window,
    someone not allowed as reviewer, another organisation's template), then the page answers 400
    with the error and writes nothing."""
    if changes.get("reviewer_id") == "LEARNER":
        changes["reviewer_id"] = world.learner.pk
    if changes.get("template_id") == "FOREIGN":
        changes["template_id"] = world.foreign.pk
    response = signed_in(world.staff).post("/interviews/assignments/manage/", _form(world, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not InterviewAssignment.objects.exists()
    assert not Invitation.objects.exists()


def test_the_staff_pages_are_staff_only(world: World) -> None:
    """Given a candidate and a mentor, when they open the staff pages, then 403."""
    for person in (world.candidate, world.mentor):
        client = signed_in(person)
        assert client.get("/interviews/assignments/manage/").status_code == 403
        assert client.get("/interviews/accommodations/").status_code == 403
        assert client.post("/interviews/assignments/manage/", _form(world)).status_code == 403
    assert not InterviewAssignment.objects.exists()


def test_cancel_from_the_page_and_foreign_ids_are_404(world: World) -> None:
    """Given an assessment here, when the other organisation's staff cancel its id, then 404 like a
    missing id and it stays; when this organisation's staff cancel it, then it is gone."""
    assignment = _assign(world)
    other = signed_in(world.other_staff)
    foreign = other.post(f"/interviews/assignments/{assignment.pk}/cancel/")
    missing = other.post(f"/interviews/assignments/{MISSING}/cancel/")
    assert foreign.status_code == missing.status_code == 404
    assert InterviewAssignment.objects.filter(pk=assignment.pk).exists()

    response = signed_in(world.staff).post(f"/interviews/assignments/{assignment.pk}/cancel/")
    assert response.status_code == 302
    assert not InterviewAssignment.objects.exists()


def test_cancelling_a_started_one_says_why(world: World) -> None:
    """Given an assessment with a session, when staff cancel it, then they are told why and it stays."""
    template = timed_template(world)
    assignment = _assign(world, template_id=template.pk)
    signed_in(world.candidate).post(
        "/interviews/sessions/start/", {"template_id": template.pk, "assignment_id": assignment.pk, "begin": "1"}
    )
    client = signed_in(world.staff)
    response = client.post(f"/interviews/assignments/{assignment.pk}/cancel/", follow=True)
    assert "cannot be cancelled" in response.content.decode()
    assert InterviewAssignment.objects.filter(pk=assignment.pk).exists()


def test_staff_set_an_accommodation_on_the_page(world: World) -> None:
    """Given staff, when they set +25% for the candidate, then it is saved, listed and audited; a
    percentage over 200 is a field error that changes nothing."""
    client = signed_in(world.staff)
    bad = client.post("/interviews/accommodations/", {"user_id": world.candidate.pk, "extra_time_percent": 201})
    assert bad.status_code == 400
    assert not Accommodation.objects.exists()

    response = client.post(
        "/interviews/accommodations/", {"user_id": world.candidate.pk, "extra_time_percent": 25, "reason": "Agreed"}
    )

    assert response.status_code == 302
    assert Accommodation.objects.get(user=world.candidate).extra_time_percent == 25
    page = client.get("/interviews/accommodations/").content.decode()
    assert f'data-user-id="{world.candidate.pk}"' in page
    assert "from now on" in page
    assert AuditEvent.objects.filter(action="interviews.accommodation_set").count() == 1


# ---------------------------------------------------------------- API
def test_the_api_lists_own_for_candidates_and_the_organisations_for_staff(world: World) -> None:
    """Given two candidates' assignments, then a candidate's list holds only theirs and staff's holds
    both; detail of another's id is 404 like a missing one; nothing leaks a key or band."""
    template = timed_template(world)
    mine = _assign(world, template_id=template.pk)
    other = MembershipFactory.create(organisation=world.organisation, role=Role.CANDIDATE).user
    theirs = _assign(world, candidate_id=other.pk)
    candidate = signed_in(world.candidate)

    own = candidate.get(API).json()
    assert [item["id"] for item in own["items"]] == [mine.pk]
    item = own["items"][0]
    assert (item["state"], item["attempts_left"], item["attempts_used"]) == ("open", 2, 0)
    assert item["calendar_url"] == f"/interviews/assignments/{mine.pk}/calendar.ics"
    assert item["template"] == {"id": template.pk, "title": template.title, "duration_minutes": 10}
    assert_no_secrets(own, template)
    staff = signed_in(world.staff).get(API).json()
    assert {entry["id"] for entry in staff["items"]} == {mine.pk, theirs.pk}
    hidden = candidate.get(f"{API}/{theirs.pk}")
    missing = candidate.get(f"{API}/{MISSING}")
    assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
    assert hidden.status_code == 404
    assert candidate.get(f"{API}/{mine.pk}").json()["id"] == mine.pk


def _body(w: World, **changes: Any) -> dict[str, Any]:
    opens, closes = _window(hours_from_now=1)
    body: dict[str, Any] = {
        "template_id": w.own.pk,
        "opens_at": opens.isoformat(),
        "closes_at": closes.isoformat(),
        "attempts_allowed": 3,
        "candidate_id": w.candidate.pk,
    }
    body.update(changes)
    return body


def test_staff_create_through_the_api(world: World) -> None:
    """Given staff, when they POST an assignment, then 201 with it (and it is audited); a candidate
    POSTing is 403 and nothing is written."""
    assert _json(signed_in(world.candidate), "post", API, _body(world)).status_code == 403
    assert not InterviewAssignment.objects.exists()

    response = _json(signed_in(world.staff), "post", API, _body(world, reviewer_id=world.mentor.pk))

    assert response.status_code == 201
    data = response.json()
    assert data["candidate"] == {"id": world.candidate.pk, "name": world.candidate.public_name}
    assert data["reviewer"] == {"id": world.mentor.pk, "name": world.mentor.public_name}
    assert (data["attempts_allowed"], data["state"]) == (3, "upcoming")
    assert InterviewAssignment.objects.get().pk == data["id"]
    assert AuditEvent.objects.filter(action="interviews.assignment_created").count() == 1


@pytest.mark.parametrize(
    ("changes", "status", "loc"),
    [
        ({"attempts_allowed": 0}, 422, ["body", "payload", "attempts_allowed"]),
        (
            {"closes_at": "2020-01-01T00:00:00Z", "opens_at": "2019-12-31T00:00:00Z"},
            422,
            ["body", "payload", "closes_at"],
        ),
        ({"opens_at": "2026-03-02T09:00:00"}, 422, ["body", "payload", "opens_at"]),  # no offset
        ({"candidate_id": None}, 422, ["body", "payload", "candidate_id"]),
        ({"email": "x@example.test"}, 422, ["body", "payload", "email"]),
        ({"template_id": "FOREIGN"}, 404, ["body", "payload", "template_id"]),
        ({"template_id": MISSING}, 404, ["body", "payload", "template_id"]),
        ({"candidate_id": "FOREIGN"}, 404, ["body", "payload", "candidate_id"]),
        ({"surprise": 1}, 422, ["body", "payload", "surprise"]),
    ],
)
def test_bad_api_bodies_answer_at_the_field_and_change_nothing(
    world: World, changes: dict[str, Any], status: int, loc: list[str]
) -> None:
    """Given a bad field (or another organisation's template or member, answered like a missing
    one), then the one error shape with the field's `loc`, and nothing is written."""
    if changes.get("template_id") == "FOREIGN":
        changes["template_id"] = world.foreign.pk
    if changes.get("candidate_id") == "FOREIGN":
        changes["candidate_id"] = world.other_staff.pk
    response = _json(signed_in(world.staff), "post", API, _body(world, **changes))
    assert response.status_code == status
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert not InterviewAssignment.objects.exists()


def test_accommodations_through_the_api(world: World) -> None:
    """Given staff, when they PUT +40% for the candidate, then 200 with it, the list shows it, and
    PUT 0 removes it; a foreign member is 404 like a missing one; a candidate gets 403."""
    staff = signed_in(world.staff)
    url = f"{ACCOMMODATIONS}/{world.candidate.pk}"

    response = _json(staff, "put", url, {"extra_time_percent": 40, "reason": "Agreed"})

    assert response.status_code == 200
    assert response.json()["extra_time_percent"] == 40
    assert response.json()["set_by"] == {"id": world.staff.pk, "name": world.staff.public_name}
    listed = staff.get(ACCOMMODATIONS).json()
    assert [(item["user"]["id"], item["extra_time_percent"]) for item in listed["items"]] == [(world.candidate.pk, 40)]
    removed = _json(staff, "put", url, {"extra_time_percent": 0})
    assert (removed.status_code, removed.json()["extra_time_percent"], removed.json()["updated_at"]) == (200, 0, None)
    assert not Accommodation.objects.exists()
    foreign = _json(staff, "put", f"{ACCOMMODATIONS}/{world.other_staff.pk}", {"extra_time_percent": 10})
    missing = _json(staff, "put", f"{ACCOMMODATIONS}/{MISSING}", {"extra_time_percent": 10})
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())
    assert foreign.status_code == 404
    assert _json(staff, "put", url, {"extra_time_percent": 201}).status_code == 422
    assert _json(signed_in(world.candidate), "put", url, {"extra_time_percent": 10}).status_code == 403
    assert signed_in(world.candidate).get(ACCOMMODATIONS).status_code == 403
    assert not Accommodation.objects.exists()


def test_the_schema_declares_the_email_format(world: World) -> None:
    """The OpenAPI schema says the body's `email` is an email (clients and the fuzzer read it)."""
    schema = Client().get("/api/openapi.json").json()
    body = schema["paths"][API]["post"]["requestBody"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[-1]
    email = schema["components"]["schemas"][ref]["properties"]["email"]
    assert [option.get("format") for option in email["anyOf"]] == ["email", None]
