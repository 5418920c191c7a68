"""/api/v1/users: the signed-in person's own account (issue 15 §3), and the two anonymous
password-reset operations. docs/account.md describes every operation exactly.

Signed-in operations use the API's default auth (the session cookie, and CSRF on unsafe methods).
The two anonymous ones (`auth=None`) skip the API's anonymous throttle, which lives in the auth
(domains/common/api_throttle.py), so their services take tokens from buckets of their own.
Refusals go through `project.api.api_error` like everywhere: this router catches nothing.
"""

from datetime import datetime
from typing import Annotated, Any

from allauth.usersessions.models import UserSession
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import StringConstraints, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from domains.accounts import services
from domains.accounts.http import AuthenticatedRequest
from domains.accounts.models import TIME_ZONE_CHOICES, User
from domains.accounts.selectors import user_email_verified, user_session_list
from domains.accounts.sessions import device_describe
from domains.common.api import BoundedLimitOffsetPagination, InputSchema, ObjectId, responses
from domains.common.auth import authenticated_by_app_token, authenticated_by_personal_token, login_session_key
from domains.compliance.models import AuditEvent
from domains.compliance.selectors import audit_events_for_person

router = Router(tags=["users"])

Password = Annotated[str, StringConstraints(max_length=services.PASSWORD_MAX)]
# The schema states the whole contract, so a client (and schemathesis) knows what is accepted: a
# name with something besides whitespace (Python's, Rust's and ECMAScript's, which differ), and a
# time zone from the list. The services check both again.
DisplayName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=services.DISPLAY_NAME_MAX, pattern=r"[^\s\x1c-\x1f\x85\ufeff]"),
]
TIME_ZONES = [name for name, _ in TIME_ZONE_CHOICES]
TimeZoneName = Annotated[str, StringConstraints(max_length=64)]


def _drop_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _time_zone_schema(schema: dict[str, Any]) -> None:
    _drop_default(schema)
    schema["enum"] = TIME_ZONES


class OrganisationRef(Schema):
    id: int
    name: str
    slug: str


class MeOut(Schema):
    id: int
    email: str
    display_name: str
    time_zone: str
    email_verified: bool
    organisation: OrganisationRef | None = Field(description="The organisation this session is bound to.")
    roles: list[str] = Field(description="Your roles in that organisation, sorted; empty without one.")


