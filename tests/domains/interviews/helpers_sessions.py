"""Shared bits of the session tests: a short timed template with a per-question limit, and the
strings a candidate must never receive."""

from __future__ import annotations

import json
from typing import Any

from domains.interviews import content
from domains.interviews.catalogue import bands
from domains.interviews.models import InterviewTemplate, Question
from tests.domains.interviews.helpers import World, question_data, template_data


def _bands(name: str) -> list[dict[str, Any]]:
    return bands(*(f"SECRET-BAND-{name}-{level}" for level in ("strong", "good", "developing", "weak")))


def timed_template(world: World, *, minutes: int = 10, question_seconds: int | None = None) -> InterviewTemplate:
    """An organisation template with an MC question then an open one (secrets marked for the leak check)."""
    questions = [
        question_data("multiple_choice", reference_answer="SECRET-REFERENCE-MC", rubric_bands=_bands("MC")),
        question_data("open", reference_answer="SECRET-REFERENCE-OPEN", rubric_bands=_bands("OPEN")),
    ]
    return content.template_create(
        organisation=world.organisation,
        user=world.staff,
        **template_data(
            title=f"Timed {minutes}", duration_minutes=minutes, question_seconds=question_seconds, questions=questions
        ),
    )


def secrets_of(template: InterviewTemplate) -> list[str]:
    """Every reference answer, rubric band descriptor and the MC key of the template's questions."""
    found: list[str] = []
    for question in Question.objects.filter(template=template):
        found.append(question.reference_answer)
        found.extend(band["descriptor"] for band in question.rubric_bands)
    found.extend(['"rubric_bands"', '"reference_answer"', '"answer_key"'])
    return [secret for secret in found if secret]


def assert_no_secrets(payload: Any, template: InterviewTemplate) -> None:
    text = payload if isinstance(payload, str) else json.dumps(payload, default=str)
    for secret in secrets_of(template):
        assert secret not in text, f"candidate payload leaks {secret!r}"
