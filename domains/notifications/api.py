"""/api/v1/notifications: the session user's notifications (list, mark read) and email preferences
(django-ninja; session cookie + CSRF, the API's default auth).

Everything is the caller's own, whichever organisation they are in: another person's notification
answers 404, exactly like a missing one. Errors take the API's one shape (`domains.common.api`)
through `project.api.api_error`; a refused preference is located at its item
(`["body", "payload", "preferences", 0, "delivery"]`), as a schema error there would be.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import Http404
from ninja import Field, Query, Router, Schema
from ninja.errors import ValidationError
from ninja.pagination import paginate
from pydantic import StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import User
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.notifications import services
from domains.notifications.kinds import Delivery, kind_find, kinds_all
from domains.notifications.models import Notification
from domains.notifications.selectors import notification_list_for_user, preferences_for_user, unread_count

router = Router(tags=["notifications"])

PriorityName = Literal["low", "normal", "high"]
KIND_MAX = Notification._meta.get_field("kind").max_length


class NotificationOut(Schema):
    id: int
    kind: str
    priority: PriorityName = Field(description="The kind's: how long a toast stays.")
    title: str
    body: str
    link: str = Field(description='A path on this site, or "".')
    created_at: datetime
    read_at: datetime | None
    read: bool

    @staticmethod
    def resolve_priority(obj: Notification) -> str:
        kind = kind_find(obj.kind)
        return kind.priority.value if kind is not None else "normal"  # a kind retired since

    @staticmethod
    def resolve_read(obj: Notification) -> bool:
        return obj.read_at is not None


class UnreadOut(Schema):
    unread: int


class ReadAllOut(Schema):
    marked: int = Field(description="How many were unread.")
    unread: int


class PreferenceOut(Schema):
    kind: str
    label: str
    priority: PriorityName
    email: bool = Field(description="May this kind be emailed at all; if not, its delivery is always off.")
    delivery: Delivery
    default: Delivery


# The registry is complete once every app is ready, and the schema is built per request of
# /api/openapi.json, so these describe the kinds registered now.
def _kind_enum(schema: dict[str, Any]) -> None:
    schema["enum"] = [kind.name for kind in kinds_all()]


def _as_many_as_kinds(schema: dict[str, Any]) -> None:
    schema["maxItems"] = len(kinds_all())


def _never_emailed_only_off(schema: dict[str, Any]) -> None:
    never = [kind.name for kind in kinds_all() if not kind.email]
    if never:
        emailed = [kind.name for kind in kinds_all() if kind.email]
        schema["anyOf"] = [
            {"properties": {"kind": {"enum": emailed}}},
            {"properties": {"kind": {"enum": never}, "delivery": {"const": Delivery.OFF.value}}},
        ]


class PreferenceIn(InputSchema):
    model_config = {"json_schema_extra": _never_emailed_only_off}

    kind: Annotated[str, StringConstraints(min_length=1, max_length=KIND_MAX)] = Field(json_schema_extra=_kind_enum)
    delivery: Delivery


class PreferencesIn(InputSchema):
    preferences: list[PreferenceIn] = Field(
        # A kind named twice is not refused: every schema-valid body is accepted, so in order, last wins.
        description="Kinds left out keep their setting; applied in order (a kind named twice: the last wins).",
        json_schema_extra=_as_many_as_kinds,
    )

    @field_validator("preferences", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        # Before the items are validated: a list longer than the registry is refused unread.
        limit = len(kinds_all())
        if isinstance(value, list) and len(value) > limit:
            raise PydanticCustomError("too_long", "At most {limit} preferences, one for each kind.", {"limit": limit})
        return value


@router.get("", response=responses({200: list[NotificationOut]}), summary="My notifications, newest first")
@paginate(BoundedLimitOffsetPagination)
def notification_list(request: AuthenticatedRequest, unread: Annotated[bool, Query()] = False) -> Any:
    return notification_list_for_user(user=request.user, unread=unread)


@router.get("/unread-count", response=responses({200: UnreadOut}), summary="How many of mine are unread")
def notification_unread_count(request: AuthenticatedRequest) -> dict[str, int]:
    return {"unread": unread_count(user=request.user)}


@router.post("/read-all", response=responses({200: ReadAllOut}), summary="Mark all mine read (every tab updates)")
def notification_read_all(request: AuthenticatedRequest) -> dict[str, int]:
    marked = services.notifications_read_all(user=request.user)
    return {"marked": marked, "unread": unread_count(user=request.user)}


@router.post(
    "/{int:notification_id}/read",
    response=responses({200: NotificationOut}),
    summary="Mark one read (again: no change; every tab updates)",
)
def notification_read(request: AuthenticatedRequest, notification_id: ObjectId) -> Notification:
    try:
        return services.notification_read(user=request.user, notification_id=notification_id)
    except Notification.DoesNotExist:
        raise Http404("No such notification.") from None


def _preferences(user: User) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind.name,
            "label": str(kind.label),
            "priority": kind.priority.value,
            "email": kind.email,
            "delivery": delivery,
            "default": kind.default,
        }
        for kind, delivery in preferences_for_user(user=user)
    ]


@router.get("/preferences", response=responses({200: list[PreferenceOut]}), summary="How each kind's email reaches me")
def preference_list(request: AuthenticatedRequest) -> list[dict[str, Any]]:
    return _preferences(request.user)


@router.put(
    "/preferences",
    response=responses({200: list[PreferenceOut]}),
    summary="Choose how kinds' email reaches me (all or nothing); answers every kind",
)
def preference_update(request: AuthenticatedRequest, payload: PreferencesIn) -> list[dict[str, Any]]:
    choices = [(choice.kind, choice.delivery) for choice in payload.preferences]
    try:
        services.preferences_set(user=request.user, choices=choices)
    except services.PreferencesRefusedError as refused:
        raise ValidationError(
            [
                {"loc": (*where, field) if field else where, "msg": message, "type": refusal.code}
                for index, refusal in sorted(refused.refusals.items())
                for where in [("body", "payload", "preferences", index)]
                for field, messages in (refusal.field_errors() or {"": [refusal.message]}).items()
                for message in messages
            ]
        ) from None
    return _preferences(request.user)
