"""Interview content over HTTP: /api/v1/interviews/templates and the catalogue, template and review
queue pages. No candidate-facing answer carries a key, a reference answer or rubric bands; a
foreign id answers like a missing one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from domains.interviews.models import InterviewTemplate, Question, QuestionDraft
from tests.domains.interviews.helpers import World, signed_in, template_data, world_make

pytestmark = pytest.mark.django_db

API = "/api/v1/interviews/templates"
MISSING = 2**62


@pytest.fixture
def world(db: None) -> World:
    return world_make()


def _secrets(template: InterviewTemplate) -> list[str]:
    """Every string a candidate must never receive for this template."""
    found: list[str] = [template.rubric]
    for question in template.questions.all():
        found.append(question.reference_answer)
        found.extend(band["descriptor"] for band in question.rubric_bands)
    return found


def _post(client: Client, body: Any) -> Any:
    return client.post(API, json.dumps(body), content_type="application/json")


# ---------------------------------------------------------------- API
def test_the_list_pages_and_filters_and_holds_public_and_own_templates(world: World) -> None:
    """A learner's list holds the public templates and the organisation's, never another's; it
    pages by `limit`/`offset` and filters by type, difficulty and level; a bad filter is 422."""
    client = signed_in(world.learner)

    everything = client.get(API).json()
    page = client.get(API, {"limit": 2, "offset": 1}).json()
    hard = client.get(API, {"difficulty": "hard"}).json()

    ids = {item["id"] for item in everything["items"]}
    assert ids == {*InterviewTemplate.objects.filter(organisation=None).values_list("pk", flat=True), world.own.pk}
    assert world.foreign.pk not in ids
    assert everything["count"] == len(ids)
    assert [item["id"] for item in page["items"]] == [item["id"] for item in everything["items"]][1:3]
    assert [(item["title"], item["public"]) for item in hard["items"]] == [
        ("System design: scale and trade-offs", True)
    ]
    own = next(item for item in everything["items"] if item["id"] == world.own.pk)
    assert own["public"] is False
    assert client.get(API, {"level": "guru"}).status_code == 422


def test_the_detail_is_candidate_safe_and_a_foreign_id_answers_like_a_missing_one(world: World) -> None:
    """A candidate's detail of a public template has its settings, counts by type and topics, and
    none of its keys, reference answers, band descriptors or rubric; a foreign and a missing id
    give the same 404."""
    client = signed_in(world.candidate)
    template = world.public

    response = client.get(f"{API}/{template.pk}")
    refused = client.get(f"{API}/{world.foreign.pk}")
    missing = client.get(f"{API}/{MISSING}")

    assert response.status_code == 200
    body = response.json()
    assert body["question_types"] == {"multiple_choice": 3, "open": 3}
    assert body["topics"][:2] == ["python", "data-structures"]
    assert (body["duration_minutes"], body["question_count"], body["public"]) == (30, 6, True)
    text = response.content.decode()
    for secret in _secrets(template):
        assert secret not in text
    assert "answer_key" not in text
    assert "rubric" not in text
    assert (refused.status_code, refused.json()) == (missing.status_code, missing.json())
    assert refused.status_code == 404


def test_staff_create_a_template_through_the_api(world: World) -> None:
    """Staff POST a template with its questions: 201, the detail shape, and the rows stored."""
    response = _post(signed_in(world.staff), template_data(title="API made"))

    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["public"], body["question_types"]) == (
        "API made",
        False,
        {"multiple_choice": 1, "open": 1},
    )
    template = InterviewTemplate.objects.get(pk=body["id"])
    assert template.organisation == world.organisation
    assert template.questions.count() == 2


def test_a_learner_may_not_create_templates(world: World) -> None:
    before = InterviewTemplate.objects.count()
    response = _post(signed_in(world.learner), template_data())
    assert response.status_code == 403
    assert InterviewTemplate.objects.count() == before


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"title": ""}, ["body", "payload", "title"]),
        ({"duration_minutes": 0}, ["body", "payload", "duration_minutes"]),
        ({"level": "guru"}, ["body", "payload", "level"]),
        ({"questions": []}, ["body", "payload", "questions"]),
    ],
)
def test_bad_fields_are_422_at_their_field_and_change_nothing(
    world: World, change: dict[str, Any], loc: list[Any]
) -> None:
    before = (InterviewTemplate.objects.count(), Question.objects.count())
    response = _post(signed_in(world.staff), template_data(**change))
    assert response.status_code == 422
    assert loc in [error["loc"] for error in response.json()["errors"]]
    assert (InterviewTemplate.objects.count(), Question.objects.count()) == before


def test_a_question_fault_the_service_finds_is_422_at_the_questions_field(world: World) -> None:
    """A multiple-choice key naming no choice passes the schema and is refused by the service, at
    `questions[0].answer_key`."""
    data = template_data()
    data["questions"][0]["answer_key"] = ["z"]
    response = _post(signed_in(world.staff), data)
    assert response.status_code == 422
    assert [error["loc"] for error in response.json()["errors"]] == [["body", "payload", "questions[0].answer_key"]]


# ---------------------------------------------------------------- pages
def test_the_catalogue_page_filters(world: World) -> None:
    client = signed_in(world.learner)
    page = client.get("/interviews/templates/", {"interview_type": "behavioural"})
    assert page.status_code == 200
    text = page.content.decode()
    assert "Behavioural essentials" in text
    assert "Python backend basics" not in text
    assert world.foreign.title not in client.get("/interviews/templates/").content.decode()
    assert client.get("/interviews/templates/", {"level": "guru"}).status_code == 400


def test_the_template_page_shows_rules_and_never_the_answers(world: World) -> None:
    """A candidate's template page has the duration, the per-question limit, what counts at the
    deadline and a start button for that template, and none of its secrets; a foreign template is 404."""
    client = signed_in(world.candidate)
    template = InterviewTemplate.objects.get(organisation=None, slug="behavioural-essentials")

    page = client.get(f"/interviews/templates/{template.pk}/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "40 minutes" in text
    assert "480 seconds" in text
    assert "the last autosaved answer counts" in text
    assert f'name="template_id" value="{template.pk}"' in text
    assert f'action="{reverse("interviews:session_start")}"' in text
    for secret in _secrets(template):
        assert secret not in text
    assert client.get(f"/interviews/templates/{world.foreign.pk}/").status_code == 404
    assert client.get(f"/interviews/templates/{MISSING}/").status_code == 404


def test_staff_draft_approve_and_reject_from_the_review_queue(world: World, settings: Any) -> None:
    """Staff draft two questions offline from the queue page, see them marked offline, approve one
    (it joins the template) and reject the other; a learner gets 403 for the queue."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    client = signed_in(world.staff)

    drafted = client.post("/interviews/review/", {"template": world.own.pk, "count": 2, "job_description": ""})
    assert drafted.status_code == 302
    queue = client.get("/interviews/review/").content.decode()
    first, second = QuestionDraft.objects.filter(template=world.own).order_by("pk")
    assert first.prompt in queue
    assert "Drafted offline from the template (no AI model)" in queue

    assert client.post(f"/interviews/review/{first.pk}/approve/").status_code == 302
    assert client.post(f"/interviews/review/{second.pk}/reject/").status_code == 302
    assert list(world.own.questions.values_list("prompt", flat=True))[-1] == first.prompt
    assert set(QuestionDraft.objects.values_list("status", flat=True)) == {"approved", "rejected"}
    assert signed_in(world.learner).get("/interviews/review/").status_code == 403


