"""Personal access tokens: created on /account/tokens/ (or the API), shown once, hashed at rest,
scoped (read: safe methods only), expiring, revocable, audited, bound to their organisation."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from domains.accounts.models import Membership
from domains.compliance.models import AuditEvent
from domains.tokens import services
from domains.tokens.models import PersonalAccessToken
from tests.domains.tokens.helpers import World, app_login, bearer, post_json
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

NOTES = "/api/v1/notes"
TOKENS = "/api/v1/tokens"
MISSING = 2**62


def _create(world: World, scope: str = "write", days: int = 30, **kwargs: Any) -> services.CreatedToken:
    return services.pat_create(
        user=kwargs.pop("user", world.learner),
        organisation=kwargs.pop("organisation", world.organisation),
        name=kwargs.pop("name", "Nightly export"),
        scope=scope,
        expires_in_days=days,
    )


def _note() -> dict[str, str]:
    return {"title": "From a script", "body": ""}


def test_a_read_token_reads_but_may_not_write(world: World) -> None:
    """A read-scope token may GET; a POST is 403 with a message that says why, and writes nothing."""
    token = _create(world, scope="read").secret

    read = Client().get(NOTES, headers=bearer(token))
    write = post_json(Client(), NOTES, _note(), **bearer(token))

    assert read.status_code == 200
    assert write.status_code == 403
    assert write.json() == {
        "detail": "This personal access token has the read scope: it may only read (GET). Use a write token.",
        "errors": [],
    }
    assert Client().get(NOTES, headers=bearer(token)).json()["count"] == 0


def test_a_write_token_writes_without_csrf_in_its_organisation(world: World) -> None:
    token = _create(world, scope="write").secret

    response = post_json(Client(enforce_csrf_checks=True), NOTES, _note(), **bearer(token))

    assert response.status_code == 201, response.content
    from domains.notes.models import Note

    note = Note.objects.get(pk=response.json()["id"])
    assert (note.owner_id, note.organisation_id) == (world.learner.pk, world.organisation.pk)


def test_revoked_expired_unknown_tokens_are_401(world: World) -> None:
    """Revoked, expired and unknown tokens all answer the same 401."""
    revoked = _create(world, name="Old")
    services.pat_revoke(token=revoked.token, user=world.learner)
    expiring = _create(world, days=1).secret
    unknown = "cwp_" + "A" * 43

    answers = [Client().get(NOTES, headers=bearer(revoked.secret)), Client().get(NOTES, headers=bearer(unknown))]
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        answers.append(Client().get(NOTES, headers=bearer(expiring)))

    for answer in answers:
        assert answer.status_code == 401
        assert answer.json() == {"detail": "Unauthorized", "errors": []}


def test_a_token_stops_when_its_person_leaves_the_organisation(world: World) -> None:
    token = _create(world).secret
    Membership.objects.filter(user=world.learner, organisation=world.organisation).delete()

    assert Client().get(NOTES, headers=bearer(token)).status_code == 401


def test_the_secret_is_stored_only_as_its_hash(world: World) -> None:
    """The raw secret is nowhere in the database: not in the token's row, not in the audit log."""
    created = _create(world)
    secret = created.secret
    assert re.fullmatch(r"cwp_[A-Za-z0-9_-]{43}", secret)

    row = PersonalAccessToken.objects.get(pk=created.token.pk)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == secret[:12]
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM tokens_personalaccesstoken t")
        rows = [text for (text,) in cursor.fetchall()]
        cursor.execute("SELECT row_to_json(a)::text FROM compliance_auditevent a")
        audits = [text for (text,) in cursor.fetchall()]
    assert rows
    assert not any(secret in text or secret[12:] in text for text in rows + audits)