class MePatch(InputSchema):
    """Only the fields sent change; neither may be null. None is only the "not sent" default (never
    validated), so the types leave it out and a bad value gets one error, not one per union branch."""

    display_name: DisplayName = Field(  # type: ignore[assignment]  # None: not sent
        default=None,
        json_schema_extra=_drop_default,
        description="1 to 80 characters, not only whitespace; runs of whitespace are collapsed to one space.",
    )
    time_zone: TimeZoneName = Field(  # type: ignore[assignment]  # None: not sent
        default=None, json_schema_extra=_time_zone_schema, description="An IANA time zone name, e.g. Europe/Berlin."
    )

    @field_validator("display_name", "time_zone", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            raise PydanticCustomError("not_null", "{name} cannot be null.", {"name": info.field_name})
        return value


class PasswordChangeIn(InputSchema):
    current_password: Password = Field(description='Your current password ("" only if the account has none).')
    new_password: Password


class VerificationOut(Schema):
    email: str = Field(description="The address the verification mail went to.")


class PasswordResetIn(InputSchema):
    email: Annotated[str, StringConstraints(max_length=254), Field(json_schema_extra={"format": "email"})]


class PasswordResetConfirmIn(InputSchema):
    key: Annotated[str, StringConstraints(max_length=200)] = Field(
        description="The last path segment of the emailed link /accounts/password/reset/key/<key>/."
    )
    password: Password


class ActivityOrganisation(Schema):
    id: int
    name: str


class ActivityOut(Schema):
    id: int
    action: str
    at: datetime
    ip_address: str | None
    organisation: ActivityOrganisation | None

    @staticmethod
    def resolve_at(event: AuditEvent) -> datetime:
        return event.created_at

    @staticmethod
    def resolve_ip_address(event: AuditEvent, context: Any) -> str | None:
        # The address is the actor's: shown for what the person did, never for what someone else
        # (staff, say) did to their account.
        request = context["request"]
        return str(event.ip_address) if event.ip_address and event.actor_id == request.user.pk else None


class SessionOut(Schema):
    id: int
    device: str = Field(description='Browser and system, e.g. "Firefox 128 on Ubuntu"; "Unknown device" otherwise.')
    browser: str | None
    os: str | None
    user_agent: str
    ip: str
    created_at: datetime
    last_seen_at: datetime
    current: bool = Field(description="Whether this is the session making the call.")


def _session_out(session: UserSession, current_key: str | None) -> dict[str, Any]:
    device = device_describe(session.user_agent or "")
    return {
        "id": session.pk,
        "device": device.label,
        "browser": device.browser,
        "os": device.os,
        "user_agent": session.user_agent,
        "ip": session.ip,
        "created_at": session.created_at,
        "last_seen_at": session.last_seen_at,
        "current": session.session_key == current_key,
    }


def _me(request: AuthenticatedRequest, user: User) -> dict[str, Any]:
    organisation = request.organisation
    return {
        "id": user.pk,
        "email": user.email,
        "display_name": user.display_name,
        "time_zone": user.time_zone,
        "email_verified": user_email_verified(user=user),
        "organisation": organisation,
        "roles": sorted(request.roles) if organisation is not None else [],
    }


def _account(request: AuthenticatedRequest) -> User:
    """The caller, acting on their own account: a session or an app's access token, never a
    personal access token (a script's token is scoped to one organisation; the account's password,
    sessions and activity span them all, and a token must not widen itself into a login)."""
    if authenticated_by_personal_token(request):
        raise PermissionDenied("A personal access token cannot act on the account: sign in instead.")
    return request.user


@router.get("/me", response=responses({200: MeOut}), summary="My account")
def me_get(request: AuthenticatedRequest) -> dict[str, Any]:
    return _me(request, request.user)


@router.patch("/me", response=responses({200: MeOut}), summary="Change my name or time zone")
def me_update(request: AuthenticatedRequest, payload: MePatch) -> dict[str, Any]:
    user = services.user_profile_update(
        user=_account(request), display_name=payload.display_name, time_zone=payload.time_zone, request=request
    )
    return _me(request, user)


@router.post("/me/password", response=responses({204: None}), summary="Change my password")
def me_password_change(request: AuthenticatedRequest, payload: PasswordChangeIn) -> Status:
    services.user_password_change(
        request=request,
        user=_account(request),
        current_password=payload.current_password,
        new_password=payload.new_password,
        # An app's access token: keep its own login session signed in (a cookie caller's is `request.session`).
        app_session_key=login_session_key(request) if authenticated_by_app_token(request) else None,
    )
    return Status(204, None)


@router.post(
    "/me/email/verification",
    response=responses({202: VerificationOut}),
    summary="Send the verification mail for my address again",
)
def me_verification_send(request: AuthenticatedRequest) -> Status:
    address = services.user_verification_mail_send(request=request, user=_account(request))
    return Status(202, {"email": address.email})


@router.get("/me/activity", response=responses({200: list[ActivityOut]}), summary="My recent activity")
@paginate(BoundedLimitOffsetPagination)
def me_activity(request: AuthenticatedRequest) -> Any:
    return audit_events_for_person(user_id=_account(request).pk)


@router.get("/me/sessions", response=responses({200: list[SessionOut]}), summary="My active sessions")
@paginate(BoundedLimitOffsetPagination)
def me_session_list(request: AuthenticatedRequest) -> Any:
    user = _account(request)
    current = login_session_key(request)
    return [_session_out(session, current) for session in user_session_list(user=user)]


@router.delete("/me/sessions/{int:session_id}", response=responses({204: None}), summary="End one of my sessions")
def me_session_end(request: AuthenticatedRequest, session_id: ObjectId) -> Status:
    services.user_session_end(request=request, user=_account(request), session_id=session_id)
    return Status(204, None)


@router.post("/password-reset", auth=None, response=responses({202: None}), summary="Ask for a password reset mail")
def password_reset(request: HttpRequest, payload: PasswordResetIn) -> Status:
    services.password_reset_request(request=request, email=payload.email)
    return Status(202, None)


@router.post(
    "/password-reset/confirm",
    auth=None,
    response=responses({204: None}),
    summary="Set a new password with the mailed key",
)
def password_reset_confirm(request: HttpRequest, payload: PasswordResetConfirmIn) -> Status:
    services.password_reset_confirm(request=request, key=payload.key, password=payload.password)
    return Status(204, None)