def test_a_bad_draft_request_is_a_form_error_and_drafts_nothing(world: World, settings: Any) -> None:
    settings.AI_DEFAULT_PROVIDER = "offline"
    client = signed_in(world.staff)
    for data in (
        {"template": world.own.pk, "count": 0},
        {"template": world.own.pk, "count": settings.INTERVIEWS_DRAFT_MAX + 1},
        {"template": world.foreign.pk, "count": 1},
        {"template": world.public.pk, "count": 1},
    ):
        assert client.post("/interviews/review/", data).status_code == 400, data
    assert QuestionDraft.objects.count() == 0


def test_another_organisations_staff_cannot_review_a_draft(world: World, settings: Any) -> None:
    """A draft id of another organisation answers 404, like a missing one, and stays waiting."""
    settings.AI_DEFAULT_PROVIDER = "offline"
    signed_in(world.staff).post("/interviews/review/", {"template": world.own.pk, "count": 1})
    draft = QuestionDraft.objects.get()
    other = signed_in(world.other_staff)
    assert other.post(f"/interviews/review/{draft.pk}/approve/").status_code == 404
    assert other.post(f"/interviews/review/{MISSING}/approve/").status_code == 404
    assert QuestionDraft.objects.get().status == "draft"


# ---------------------------------------------------------------- query counts
# The API list: the session's user, the organisation binding and its roles (the middleware's),
# the member's roles again (the selector's), the page's count and its rows. None per template.
TEMPLATE_LIST_QUERIES = 6
# The catalogue page: the user, the organisation and roles, the consent check (two policy reads
# and the consents), the selector's roles, the count, the staff link's roles, the unread
# notifications (base.html), the rows, and the session's save (savepoint, update, release).
CATALOGUE_PAGE_QUERIES = 14


@pytest.mark.parametrize("extra", [0, 5])
def test_the_template_list_costs_a_fixed_number_of_queries(
    world: World, django_assert_num_queries: Any, extra: int
) -> None:
    """Whatever the number of templates, listing them costs the same queries (API and page)."""
    for n in range(extra):
        InterviewTemplate.objects.create(
            organisation=world.organisation,
            slug=f"more-{n}",
            title=f"More {n}",
            role="Tester",
            interview_type="technical",
            difficulty="easy",
            level="junior",
            duration_minutes=10,
            question_count=1,
            rubric="r",
        )
    client = signed_in(world.learner)
    client.get(API)  # warm the session
    with django_assert_num_queries(TEMPLATE_LIST_QUERIES):
        assert client.get(API).status_code == 200
    with django_assert_num_queries(CATALOGUE_PAGE_QUERIES):
        assert client.get("/interviews/templates/").status_code == 200
