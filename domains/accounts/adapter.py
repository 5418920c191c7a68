from __future__ import annotations

import hashlib
import math
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.conf import settings
from django.contrib.sites.shortcuts import get_current_site
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import strip_tags

# Also connects the social-login audit receivers (connect and disconnect): this module is imported
# when the app is ready (domains/accounts/signals.py), before any social login can happen.
from domains.accounts.social import social_login_audit
from domains.common.client_ip import client_ip
from domains.mail.services import mail_html_from_text, mail_queue


class AccountAdapter(DefaultAccountAdapter):
    """Hook point for allauth; sign-up side effects live in SignupForm.save → services."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        """App clients (allauth headless) cannot sign up: its form has none of our page's rules (name,
        consent, the organisation's sign-up policy), so domains/tokens/headless.py refuses the call and
        this keeps headless' own `config` and flows from offering it. The pages stay open."""
        from allauth.core.internal.httpkit import is_headless_request

        if is_headless_request(request):
            return False
        return bool(super().is_open_for_signup(request))

    def get_client_ip(self, request: HttpRequest) -> str:
        """The resolved client address (domains.common.client_ip), so allauth's per-IP limits count
        the same address as the lockouts and the audit log; allauth's own X-Forwarded-For handling
        is never used. Like allauth, refuses a request without a valid address."""
        ip = client_ip(request)
        if ip is None:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def pre_authenticate(self, request: HttpRequest, **credentials: Any) -> None:
        """allauth's per-account failure budget, except:
        - for an (account, address) pair that axes has locked: axes refuses that attempt anyway,
          and a locked-out stranger hammering on must not use up the owner's budget;
        - from an address this account has signed in from before (`login_address_known`): a
          stranger who spends the account's budget from many addresses still cannot keep the owner
          out of their usual place. axes's (account, address) lock still applies there."""
        if getattr(settings, "AXES_ENABLED", True):
            from axes.handlers.proxy import AxesProxyHandler

            if not AxesProxyHandler.is_allowed(request, credentials):
                self._login_failed_rl_usage = None
                return
        if login_address_known(email=axes_username(request, credentials), ip=client_ip(request)):
            self._login_failed_rl_usage = None
            return
        super().pre_authenticate(request, **credentials)

    def post_login(
        self,
        request: HttpRequest,
        user: Any,
        *,
        email_verification: str,
        signal_kwargs: dict[str, Any] | None,
        email: str | None,
        signup: bool,
        redirect_url: str | None,
    ) -> HttpResponse:
        """After every completed sign-in; one through a provider (allauth passes its `sociallogin`)
        is audited as `auth.social_login` (domains/accounts/social.py)."""
        response: HttpResponse = super().post_login(
            request,
            user,
            email_verification=email_verification,
            signal_kwargs=signal_kwargs,
            email=email,
            signup=signup,
            redirect_url=redirect_url,
        )
        sociallogin = (signal_kwargs or {}).get("sociallogin")
        if sociallogin is not None:
            social_login_audit(request=request, user=user, sociallogin=sociallogin, signup=signup)
        return response

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """allauth renders the mail as it would (its templates, the "[Coachwire] " subject prefix,
        the Sites row's name), and `mail_queue` sends it from a worker, so no request talks SMTP.
        allauth's mails are text only: the HTML part is that text in the shared mail layout. Tagged
        "account.<template>" ("account.password_reset_key", "mfa.totp_activated"); the bodies hold
        keys and codes, so they are blanked once sent."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request), **context}
        message = self.render_mail(template_prefix, email, ctx)
        if message.content_subtype == "html":  # an HTML-only template set: no text part to give
            text, html = strip_tags(message.body), message.body
        else:
            alternatives = getattr(message, "alternatives", [])
            text = message.body
            html = next((content for content, mimetype in alternatives if mimetype == "text/html"), "")
            html = str(html) if html else mail_html_from_text(text, {"site_name": ctx["current_site"].name})
        user = context.get("user")
        parts = template_prefix.split("/")
        mail_queue(
            to=email,
            subject=str(message.subject),
            text=text,
            html=html,
            tag=f"{parts[0]}.{parts[-1]}",
            user=user if getattr(user, "pk", None) else None,
            headers={str(name): str(value) for name, value in message.extra_headers.items()},
            holds_secret=True,
        )


_KNOWN_ADDRESS_SECONDS = 60 * 60 * 24 * 90


def _known_address_key(email: str, ip: str) -> str:
    # Hashed: the cache holds no email addresses or IPs in the clear.
    digest = hashlib.sha256(f"{email}\n{ip}".encode()).hexdigest()
    return f"accounts:login-address:{digest}"


def login_address_remember(*, email: str | None, ip: str | None) -> None:
    """Note that `email` signed in from `ip` (for 90 days): that address keeps working for the
    owner even while a distributed guesser has used up the account's failure budget."""
    if email and ip:
        cache.set(_known_address_key(email.strip().lower(), ip), 1, timeout=_KNOWN_ADDRESS_SECONDS)


def login_address_known(*, email: str | None, ip: str | None) -> bool:
    return bool(email and ip and cache.get(_known_address_key(email.strip().lower(), ip)))


def axes_username(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str | None:
    """The account an attempt is for, as axes counts it (AXES_USERNAME_CALLABLE): allauth passes
    `email=`, Django's admin `username=`, and without credentials the login form's `login` field.
    Case-folded, so changing the case of the address does not start a fresh counter."""
    value: Any = None
    if credentials:
        value = credentials.get("email") or credentials.get("username") or credentials.get("login")
    if not value and request is not None:
        data = getattr(request, "POST", None) or {}
        value = data.get("login") or data.get("email") or data.get("username")
    if not isinstance(value, str):
        return None
    # AccessAttempt.username holds 255 characters.
    return value.strip().lower()[:255] or None


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The page for a locked (account, address) pair (AXES_LOCKOUT_CALLABLE): 429 with Retry-After.

    axes calls this with (request, original_response, credentials) from its sync middleware and
    with (request, credentials) from its async one; neither is needed here."""
    from axes.helpers import get_cool_off

    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 0
    response = render(
        request,
        "accounts/lockout.html",
        {"minutes": math.ceil(seconds / 60) if seconds else None},
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
    if seconds:
        response["Retry-After"] = str(seconds)
    return response
