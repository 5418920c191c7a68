"""The world the interview tests share (helpers B and C may import it): two organisations, each with
staff, a mentor, a learner and a candidate who accepted the policies; the public catalogue seeded;
and one template of each organisation's own.

    from tests.domains.interviews.helpers import World, world  # noqa: F401 - the fixture

or `world_make()` where a fixture does not fit. And the report PDF's readers: `pdf_streams` (every
stream, inflated) and `pdf_text` (its printed lines, decoded through the embedded font's maps).
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from pypdf import PdfReader

from domains.accounts.models import Organisation, Role, User
from domains.compliance.services import consent_record, policy_current_list, policy_publish
from domains.interviews import content
from domains.interviews.catalogue import bands
from domains.interviews.models import InterviewTemplate
from tests.factories import MembershipFactory, OrganisationFactory


@dataclass
class World:
    organisation: Organisation
    staff: User
    mentor: User
    learner: User
    candidate: User
    own: InterviewTemplate  # the organisation's own template (2 questions: MC + open)
    other: Organisation
    other_staff: User
    foreign: InterviewTemplate  # the other organisation's own template

    @property
    def public(self) -> InterviewTemplate:
        """A public catalogue template (the Python backend one: MC and open questions)."""
        return InterviewTemplate.objects.get(organisation=None, slug="python-backend-junior")


def question_data(kind: str = "open", **changes: Any) -> dict[str, Any]:
    """One valid question for `template_create` (or the API's body)."""
    data: dict[str, Any] = {
        "question_type": kind,
        "prompt": f"A {kind} question?",
        "reference_answer": "What a strong answer says.",
        "rubric_bands": bands("All of it.", "Most of it.", "Some of it.", "None of it."),
        "topics": ["testing"],
    }
    if kind == "multiple_choice":
        data["choices"] = [{"id": "a", "text": "Yes"}, {"id": "b", "text": "No"}]
        data["answer_key"] = ["a"]
    data.update(changes)
    return data


def template_data(**changes: Any) -> dict[str, Any]:
    """A valid organisation template with two questions (MC, then open)."""
    data: dict[str, Any] = {
        "title": "Our screen",
        "role": "QA engineer",
        "interview_type": "technical",
        "difficulty": "easy",
        "level": "junior",
        "duration_minutes": 20,
        "rubric": "Accurate and clear.",
        "questions": [question_data("multiple_choice"), question_data("open")],
    }
    data.update(changes)
    return data


def consented(user: User) -> User:
    consent_record(user=user, documents=policy_current_list(), request=None)
    return user


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def world_make() -> World:
    policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy")
    policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms")
    content.seed_public_templates()
    organisation = OrganisationFactory.create(name="Acme School")
    other = OrganisationFactory.create(name="Other School")

    def member(org: Organisation, role: str, name: str) -> User:
        return consented(MembershipFactory.create(organisation=org, role=role, user__display_name=name).user)

    staff = member(organisation, Role.STAFF, "Stella Staff")
    other_staff = member(other, Role.STAFF, "Otto Other")
    own = content.template_create(organisation=organisation, user=staff, **template_data())
    foreign = content.template_create(organisation=other, user=other_staff, **template_data(title="Their screen"))
    return World(
        organisation=organisation,
        staff=staff,
        mentor=member(organisation, Role.MENTOR, "Max Mentor"),
        learner=member(organisation, Role.LEARNER, "Lea Learner"),
        candidate=member(organisation, Role.CANDIDATE, "Cai Candidate"),
        own=own,
        other=other,
        other_staff=other_staff,
        foreign=foreign,
    )


@pytest.fixture
def world(db: None) -> World:
    return world_make()


# ---------------------------------------------------------------- reading the report's PDF
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", flags=re.DOTALL)


def _inflate(raw: bytes) -> bytes:
    try:
        return zlib.decompress(raw)
    except zlib.error:
        return raw


def pdf_streams(pdf: bytes) -> bytes:
    """Every stream of the PDF, inflated where it is compressed."""
    return b"\n".join(_inflate(raw) for raw in _STREAM.findall(pdf))


def pdf_text(pdf: bytes) -> list[str]:
    """The PDF's text lines, every page's, as pypdf extracts them through the embedded font's
    ToUnicode map (fpdf2 drops a letter its font cannot draw, so a missing glyph is a missing letter)."""
    reader = PdfReader(io.BytesIO(pdf))
    return [line.strip() for page in reader.pages for line in page.extract_text().splitlines() if line.strip()]