def test_creation_and_revocation_are_audited(world: World) -> None:
    created = _create(world, scope="read")
    services.pat_revoke(token=created.token, user=world.learner)
    services.pat_revoke(token=created.token, user=world.learner)  # again: nothing new

    events = list(AuditEvent.objects.filter(action__startswith="token.").order_by("pk"))
    assert [(e.action, e.actor_id, e.organisation_id, e.target_id) for e in events] == [
        ("token.created", world.learner.pk, world.organisation.pk, str(created.token.pk)),
        ("token.revoked", world.learner.pk, world.organisation.pk, str(created.token.pk)),
    ]
    assert events[0].details["scope"] == "read"
    assert events[0].details["prefix"] == created.secret[:12]


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": "  "}, {"name": ["Give the token a name, e.g. the script that uses it."]}),
        ({"scope": "admin"}, {"scope": ["Choose read or write."]}),
        ({"expires_in_days": 0}, {"expires_in_days": ["Choose an expiry between 1 and 366 days."]}),
        ({"expires_in_days": 367}, {"expires_in_days": ["Choose an expiry between 1 and 366 days."]}),
    ],
)
def test_bad_fields_are_refused_field_by_field_and_create_nothing(world: World, fields: Any, errors: Any) -> None:
    arguments = {"name": "Export", "scope": "read", "expires_in_days": 30, **fields}
    with pytest.raises(services.TokenError) as refusal:
        services.pat_create(user=world.learner, organisation=world.organisation, **arguments)
    assert refusal.value.field_errors() == errors
    assert not PersonalAccessToken.objects.exists()


# ---------------------------------------------------------------- the page
def _page(world: World) -> Client:
    client = Client()
    client.force_login(world.learner)
    return client


def test_the_page_shows_the_secret_once(world: World) -> None:
    """Creating on /account/tokens/ shows the secret on that answer; the list afterwards shows only
    the prefix, never the secret again."""
    client = _page(world)

    created = client.post("/account/tokens/", {"name": "CI", "scope": "read", "expires_in_days": "30"})

    assert created.status_code == 200
    found = re.search(rb"data-token-secret>(cwp_[A-Za-z0-9_-]{43})<", created.content)
    assert found is not None
    secret = found.group(1).decode()
    assert Client().get(NOTES, headers=bearer(secret)).status_code == 200
    later = client.get("/account/tokens/")
    assert secret not in later.content.decode()
    assert secret[:12] in later.content.decode()


def test_the_page_refuses_bad_input_with_400_and_creates_nothing(world: World) -> None:
    response = _page(world).post("/account/tokens/", {"name": "", "scope": "read", "expires_in_days": "30"})
    assert response.status_code == 400
    assert not PersonalAccessToken.objects.exists()


def test_revoking_on_the_page_stops_the_token(world: World) -> None:
    created = _create(world)
    client = _page(world)

    response = client.post(f"/account/tokens/{created.token.pk}/revoke/")

    assert response.status_code == 302
    assert Client().get(NOTES, headers=bearer(created.secret)).status_code == 401


def test_revoking_a_foreign_or_missing_token_is_404_alike(world: World) -> None:
    """Another person's token, another organisation's, and an id that does not exist answer the same
    404, on the page and in the API, and change nothing."""
    foreign = _create(world, user=world.other, organisation=world.other_organisation)
    client = _page(world)
    access = app_login(world.learner)["meta"]["access_token"]

    pages = [client.post(f"/account/tokens/{ident}/revoke/") for ident in (foreign.token.pk, MISSING, "x")]
    apis = [post_json(Client(), f"{TOKENS}/{ident}/revoke", **bearer(access)) for ident in (foreign.token.pk, MISSING)]

    assert {page.status_code for page in pages} == {404}
    assert [(api.status_code, api.json()) for api in apis] == [(404, {"detail": "Not found.", "errors": []})] * 2
    assert PersonalAccessToken.objects.get(pk=foreign.token.pk).revoked_at is None


# ---------------------------------------------------------------- the API
def test_the_api_creates_a_token_shown_once_and_lists_it_without_the_secret(world: World) -> None:
    access = app_login(world.learner)["meta"]["access_token"]

    created = post_json(Client(), TOKENS, {"name": "Backup", "scope": "write", "expires_in_days": 7}, **bearer(access))

    assert created.status_code == 201, created.content
    assert created["Cache-Control"] == "no-store"
    body = created.json()
    assert body["token"].startswith("cwp_")
    assert body["prefix"] == body["token"][:12]
    assert (body["name"], body["scope"], body["status"], body["last_used_at"]) == ("Backup", "write", "active", None)
    listed = Client().get(TOKENS, headers=bearer(access)).json()
    assert listed["count"] == 1
    assert "token" not in listed["items"][0]
    assert body["token"] not in json.dumps(listed)


def test_a_personal_token_cannot_mint_tokens_or_tickets(world: World) -> None:
    """A leaked script token must not widen itself: creating tokens and websocket tickets is 403."""
    token = _create(world, scope="write").secret

    mint = post_json(Client(), TOKENS, {"name": "More", "scope": "write", "expires_in_days": 7}, **bearer(token))
    ticket = post_json(Client(), "/api/v1/auth/ws-ticket", **bearer(token))

    assert mint.status_code == 403
    assert mint.json()["detail"] == "A personal access token cannot manage tokens: sign in, or use /account/tokens/."
    assert ticket.status_code == 403
    assert PersonalAccessToken.objects.count() == 1


