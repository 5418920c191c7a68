"""/api/v1/notes: notes CRUD and search (django-ninja; session cookie + CSRF, the API's default auth).

Every lookup is scoped by the organisation bound to the session; a note the caller may not read,
and a lounge of another organisation, answer 404. Bad input answers 422 with one entry per field,
in the API's one error shape (`domains.common.api`): the schema's errors and the services'
`Refusal`s both go through `project.api.api_error`, so this router catches nothing itself. Every
parameter is bounded by its schema (ids to bigint, pages to 100 notes, text to storable characters),
so no input reaches the database as a value it cannot hold.
"""

from datetime import datetime
from typing import Annotated, Any

from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import StringConstraints, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import Organisation
from domains.common.api import ID_MAX, BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.common.validation import StorableStr
from domains.notes import retrieval, services
from domains.notes.models import BODY_MAX_BYTES, TAG_MAX, TAGS_MAX, TITLE_MAX, Note
from domains.notes.selectors import lounge_get_for_notes, note_get_for_user, note_list_for_user

router = Router(tags=["notes"])

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX)]
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        min_length=1,
        max_length=TAG_MAX,
        pattern=r"^[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*$",
    ),
]
# Characters, a first bound; the service checks the 100,000-byte UTF-8 limit exactly.
Body = Annotated[str, StringConstraints(max_length=BODY_MAX_BYTES)]
QUERY_MAX = 500


class NoteIn(InputSchema):
    title: Title
    body: Body = ""
    tags: list[Tag] = Field(default_factory=list, max_length=TAGS_MAX)
    pinned: bool = False
    lounge_id: int | None = Field(
        default=None, ge=1, le=ID_MAX, description="Share with this lounge (moderators only); empty: private."
    )


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class NotePatch(InputSchema):
    """Only the fields sent change. `lounge_id: null` makes the note private; the other fields may be
    left out but not sent as null, and the schema says so (None is the "not sent" marker only)."""

    title: Title | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_drop_default)
    body: Body | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_drop_default)
    tags: list[Tag] | SkipJsonSchema[None] = Field(default=None, max_length=TAGS_MAX, json_schema_extra=_drop_default)
    pinned: bool | SkipJsonSchema[None] = Field(default=None, json_schema_extra=_drop_default)
    lounge_id: int | None = Field(default=None, ge=1, le=ID_MAX)

    @field_validator("title", "body", "tags", "pinned", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:  # sent as null: a default is never validated, so this is not "left out"
            raise PydanticCustomError("not_null", "{name} cannot be null.", {"name": info.field_name})
        return value


class NoteOut(Schema):
    id: int
    title: str
    body: str
    tags: list[str]
    pinned: bool
    visibility: str
    lounge_id: int | None
    owner_id: int
    created_at: datetime
    updated_at: datetime


class NoteHitOut(Schema):
    note_id: int
    chunk_id: int
    title: str
    heading_path: str
    snippet: str = Field(description="HTML: escaped text with <mark> around matches.")
    char_start: int
    char_end: int
    score: float


class SearchOut(Schema):
    query: str
    results: list[NoteHitOut]


def _organisation(request: AuthenticatedRequest) -> Organisation:
    if request.organisation is None:
        raise HttpError(403, "You belong to no organisation.")
    return request.organisation


@router.get("", response=responses({200: list[NoteOut]}), summary="Notes I can read")
@paginate(BoundedLimitOffsetPagination)
def note_list(
    request: AuthenticatedRequest, tag: Annotated[StorableStr | None, Query(max_length=TAG_MAX)] = None
) -> Any:
    return note_list_for_user(user=request.user, organisation=_organisation(request), tag=tag)


@router.post(
    "", response=responses({201: NoteOut}), summary="Write a note (private, or shared with a lounge I moderate)"
)
def note_create(request: AuthenticatedRequest, payload: NoteIn) -> Status:
    organisation = _organisation(request)
    lounge = (
        lounge_get_for_notes(lounge_id=payload.lounge_id, organisation=organisation, user=request.user)
        if payload.lounge_id
        else None
    )
    note = services.note_create(
        user=request.user,
        organisation=organisation,
        title=payload.title,
        body=payload.body,
        tags=payload.tags,
        pinned=payload.pinned,
        lounge=lounge,
        request=request,
    )
    return Status(201, note)


@router.get("/search", response=responses({200: SearchOut}), summary="Search the notes I can read")
def note_search(
    request: AuthenticatedRequest,
    q: Annotated[StorableStr, Query(min_length=1, max_length=QUERY_MAX)],
    k: Annotated[int, Query(ge=1, le=50)] = 8,
) -> dict[str, Any]:
    hits = retrieval.notes_search(
        organisation=_organisation(request), user=request.user, query=q, k=k, load_models=False
    )
    return {"query": q, "results": hits}


@router.get("/{int:note_id}", response=responses({200: NoteOut}), summary="One note")
def note_get(request: AuthenticatedRequest, note_id: ObjectId) -> Note:
    return note_get_for_user(note_id=note_id, user=request.user, organisation=_organisation(request))


def _update(request: AuthenticatedRequest, note_id: int, fields: dict[str, Any]) -> Note:
    organisation = _organisation(request)
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=organisation)
    changes: dict[str, Any] = {name: fields[name] for name in ("title", "body", "tags", "pinned") if name in fields}
    if "lounge_id" in fields:
        lounge_id = fields["lounge_id"]
        changes["lounge"] = (
            lounge_get_for_notes(lounge_id=lounge_id, organisation=organisation, user=request.user)
            if lounge_id
            else None
        )
    return services.note_update(note=note, user=request.user, request=request, **changes)


@router.put("/{int:note_id}", response=responses({200: NoteOut}), summary="Replace a note")
def note_put(request: AuthenticatedRequest, note_id: ObjectId, payload: NoteIn) -> Note:
    return _update(request, note_id, payload.model_dump())


@router.patch("/{int:note_id}", response=responses({200: NoteOut}), summary="Change some fields of a note")
def note_patch(request: AuthenticatedRequest, note_id: ObjectId, payload: NotePatch) -> Note:
    return _update(request, note_id, payload.model_dump(exclude_unset=True))


@router.delete("/{int:note_id}", response=responses({204: None}), summary="Delete a note and its passages")
def note_delete(request: AuthenticatedRequest, note_id: ObjectId) -> Status:
    note = note_get_for_user(note_id=note_id, user=request.user, organisation=_organisation(request))
    services.note_delete(note=note, user=request.user, request=request)
    return Status(204, None)
