"""/api/v1/users: the signed-in person's own account (read, name and time zone, password, the
verification mail, activity, sessions) and the anonymous password reset (docs/account.md).
Bad input answers in the API's one error shape and changes nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from domains.accounts.models import Role, User
from domains.compliance.models import AuditEvent
from domains.compliance.services import audit_record
from realtime.streams import session_group, user_stream
from tests.factories import MembershipFactory, UserFactory
from tests.factories.accounts import PASSWORD
from tests.fakes.smtp_server import LoopbackSMTP, parts
from tests.listen import GroupListener

pytestmark = pytest.mark.django_db

ME = "/api/v1/users/me"
RESET = "/api/v1/users/password-reset"
CONFIRM = "/api/v1/users/password-reset/confirm"
NEW_PASSWORD = "correct-horse-battery-staple-7"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _client(user: Any, **extra: Any) -> Client:
    client = Client(HTTP_USER_AGENT=FIREFOX, **extra)
    client.force_login(user)
    return client


def _json(client: Client, method: str, url: str, data: Any = None, **extra: Any) -> Any:
    body = json.dumps(data) if data is not None else None
    return getattr(client, method)(url, data=body, content_type="application/json", **extra)


def _errors(response: Any, status: int) -> list[tuple[tuple[Any, ...], str]]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"detail", "errors"}
    return [(tuple(error["loc"]), error["type"]) for error in body["errors"]]


@pytest.fixture
def member() -> User:
    membership = MembershipFactory.create(role=Role.MENTOR)
    MembershipFactory.create(user=membership.user, organisation=membership.organisation, role=Role.LEARNER)
    user: User = membership.user
    user.display_name, user.time_zone = "Ada Lovelace", "Europe/London"
    user.save()
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=False)
    return user


# ---------------------------------------------------------------- reading and changing the account
def test_me_shows_the_account_and_the_sessions_organisation_and_roles(member: User) -> None:
    """GET /me: id, email, name, time zone, whether the address is verified, and the session's
    organisation with the person's roles there."""
    client = _client(member)
    organisation = member.memberships.get(role=Role.MENTOR).organisation

    body = client.get(ME).json()

    assert body == {
        "id": member.pk,
        "email": member.email,
        "display_name": "Ada Lovelace",
        "time_zone": "Europe/London",
        "email_verified": False,
        "organisation": {"id": organisation.pk, "name": organisation.name, "slug": organisation.slug},
        "roles": ["learner", "mentor"],
    }
    EmailAddress.objects.filter(user=member).update(verified=True)
    assert client.get(ME).json()["email_verified"] is True


def test_me_without_a_session_is_401() -> None:
    """Every /me operation needs the session cookie."""
    assert _errors(Client().get(ME), 401) == []
    assert Client().get(f"{ME}/sessions").status_code == 401
    assert Client().get(f"{ME}/activity").status_code == 401


def test_patch_changes_name_and_time_zone_and_is_audited(member: User) -> None:
    """PATCH /me with a name (spaces collapsed) and a time zone saves both and audits which changed."""
    response = _json(_client(member), "patch", ME, {"display_name": "  Ada   King ", "time_zone": "Asia/Tokyo"})

    assert response.status_code == 200
    assert (response.json()["display_name"], response.json()["time_zone"]) == ("Ada King", "Asia/Tokyo")
    member.refresh_from_db()
    assert (member.display_name, member.time_zone) == ("Ada King", "Asia/Tokyo")
    event = AuditEvent.objects.get(action="user.profile_updated")
    assert (event.actor_id, event.target_id, event.details) == (
        member.pk,
        str(member.pk),
        {"fields": ["display_name", "time_zone"]},
    )


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        ({"time_zone": "Mars/Olympus"}, [(("body", "payload", "time_zone"), "invalid")]),
        ({"display_name": "   "}, [(("body", "payload", "display_name"), "string_pattern_mismatch")]),
        ({"display_name": "\x1c\x1d"}, [(("body", "payload", "display_name"), "string_pattern_mismatch")]),
        ({"display_name": "x" * 81}, [(("body", "payload", "display_name"), "string_too_long")]),
        (
            {"display_name": "Ada", "time_zone": "Nowhere"},
            [(("body", "payload", "time_zone"), "invalid")],
        ),
        ({"display_name": None}, [(("body", "payload", "display_name"), "not_null")]),
        ({"display_name": "a\x00b"}, None),
    ],
)
def test_bad_profile_input_is_422_for_each_field_and_changes_nothing(
    member: User, payload: dict[str, Any], errors: list[Any] | None
) -> None:
    """A bad name or time zone answers 422 naming each field at fault; nothing is saved or audited."""
    found = _errors(_json(_client(member), "patch", ME, payload), 422)
    if errors is not None:
        assert found == errors
    member.refresh_from_db()
    assert (member.display_name, member.time_zone) == ("Ada Lovelace", "Europe/London")
    assert not AuditEvent.objects.filter(action="user.profile_updated").exists()


