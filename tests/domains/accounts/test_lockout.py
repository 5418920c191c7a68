"""Lockouts are per (account, address): five wrong passwords lock that pair for five minutes, the
owner can still sign in from elsewhere, and every lockout is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from allauth.account.signals import password_reset
from axes.models import AccessAttempt
from django.test import Client, override_settings
from django.utils import timezone

from domains.compliance.models import AuditEvent
from project.settings import base as shipped
from tests.factories import UserFactory
from tests.factories.accounts import PASSWORD
from tests.live import LiveResponse, LiveStack

pytestmark = pytest.mark.django_db

A = "198.51.100.10"
B = "203.0.113.20"


def _login(client: Client, email: str, password: str, ip: str, **extra: Any) -> int:
    return client.post("/accounts/login/", {"login": email, "password": password}, REMOTE_ADDR=ip, **extra).status_code


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_five_wrong_passwords_lock_the_account_from_that_address_only(client: Client) -> None:
    """After five wrong passwords from A, even the right password from A answers the lockout page
    (429, Retry-After); the right password from B signs in."""
    user = UserFactory.create()

    wrong = [_login(client, user.email, "wrong", A) for _ in range(5)]
    from_a = client.post("/accounts/login/", {"login": user.email, "password": PASSWORD}, REMOTE_ADDR=A)
    signed_in_from_a = _signed_in(client)
    from_b = _login(Client(), user.email, PASSWORD, B)

    assert wrong == [200, 200, 200, 200, 429]
    assert from_a.status_code == 429
    assert from_a["Retry-After"] == "300"
    assert b"Too many sign-in attempts" in from_a.content
    assert b"5 minutes" in from_a.content
    assert not signed_in_from_a
    assert from_b == 302


def test_a_lockout_is_audited_once_with_the_address_and_the_attempted_email(client: Client) -> None:
    """The attempt that reaches the limit writes one `auth.locked_out` row (no organisation, no
    password); refused attempts during the lock are failed logins, not new lockouts."""
    user = UserFactory.create()

    for _ in range(5):
        _login(client, user.email, "wrong", A)
    _login(client, user.email, PASSWORD, A)
    _login(client, user.email, "wrong", A)

    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert locked.ip_address == A
    assert locked.actor is None
    assert locked.organisation is None
    assert locked.actor_label == user.email
    assert locked.details == {"email": user.email, "failures": 5, "cool_off_seconds": 300}
    assert PASSWORD not in str(locked.details)
    assert AuditEvent.objects.filter(action="auth.login_failed", actor_label=user.email).count() == 7


def test_rotating_x_forwarded_for_does_not_dodge_the_lockout(client: Client) -> None:
    """Without trusted proxies, a new X-Forwarded-For on every attempt is still the same address."""
    user = UserFactory.create()

    wrong = [_login(client, user.email, "wrong", A, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}") for n in range(5)]
    right = _login(client, user.email, PASSWORD, A, HTTP_X_FORWARDED_FOR="192.0.2.99")

    assert wrong[-1] == 429
    assert right == 429
    assert not _signed_in(client)


def test_changing_the_case_of_the_email_does_not_start_a_fresh_counter(client: Client) -> None:
    """The lockout counts the account, not the spelling of its address."""
    user = UserFactory.create()
    spellings = [user.email, user.email.upper(), user.email.title(), user.email.swapcase(), user.email]

    statuses = [_login(client, spelling, "wrong", A) for spelling in spellings]

    assert statuses[-1] == 429


def test_the_lock_lifts_after_the_five_minute_cool_off(client: Client) -> None:
    """The locked pair may sign in again once five minutes have passed since its last failure."""
    user = UserFactory.create()

    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(5):
            _login(client, user.email, "wrong", A)
        clock.shift(timedelta(minutes=4, seconds=59))
        still_locked = _login(client, user.email, PASSWORD, A)
        # That refused attempt was a failure too, so the pause runs from it.
        clock.shift(timedelta(minutes=5, seconds=1))
        after_cool_off = _login(client, user.email, PASSWORD, A)

    assert still_locked == 429
    assert after_cool_off == 302


def test_a_successful_sign_in_clears_the_pairs_failures(client: Client) -> None:
    """Four wrong passwords, then the right one: the count starts again from zero."""
    user = UserFactory.create()

    for _ in range(4):
        _login(client, user.email, "wrong", A)
    signed_in = _login(client, user.email, PASSWORD, A)
    client.logout()
    four_more = [_login(client, user.email, "wrong", A) for _ in range(4)]

    assert signed_in == 302
    assert four_more == [200, 200, 200, 200]


def test_a_stranger_hammering_from_one_address_cannot_lock_the_owner_out() -> None:
    """With the shipped limits, minutes of wrong passwords from A (locked after five) do not use up
    the account's looser allauth budget: the owner still signs in from B."""
    user = UserFactory.create()
    attacker = Client()
    start = timezone.now()

    with override_settings(ACCOUNT_RATE_LIMITS=shipped.ACCOUNT_RATE_LIMITS), time_machine.travel(start) as clock:
        for _minute in range(4):
            for _ in range(10):  # allauth's per-IP limit: 10 a minute
                _login(attacker, user.email, "wrong", A)
            clock.shift(timedelta(minutes=1))
        owner = _login(Client(), user.email, PASSWORD, B)

    assert owner == 302


