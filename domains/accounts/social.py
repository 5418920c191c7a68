"""Social login rules: Google and one generic OpenID Connect provider through allauth.socialaccount.

allauth runs the protocol (redirect, state, PKCE, token, userinfo); this adapter decides who gets in
(docs/social-login.md):

- A first login creates an account and links it: like a page sign-up, the person gets a display name
  (the provider's), joins the sign-up organisation as a learner (`user_signup_complete`) and must
  still accept the current policies (ConsentRequiredMiddleware sends them to /consent/).
- Only a provider-verified email creates an account: an unverified one, or none, is refused.
- A provider's email never signs in to, or links to, an existing account by itself, verified or not
  (SOCIALACCOUNT_EMAIL_AUTHENTICATION is off): the owner signs in with their account and connects
  the provider at /accounts/3rdparty/.
- The sign-up organisation's policy applies (`signup_allowed`): invite only refuses new accounts,
  an email domain refuses other domains.
- A second login finds the linked account by the provider's subject (`sub`) and signs in to it.

Audited: `auth.social_login`, `auth.social_connected`, `auth.social_disconnected`,
`auth.social_signup_refused`, `auth.social_login_failed`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from allauth.account.internal.userkit import filter_users_by_email
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.core.internal.httpkit import is_headless_request
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount, SocialLogin
from allauth.socialaccount.signals import social_account_added, social_account_removed
from django.db import transaction
from django.dispatch import receiver
from django.http import Http404, HttpRequest
from django.shortcuts import render

from domains.accounts.models import SignupPolicy, User
from domains.accounts.selectors import organisation_settings_get, signup_allowed, signup_organisation
from domains.accounts.services import user_signup_complete
from domains.compliance.services import audit_record

if TYPE_CHECKING:
    from allauth.socialaccount.providers.base.provider import Provider

DISPLAY_NAME_MAX = 80  # User.display_name


def claims_verified(value: Any) -> bool:
    """Whether a provider's `email_verified` says yes. Strict: some providers send the strings
    "true"/"false", and allauth's OpenID Connect provider copies the claim as it comes, so the string
    "false" would be truthy (allauth/socialaccount/providers/openid_connect/provider.py
    `extract_email_addresses`)."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def social_display_name(*, data: dict[str, Any], sociallogin: SocialLogin) -> str:
    """The name others see, from the provider: its `name`, else given and family names, else the
    email's local part (a page sign-up always has a name; so does a social one)."""
    extra = sociallogin.account.extra_data or {}
    # OpenID Connect keeps the claims under "userinfo"/"id_token"; Google keeps them flat.
    claims = extra.get("userinfo") or extra.get("id_token") or extra
    parts = [data.get("first_name") or claims.get("given_name"), data.get("last_name") or claims.get("family_name")]
    for candidate in (data.get("name"), claims.get("name"), " ".join(p for p in parts if p)):
        name = " ".join(str(candidate or "").split())
        if name:
            return name[:DISPLAY_NAME_MAX]
    email = str(data.get("email") or "")
    return email.split("@", 1)[0][:DISPLAY_NAME_MAX]


def _provider_name(sociallogin: SocialLogin) -> str:
    return str(sociallogin.provider.name)


