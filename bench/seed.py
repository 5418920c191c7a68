"""Bench data, created with the project's models and services in this (Django-set-up) process.

Users get real sessions, built as tests/helpers.py `session_for` builds them (the cached_db engine's
own encoding, rows in django_session; the cache fills on first read), in bulk.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from domains.accounts.models import Membership, Organisation, Role, User
from domains.lounges.models import Lounge, LoungeMembership, LoungeRole
from domains.lounges.services import lounge_create

_counter = {"users": 0}


def organisation() -> Organisation:
    org, _ = Organisation.objects.get_or_create(slug="bench", defaults={"name": "Bench organisation"})
    return org


def users(org: Organisation, count: int, *, role: str = Role.LEARNER, prefix: str = "u") -> list[User]:
    """`count` new users with unusable passwords (hashing is not what we measure), members of `org`."""
    start = _counter["users"]
    _counter["users"] += count
    tag = secrets.token_hex(3)
    made = User.objects.bulk_create(
        [
            User(
                email=f"{prefix}{tag}-{start + i}@bench.invalid",
                display_name=f"{prefix}{start + i}",
                password="!bench",  # noqa: S106 - an unusable password hash, on purpose
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    Membership.objects.bulk_create([Membership(user=u, organisation=org, role=role) for u in made], batch_size=2000)
    return made


def sessions(people: list[User], org: Organisation) -> dict[int, str]:
    """A logged-in session per user, as the login view would leave it; returns {user_id: session_key}."""
    from domains.accounts.selectors import ORGANISATION_SESSION_KEY

    store = DbSessionStore()
    expire = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    rows, keys = [], {}
    for user in people:
        key = secrets.token_hex(16)
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            ORGANISATION_SESSION_KEY: org.pk,
        }
        rows.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        keys[user.pk] = key
    Session.objects.bulk_create(rows, batch_size=2000)
    return keys


def lounge(org: Organisation, owner: User, title: str, *, coach: bool = False) -> Lounge:
    made = lounge_create(organisation=org, creator=owner, slug=f"b-{secrets.token_hex(5)}", title=title, topic="bench")
    if coach:
        Lounge.objects.filter(pk=made.pk).update(coach_provider="openai", coach_max_tokens=8000)
        made.refresh_from_db()
    return made


def members(target: Lounge, people: list[User], role: str = LoungeRole.MEMBER) -> None:
    LoungeMembership.objects.bulk_create(
        [LoungeMembership(lounge=target, user=u, role=role) for u in people], batch_size=2000, ignore_conflicts=True
    )


def cookie(session_key: str) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={session_key}"


def as_dict(target: Lounge) -> dict[str, Any]:
    return {"id": target.pk, "slug": target.slug, "title": target.title}
