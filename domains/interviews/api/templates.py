"""/api/v1/interviews/templates: the catalogue (list, one), and staff creating their organisation's.

Every member sees the public templates and their organisation's own; another organisation's, and
a missing id, answer 404 alike. No answer here carries an answer key, a reference answer or rubric
bands: a template's questions are summarised as counts by type and topics only. Creating is for the
organisation's staff (403 otherwise), checked field by field (422, one entry per field; a
question's field as `questions[<i>].<field>`), and limited per person and hour (429).
"""

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import StringConstraints

from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import Organisation
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.interviews import content
from domains.interviews.models import Difficulty, InterviewTemplate, InterviewType, Level, QuestionType

router = Router()


class TemplateOut(Schema):
    id: int
    title: str
    role: str
    interview_type: InterviewType
    difficulty: Difficulty
    level: Level
    duration_minutes: int
    question_seconds: int | None = Field(description="A limit per question, in seconds; null: only the whole duration.")
    question_count: int = Field(description="How many questions a session asks.")
    follow_ups: bool = Field(description="The AI interviewer may ask one follow-up per written answer, on request.")
    public: bool = Field(description="A public catalogue template (read-only), else the organisation's own.")
    created_at: datetime

    @staticmethod
    def resolve_public(obj: InterviewTemplate) -> bool:
        return obj.is_public


class TemplateDetailOut(TemplateOut):
    question_types: dict[str, int] = Field(description="Questions in the bank, by type (never their content).")
    topics: list[str] = Field(description="Topics the questions cover.")


Topic = Annotated[str, StringConstraints(min_length=1, max_length=content.TOPIC_MAX, pattern=content.TOPIC.pattern)]


class ChoiceIn(InputSchema):
    id: Annotated[str, StringConstraints(pattern=content.CHOICE_ID.pattern)]
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.CHOICE_TEXT_MAX)]


class BandIn(InputSchema):
    band: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.BAND_NAME_MAX)]
    min: int = Field(ge=0, le=100)
    max: int = Field(ge=0, le=100)
    descriptor: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.DESCRIPTOR_MAX)
    ]


class QuestionIn(InputSchema):
    question_type: QuestionType
    prompt: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.PROMPT_MAX)]
    reference_answer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.REFERENCE_MAX)
    ]
    rubric_bands: list[BandIn] = Field(
        min_length=1, max_length=content.BANDS_MAX, description="From the top band down, covering 100 to 0."
    )
    topics: list[Topic] = Field(min_length=1, max_length=content.TOPICS_MAX)
    choices: list[ChoiceIn] = Field(
        default_factory=list, max_length=content.CHOICES_MAX, description="Multiple choice only."
    )
    answer_key: list[Annotated[str, StringConstraints(pattern=content.CHOICE_ID.pattern)]] = Field(
        default_factory=list, max_length=content.CHOICES_MAX, description="Multiple choice only: the correct ids."
    )
    seconds: int | None = Field(default=None, ge=content.QUESTION_SECONDS_MIN, le=content.DURATION_MAX * 60)


class TemplateIn(InputSchema):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.TITLE_MAX)]
    role: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.ROLE_MAX)]
    interview_type: InterviewType
    difficulty: Difficulty
    level: Level
    duration_minutes: int = Field(ge=content.DURATION_MIN, le=content.DURATION_MAX)
    question_seconds: int | None = Field(
        default=None, ge=content.QUESTION_SECONDS_MIN, le=content.DURATION_MAX * 60, description="Per question."
    )
    question_count: int | None = Field(
        default=None, ge=1, le=content.QUESTIONS_MAX, description="Default: every question."
    )
    rubric: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=content.RUBRIC_MAX)]
    follow_ups: bool = Field(
        default=False, description="Let the AI interviewer ask one follow-up per written answer, on request."
    )
    questions: list[QuestionIn] = Field(min_length=1, max_length=content.QUESTIONS_MAX)


def _organisation(request: AuthenticatedRequest) -> Organisation:
    if request.organisation is None:
        raise HttpError(403, "You belong to no organisation.")
    return request.organisation


@router.get(
    "/templates", response=responses({200: list[TemplateOut]}), summary="Interview templates I can see (catalogue)"
)
@paginate(BoundedLimitOffsetPagination)
def template_list(
    request: AuthenticatedRequest,
    interview_type: Annotated[InterviewType | None, Query()] = None,
    difficulty: Annotated[Difficulty | None, Query()] = None,
    level: Annotated[Level | None, Query()] = None,
) -> Any:
    return content.template_list_for_user(
        user=request.user,
        organisation=_organisation(request),
        interview_type=interview_type,
        difficulty=difficulty,
        level=level,
    )


@router.post(
    "/templates",
    response=responses({201: TemplateDetailOut}),
    summary="Create an organisation template with its questions (staff)",
)
def template_create(request: AuthenticatedRequest, payload: TemplateIn) -> Status[InterviewTemplate]:
    data = payload.model_dump()
    template = content.template_create(
        organisation=_organisation(request),
        user=request.user,
        title=data["title"],
        role=data["role"],
        interview_type=data["interview_type"],
        difficulty=data["difficulty"],
        level=data["level"],
        duration_minutes=data["duration_minutes"],
        question_seconds=data["question_seconds"],
        question_count=data["question_count"],
        rubric=data["rubric"],
        questions=data["questions"],
        follow_ups=data["follow_ups"],
        request=request,
    )
    return Status(201, _detail(template))


@router.get(
    "/templates/{int:template_id}",
    response=responses({200: TemplateDetailOut}),
    summary="One template: its settings and what its questions cover (no keys, references or rubric)",
)
def template_detail(request: AuthenticatedRequest, template_id: ObjectId) -> InterviewTemplate:
    template = content.template_get_for_user(
        user=request.user, organisation=_organisation(request), template_id=template_id
    )
    return _detail(template)


def _detail(template: InterviewTemplate) -> InterviewTemplate:
    """The template with its question summary attached for `TemplateDetailOut`."""
    summary = content.template_summary(template=template)
    setattr(template, "question_types", summary.question_types)  # noqa: B010 - not model fields
    setattr(template, "topics", summary.topics)  # noqa: B010 - not model fields
    return template