@override_settings(PAT_CREATE_PER_HOUR=2)
def test_creating_tokens_is_rate_limited_with_retry_after(world: World) -> None:
    access = app_login(world.learner)["meta"]["access_token"]
    body = {"name": "Script", "scope": "read", "expires_in_days": 7}

    answers = [post_json(Client(), TOKENS, body, **bearer(access)) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [201, 201, 429]
    assert answers[2].json() == {"detail": "Too many tokens created: try again later.", "errors": []}
    assert 1 <= int(answers[2]["Retry-After"]) <= 1800
    assert PersonalAccessToken.objects.count() == 2


def test_last_use_is_recorded(world: World) -> None:
    created = _create(world, scope="read")

    Client().get(NOTES, headers=bearer(created.secret))

    assert PersonalAccessToken.objects.get(pk=created.token.pk).last_used_at is not None


def test_the_api_refuses_an_expiry_beyond_the_maximum_in_the_schema_s_words(world: World) -> None:
    access = app_login(world.learner)["meta"]["access_token"]

    response = post_json(Client(), TOKENS, {"name": "Long", "scope": "read", "expires_in_days": 367}, **bearer(access))

    assert response.status_code == 422
    assert response.json() == {
        "detail": "Some fields are invalid.",
        "errors": [
            {
                "loc": ["body", "payload", "expires_in_days"],
                "msg": "Input should be less than or equal to 366",
                "type": "less_than_equal",
            }
        ],
    }


@override_settings(PAT_MAX_ACTIVE=1)
def test_active_tokens_are_bounded_per_person_and_organisation(world: World) -> None:
    _create(world)
    with pytest.raises(services.TokenError) as refusal:
        _create(world, name="Second")
    assert refusal.value.code == "too_many"
    assert refusal.value.message == "You have 1 active tokens here: revoke one you no longer use first."
    assert PersonalAccessToken.objects.count() == 1


def test_without_an_organisation_no_token_can_be_made(world: World) -> None:
    from tests.factories import UserFactory

    loner = UserFactory.create()
    access = app_login(loner)["meta"]["access_token"]

    response = post_json(Client(), TOKENS, {"name": "X", "scope": "read", "expires_in_days": 7}, **bearer(access))

    assert response.status_code == 403
    assert response.json() == {"detail": "You belong to no organisation.", "errors": []}


def test_a_personal_token_cannot_list_or_revoke_tokens_either(world: World) -> None:
    created = _create(world, scope="write")

    listed = Client().get(TOKENS, headers=bearer(created.secret))
    revoked = post_json(Client(), f"{TOKENS}/{created.token.pk}/revoke", **bearer(created.secret))

    assert (listed.status_code, revoked.status_code) == (403, 403)
    assert PersonalAccessToken.objects.get(pk=created.token.pk).revoked_at is None


def test_a_token_sees_only_its_own_organisation(world: World) -> None:
    """A second membership does not widen a token: it reads the organisation it was made in."""
    MembershipFactory.create(user=world.learner, organisation=world.other_organisation)
    mine = _create(world, scope="write")
    theirs = _create(world, scope="write", organisation=world.other_organisation, name="Other org")

    note_id = post_json(Client(), NOTES, _note(), **bearer(theirs.secret)).json()["id"]

    assert Client().get(f"{NOTES}/{note_id}", headers=bearer(mine.secret)).status_code == 404
    assert Client().get(f"{NOTES}/{note_id}", headers=bearer(theirs.secret)).status_code == 200


def test_a_deactivated_person_s_token_is_refused(world: World) -> None:
    from domains.accounts.services import user_deactivate

    token = _create(world).secret
    user_deactivate(user=world.learner, actor=None)

    assert Client().get(NOTES, headers=bearer(token)).status_code == 401


@override_settings(API_RATE_ANON_PER_HOUR=2)
def test_bad_bearer_tokens_count_against_the_anonymous_limit(world: World) -> None:
    """Guessing tokens is limited like any unauthenticated call: per address, then 429."""
    answers = [Client().get(NOTES, headers=bearer("cwp_" + "Z" * 43)).status_code for _ in range(3)]

    assert answers == [401, 401, 429]