def social_signup_refusal(sociallogin: SocialLogin) -> tuple[str, str] | None:
    """Why this first login may not create an account, as (code, message), or None when it may.
    Called only for a provider identity that is linked to no account yet."""
    provider = _provider_name(sociallogin)
    user = sociallogin.user
    email = (getattr(user, "email", "") or "").strip()
    if not email:
        return (
            "no_email",
            f"{provider} did not share an email address with us, so we cannot create an account. "
            "Sign up with an email and password instead.",
        )
    verified = {a.email.lower() for a in sociallogin.email_addresses if a.email and claims_verified(a.verified)}
    if email.lower() not in verified:
        return (
            "unverified_email",
            f"{provider} has not verified that {email} is yours, so we cannot create an account with it. "
            f"Verify the address with {provider}, or sign up with an email and password.",
        )
    if filter_users_by_email(email):
        return (
            "email_in_use",
            f"An account with {email} exists already. Sign in to it with its password, then connect "
            f"{provider} under Connected accounts.",
        )
    organisation = signup_organisation()
    if organisation is not None and not signup_allowed(organisation=organisation, email=email):
        policy = organisation_settings_get(organisation=organisation)
        if policy.signup_policy == SignupPolicy.INVITE_ONLY:
            return ("invite_only", f"{organisation.name} is invite only: ask its staff for an invitation.")
        return (
            "email_domain",
            f"{organisation.name} accepts sign-ups only from addresses at {policy.signup_email_domain}.",
        )
    return None


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """SOCIALACCOUNT_ADAPTER: the rules above, on top of allauth's flow."""

    def get_app(self, request: HttpRequest, provider: Any, client_id: Any = None) -> Any:
        """A provider that is installed but not configured (no client id in the environment) has
        addresses all the same (/accounts/google/login/ and its callback): they are 404, not the
        500 allauth's `SocialApp.DoesNotExist` would make."""
        from allauth.socialaccount.models import SocialApp

        try:
            return super().get_app(request, provider, client_id=client_id)
        except SocialApp.DoesNotExist:
            raise Http404("This sign-in provider is not configured.") from None

    def populate_user(self, request: HttpRequest, sociallogin: SocialLogin, data: dict[str, Any]) -> Any:
        user = super().populate_user(request, sociallogin, data)
        user.display_name = social_display_name(data=data, sociallogin=sociallogin)
        return user

    def is_email_verified(self, provider: Provider, email: str) -> bool:
        """Only the provider's own claim marks an address verified: never a setting
        (allauth's VERIFIED_EMAIL) that would vouch for every address of a provider or domain."""
        return False

    def can_authenticate_by_email(self, login: SocialLogin, email: str) -> bool:
        """Never: a provider's email does not sign in to an existing account, whatever
        SOCIALACCOUNT_EMAIL_AUTHENTICATION says (it is off too). allauth's own check trusts any
        truthy `verified`, the string "false" included."""
        return False

    def is_open_for_signup(self, request: HttpRequest, sociallogin: SocialLogin) -> bool:
        """allauth asks this before creating an account for a new provider identity. A refusal is a
        page saying why (403) in the browser, and allauth's "sign-up closed" for app clients."""
        refusal = social_signup_refusal(sociallogin)
        if refusal is None:
            return True
        code, message = refusal
        email = (getattr(sociallogin.user, "email", "") or "")[:254]
        audit_record(
            actor=None,
            organisation=None,
            action="auth.social_signup_refused",
            request=request,
            actor_label=email or "unknown",
            details={"provider": sociallogin.account.provider, "reason": code, "email": email},
        )
        # An app client's login (allauth headless) gets allauth's own "signup_closed" error back at
        # the app: its callback request is not a headless request, but its state says headless.
        if sociallogin.is_headless or is_headless_request(request):
            return False
        raise ImmediateHttpResponse(
            render(
                request,
                "socialaccount/signup_refused.html",
                {"provider_name": _provider_name(sociallogin), "reason": code, "message": message},
                status=403,
            )
        )

    def save_user(self, request: HttpRequest, sociallogin: SocialLogin, form: Any = None) -> User:
        """A first login's account: created, linked, named and placed like a page sign-up's, in one
        transaction. Consent is not recorded here: the consent page asks for it next."""
        with transaction.atomic():
            user: User = super().save_user(request, sociallogin, form)
            user_signup_complete(user=user, display_name=user.display_name, request=request)
            _audit_connected(request=request, user=user, account=sociallogin.account)
        return user

    def on_authentication_error(
        self,
        request: HttpRequest,
        provider: Any,
        error: Any = None,
        exception: Any = None,
        extra_context: Any = None,
    ) -> None:
        """A failed round trip (a tampered or expired state, a refused code, a bad token) is audited;
        allauth then shows its error page (401)."""
        audit_record(
            actor=None,
            organisation=None,
            action="auth.social_login_failed",
            request=request,
            actor_label="unknown",
            details={
                "provider": getattr(provider, "sub_id", "") or getattr(provider, "id", ""),
                "error": str(error or ""),
                "exception": type(exception).__name__ if exception is not None else "",
            },
        )
        super().on_authentication_error(
            request, provider, error=error, exception=exception, extra_context=extra_context
        )


def social_login_audit(*, request: HttpRequest | None, user: User, sociallogin: SocialLogin, signup: bool) -> None:
    """`auth.social_login` for a completed sign-in through a provider (the first one too); Django's
    own login signal records `auth.login` beside it. Called from AccountAdapter.post_login."""
    audit_record(
        actor=user,
        organisation=None,
        action="auth.social_login",
        target=user,
        request=request,
        details={"provider": sociallogin.account.provider, "uid": sociallogin.account.uid, "signup": signup},
    )


def _audit_connected(*, request: HttpRequest | None, user: Any, account: SocialAccount) -> None:
    audit_record(
        actor=user,
        organisation=None,
        action="auth.social_connected",
        target=user,
        request=request,
        details={"provider": account.provider, "uid": account.uid},
    )


@receiver(social_account_added, dispatch_uid="accounts.social_connected")
def audit_social_connected(sender: Any, request: HttpRequest, sociallogin: SocialLogin, **kwargs: Any) -> None:
    """A signed-in person connected a provider (allauth sends this only for connecting, not for a
    first login's new account, which `save_user` audits)."""
    _audit_connected(request=request, user=sociallogin.user, account=sociallogin.account)


@receiver(social_account_removed, dispatch_uid="accounts.social_disconnected")
def audit_social_disconnected(sender: Any, request: HttpRequest, socialaccount: SocialAccount, **kwargs: Any) -> None:
    audit_record(
        actor=request.user,
        organisation=None,
        action="auth.social_disconnected",
        target=socialaccount.user,
        request=request,
        details={"provider": socialaccount.provider, "uid": socialaccount.uid},
    )