def test_unsafe_methods_with_the_cookie_need_the_csrf_token(member: User) -> None:
    """With the session cookie, a PATCH without X-CSRFToken is 403 and changes nothing; with it, 200."""
    client = _client(member, enforce_csrf_checks=True)
    token = _get_new_csrf_string()
    client.cookies[settings.CSRF_COOKIE_NAME] = token

    assert _json(client, "patch", ME, {"display_name": "Forged"}).status_code == 403
    member.refresh_from_db()
    assert member.display_name == "Ada Lovelace"
    assert _json(client, "patch", ME, {"display_name": "Real"}, HTTP_X_CSRFTOKEN=token).status_code == 200
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert _json(client, "post", f"{ME}/password", change).status_code == 403
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


# ---------------------------------------------------------------- password
def test_changing_the_password_keeps_this_session_and_closes_the_persons_sockets(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    """POST /me/password with the right current password: 204; this session stays signed in, the
    person's other session no longer authenticates, and their sockets are told to close."""
    caller, other = _client(member), _client(member)

    with GroupListener(user_stream(member.pk)) as sockets:
        with django_capture_on_commit_callbacks(execute=True):
            response = _json(
                caller, "post", f"{ME}/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
            )
        control = sockets.receive()

    assert response.status_code == 204
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert (control["action"], control["reason"], control["code"]) == ("force_close", "password_changed", 4401)
    assert caller.get(ME).status_code == 200
    assert other.get(ME).status_code == 401
    assert AuditEvent.objects.filter(action="auth.password_changed", target_id=str(member.pk)).count() == 1


@pytest.mark.parametrize(
    ("payload", "errors"),
    [
        (
            {"current_password": "wrong-password-1", "new_password": NEW_PASSWORD},
            [(("body", "payload", "current_password"), "incorrect_password")],
        ),
        (
            {"current_password": PASSWORD, "new_password": "short"},
            [(("body", "payload", "new_password"), "invalid_password")],
        ),
        ({"current_password": PASSWORD, "new_password": "1234567890123"}, None),
        ({"current_password": PASSWORD}, [(("body", "payload", "new_password"), "missing")]),
    ],
)
def test_a_refused_password_change_is_422_on_that_field_and_changes_nothing(
    member: User, payload: dict[str, Any], errors: list[Any] | None
) -> None:
    """A wrong current password is 422 on `current_password`; a new one Django's validators refuse
    is 422 on `new_password`; the password stays as it was."""
    found = _errors(_json(_client(member), "post", f"{ME}/password", payload), 422)
    if errors is not None:
        assert found == errors
    else:
        assert {loc for loc, _ in found} == {("body", "payload", "new_password")}
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(action="auth.password_changed").exists()


def test_password_change_tries_are_rate_limited(member: User, settings: Any) -> None:
    """Guessing the current password over the API runs out: 429 with Retry-After."""
    settings.USERS_PASSWORD_CHANGE_PER_HOUR = 2
    client = _client(member)
    wrong = {"current_password": "not-it-at-all", "new_password": NEW_PASSWORD}
    assert [_json(client, "post", f"{ME}/password", wrong).status_code for _ in range(2)] == [422, 422]
    refused = _json(client, "post", f"{ME}/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


# ---------------------------------------------------------------- email verification
def _link(message: Any, pattern: str) -> str:
    match = re.search(pattern, parts(message)["text/plain"])
    assert match, parts(message)["text/plain"]
    return match.group(1)


def test_the_verification_mail_is_sent_again_and_its_link_verifies(
    member: User, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: Any
) -> None:
    """POST /me/email/verification: 202 naming the address; allauth's mail arrives, and its link
    verifies the address."""
    client = _client(member)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{ME}/email/verification")

    assert response.status_code == 202
    assert response.json() == {"email": member.email}
    [message] = smtp_server.messages
    assert message["To"] == member.email
    path = _link(message, r"http://testserver(/accounts/confirm-email/[^\s]+/)")
    assert client.post(path).status_code == 302
    assert EmailAddress.objects.get(user=member).verified
    assert client.get(ME).json()["email_verified"] is True


def test_an_address_verified_already_is_refused_clearly(member: User, smtp_server: LoopbackSMTP) -> None:
    """A verified address gets a 422 `already_verified` and no mail."""
    EmailAddress.objects.filter(user=member).update(verified=True)
    response = _client(member).post(f"{ME}/email/verification")
    assert response.status_code == 422
    assert "verified already" in response.json()["detail"]
    assert smtp_server.messages == []


def test_the_verification_mail_is_rate_limited(
    member: User, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: Any
) -> None:
    """A second request within allauth's cooldown is 429 with Retry-After and sends nothing more."""
    client = _client(member)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(f"{ME}/email/verification").status_code == 202
        again = client.post(f"{ME}/email/verification")
    assert again.status_code == 429
    assert int(again["Retry-After"]) >= 1
    assert len(smtp_server.messages) == 1


# ---------------------------------------------------------------- password reset (anonymous)
def _reset(email: str, **extra: Any) -> Any:
    return _json(Client(**extra), "post", RESET, {"email": email})


def test_a_reset_request_answers_202_whether_or_not_the_account_exists(
    member: User, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: Any
) -> None:
    """POST /password-reset answers the same 202 for a known and an unknown address; only the known
    one receives a reset link."""
    with django_capture_on_commit_callbacks(execute=True):
        known = _reset(member.email.upper())
        unknown = _reset("nobody@example.test")

    assert (known.status_code, known.content) == (unknown.status_code, unknown.content) == (202, b"")
    links = {
        message["To"]: re.search(r"/accounts/password/reset/key/([^/\s]+)/", parts(message)["text/plain"])
        for message in smtp_server.messages
    }
    assert links[member.email] is not None
    assert links.get("nobody@example.test") is None


def test_reset_requests_are_limited_per_email_and_per_address(member: User, settings: Any) -> None:
    """Per email address (known or not, so the limit tells nothing) and per client address: 429."""
    settings.USERS_PASSWORD_RESET_PER_HOUR_PER_EMAIL = 1
    settings.USERS_PASSWORD_RESET_PER_HOUR_PER_ADDRESS = 3
    assert [_reset(member.email, REMOTE_ADDR="203.0.113.1").status_code for _ in range(2)] == [202, 429]
    assert [_reset("nobody@example.test", REMOTE_ADDR="203.0.113.2").status_code for _ in range(2)] == [202, 429]
    statuses = [_reset(f"p{n}@example.test", REMOTE_ADDR="203.0.113.3").status_code for n in range(4)]
    assert statuses == [202, 202, 202, 429]
    # a forged X-Forwarded-For does not buy a fresh budget
    assert _reset("p9@example.test", REMOTE_ADDR="203.0.113.3", HTTP_X_FORWARDED_FOR="198.51.100.1").status_code == 429


def test_a_malformed_email_is_422() -> None:
    assert _errors(_reset("not-an-address"), 422) == [(("body", "payload", "email"), "invalid_email")]


def _reset_key(member: User, smtp_server: LoopbackSMTP, capture: Any) -> str:
    with capture(execute=True):
        assert _reset(member.email).status_code == 202
    [message] = [m for m in smtp_server.messages if m["To"] == member.email]
    return _link(message, r"/accounts/password/reset/key/([^/\s]+)/")


def test_a_reset_key_sets_the_password_once_and_ends_every_session(
    member: User, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: Any
) -> None:
    """POST /password-reset/confirm with the mailed key: 204, the new password works, every session
    of the person ends (their sockets told so), and the key does not work twice."""
    browser = _client(member)
    assert browser.get(ME).status_code == 200  # allauth records the session
    session = UserSession.objects.get(user=member)
    key = _reset_key(member, smtp_server, django_capture_on_commit_callbacks)

    with GroupListener(session_group(session.session_key)) as sockets:
        with django_capture_on_commit_callbacks(execute=True):
            response = _json(Client(), "post", CONFIRM, {"key": key, "password": NEW_PASSWORD})
        controls = [sockets.receive()]

    assert response.status_code == 204
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)
    assert (controls[0]["reason"], controls[0]["code"]) == ("session_ended", 4401)
    assert not UserSession.objects.filter(user=member).exists()
    assert browser.get(ME).status_code == 401
    ended = AuditEvent.objects.get(action="auth.session_ended")
    assert ended.details["reason"] == "password_reset"
    again = _json(Client(), "post", CONFIRM, {"key": key, "password": "another-fine-password-8"})
    assert _errors(again, 422) == [(("body", "payload", "key"), "invalid_key")]
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("key", ["", "-abc", "1-", "nonsense", "1-abc-def", "zzzzzzzzzzzzzz-1234", "!!-x"])
def test_a_bad_reset_key_is_422_and_changes_nothing(member: User, key: str) -> None:
    response = _json(Client(), "post", CONFIRM, {"key": key, "password": NEW_PASSWORD})
    assert _errors(response, 422) == [(("body", "payload", "key"), "invalid_key")]
    member.refresh_from_db()
    assert member.check_password(PASSWORD)


def test_a_weak_new_password_is_refused_and_the_key_still_works(
    member: User, smtp_server: LoopbackSMTP, django_capture_on_commit_callbacks: Any
) -> None:
    """Django's validators refuse "password123" (422 on `password`); the key is not spent."""
    key = _reset_key(member, smtp_server, django_capture_on_commit_callbacks)
    weak = _json(Client(), "post", CONFIRM, {"key": key, "password": "password123"})
    assert {loc for loc, _ in _errors(weak, 422)} == {("body", "payload", "password")}
    member.refresh_from_db()
    assert member.check_password(PASSWORD)
    assert _json(Client(), "post", CONFIRM, {"key": key, "password": NEW_PASSWORD}).status_code == 204


def test_reset_confirmations_are_limited_per_address(settings: Any) -> None:
    settings.USERS_PASSWORD_RESET_CONFIRM_PER_HOUR_PER_ADDRESS = 2
    client = Client(REMOTE_ADDR="203.0.113.9")
    statuses = [_json(client, "post", CONFIRM, {"key": "1-x", "password": NEW_PASSWORD}).status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


# ---------------------------------------------------------------- activity
def test_activity_lists_only_my_own_events_newest_first_and_pages(member: User) -> None:
    """GET /me/activity: events I did and events done to my account, not other people's."""
    client = _client(member)  # signing in is audited too (auth.login)
    login = AuditEvent.objects.get(action="auth.login", actor_id=member.pk)
    stranger = UserFactory.create()
    organisation = member.memberships.first().organisation  # type: ignore[union-attr]
    mine = audit_record(actor=member, organisation=organisation, action="note.created")
    about_me = audit_record(actor=stranger, organisation=None, action="membership.role_granted", target=member)
    audit_record(actor=stranger, organisation=organisation, action="note.created")
    audit_record(actor=None, organisation=None, action="user.deactivated", target=stranger)

    body = client.get(f"{ME}/activity").json()

    assert body["count"] == 3
    assert [item["id"] for item in body["items"]] == [about_me.pk, mine.pk, login.pk]
    assert body["items"][1] == {
        "id": mine.pk,
        "action": "note.created",
        "at": body["items"][1]["at"],
        "ip_address": None,
        "organisation": {"id": organisation.pk, "name": organisation.name},
    }
    assert body["items"][0]["organisation"] is None
    paged = client.get(f"{ME}/activity", {"limit": 1, "offset": 1}).json()
    assert [item["id"] for item in paged["items"]] == [mine.pk]
    assert client.get(f"{ME}/activity", {"limit": 101}).status_code == 422


# ---------------------------------------------------------------- sessions
def test_sessions_are_listed_and_one_can_be_ended_but_not_a_strangers(
    member: User, django_capture_on_commit_callbacks: Any
) -> None:
    """GET /me/sessions lists mine with device, address and which one is calling; DELETE ends one of
    mine (204, its sockets closed); a stranger's id or a missing one is 404 and ends nothing."""
    caller = _client(member, REMOTE_ADDR="203.0.113.10")
    phone = _client(member, REMOTE_ADDR="198.51.100.20")
    assert phone.get(ME).status_code == 200
    stranger = _client(UserFactory.create())
    assert stranger.get(ME).status_code == 200

    items = caller.get(f"{ME}/sessions").json()["items"]
    theirs = UserSession.objects.exclude(user=member).get()
    phone_session = UserSession.objects.get(session_key=phone.session.session_key)
    items.sort(key=lambda item: item["ip"])
    assert [(item["ip"], item["current"], item["device"]) for item in items] == [
        ("198.51.100.20", False, "Firefox 128 on Ubuntu"),
        ("203.0.113.10", True, "Firefox 128 on Ubuntu"),
    ]
    assert set(items[0]) == {
        "id",
        "device",
        "browser",
        "os",
        "user_agent",
        "ip",
        "created_at",
        "last_seen_at",
        "current",
    }
    assert (items[0]["browser"], items[0]["os"], items[0]["user_agent"]) == ("Firefox 128", "Ubuntu", FIREFOX)

    assert _errors(caller.delete(f"{ME}/sessions/{theirs.pk}"), 404) == []
    assert _errors(caller.delete(f"{ME}/sessions/999999"), 404) == []
    assert stranger.get(ME).status_code == 200

    with GroupListener(session_group(phone_session.session_key)) as sockets:
        with django_capture_on_commit_callbacks(execute=True):
            response = caller.delete(f"{ME}/sessions/{phone_session.pk}")
        control = sockets.receive()
    assert response.status_code == 204
    assert (control["action"], control["reason"], control["code"]) == ("force_close", "session_ended", 4401)
    assert phone.get(ME).status_code == 401
    assert caller.get(ME).status_code == 200
    assert [item["current"] for item in caller.get(f"{ME}/sessions").json()["items"]] == [True]
    assert AuditEvent.objects.filter(action="auth.session_ended").count() == 1


def test_unknown_body_fields_are_ignored(member: User) -> None:
    """A field the schema does not name changes nothing and is not an error."""
    response = _json(_client(member), "patch", ME, {"display_name": "Ada", "email": "evil@example.test"})
    assert response.status_code == 200
    member.refresh_from_db()
    assert (member.display_name, member.email) == ("Ada", response.json()["email"])
    assert member.email != "evil@example.test"


def test_activity_shows_my_own_address_never_that_of_whoever_acted_on_me(member: User) -> None:
    """An event someone else caused (staff granting a role) carries their address: hidden from me."""
    from django.test import RequestFactory

    staff_request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.77")
    my_request = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9")
    stranger = UserFactory.create()
    about_me = audit_record(
        actor=stranger, organisation=None, action="membership.role_granted", target=member, request=staff_request
    )
    mine = audit_record(actor=member, organisation=None, action="note.created", request=my_request)

    items = {item["id"]: item for item in _client(member).get(f"{ME}/activity").json()["items"]}

    assert items[about_me.pk]["ip_address"] is None
    assert items[mine.pk]["ip_address"] == "203.0.113.9"