def test_a_guesser_on_many_addresses_cannot_keep_the_owner_out_of_a_known_address() -> None:
    """Six addresses with five wrong passwords each spend the account's allauth budget
    (30 per 5 minutes): a new address is then refused for a while, but the owner's address that signed in before is
    not, so nobody can lock the owner out of their usual place."""
    user = UserFactory.create()
    usual = "192.0.2.50"

    with override_settings(ACCOUNT_RATE_LIMITS=shipped.ACCOUNT_RATE_LIMITS):
        first = Client()
        assert _login(first, user.email, PASSWORD, usual) == 302
        for attacker in range(6):
            for _ in range(5):
                _login(Client(), user.email, "wrong", f"198.51.100.{100 + attacker}")
        from_new_address = Client()
        new_address = _login(from_new_address, user.email, PASSWORD, "203.0.113.99")
        owner = Client()
        usual_address = _login(owner, user.email, PASSWORD, usual)

    assert not _signed_in(from_new_address), new_address
    assert usual_address == 302
    assert _signed_in(owner)


def test_a_completed_password_reset_lifts_the_accounts_lockouts(client: Client) -> None:
    """Resetting the password by email proves the mailbox is the owner's: the lock is lifted."""
    user = UserFactory.create()
    for _ in range(5):
        _login(client, user.email, "wrong", A)
    assert AccessAttempt.objects.filter(username=user.email).exists()

    password_reset.send(sender=type(user), request=None, user=user)

    assert not AccessAttempt.objects.exists()
    assert _login(client, user.email, PASSWORD, A) == 302


@pytest.mark.live
@pytest.mark.django_db(transaction=True)
def test_through_daphne_the_fifth_wrong_password_answers_the_lockout_page(live_stack: LiveStack) -> None:
    """Over real HTTP (daphne runs the middleware chain asynchronously, and axes calls the lockout
    page differently there): the fifth wrong password answers the 429 page, not a 500."""
    user = UserFactory.create()
    cookies: dict[str, str] = {}
    token = live_stack.csrf_token(cookies, "/accounts/login/")

    def attempt(password: str) -> LiveResponse:
        data = {"csrfmiddlewaretoken": token, "login": user.email, "password": password}
        return live_stack.http("POST", "/accounts/login/", cookies=cookies, data=data)

    wrong = [attempt("wrong") for _ in range(5)]
    right = attempt(PASSWORD)

    assert [response.status for response in wrong] == [200, 200, 200, 200, 429]
    assert right.status == 429
    assert right.headers["Retry-After"] == "300"
    assert "Too many sign-in attempts" in right.text
    assert AuditEvent.objects.filter(action="auth.locked_out", actor_label=user.email).count() == 1
