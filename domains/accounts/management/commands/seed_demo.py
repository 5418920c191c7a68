"""An idempotent demo: one organisation, a user for every role, a platform operator, the policies.
Safe to run again."""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction

from domains.accounts.demo import DEMO_OPERATOR, DEMO_ORGANISATION_SLUG, DEMO_PASSWORD, DEMO_USERS, demo_email
from domains.accounts.models import Organisation, Role, User
from domains.accounts.services import membership_grant
from domains.compliance.models import PolicyKind
from domains.compliance.services import consent_record, policy_publish

PRIVACY = """# Privacy policy

Coachwire keeps what you write (messages, notes, answers) so that you and your coaches can use it.

- We record sign-ins, consent and sensitive actions in an audit log.
- Your private notes are visible to you and to the AI coach answering you, never to other learners or mentors.
- You can ask your organisation's staff for an export or the erasure of your data.
"""
TERMS = """# Terms of use

Be kind in lounges. Mentors may hide messages, mute or remove members who break the rules.
AI coaches can be wrong: check what matters.
"""


class Command(BaseCommand):
    help = "Create or refresh the demo organisation, users and policies (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        organisation, _ = Organisation.objects.update_or_create(
            slug=DEMO_ORGANISATION_SLUG, defaults={"name": "Coachwire Demo", "is_active": True}
        )
        privacy = policy_publish(kind=PolicyKind.PRIVACY, version="1.0", title="Privacy policy", body=PRIVACY)
        terms = policy_publish(kind=PolicyKind.TERMS, version="1.0", title="Terms of use", body=TERMS)
        for role, name in DEMO_USERS:
            email = demo_email(role)
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, display_name=name)
            if user.is_staff or user.is_superuser:
                # Organisation staff use the organisation admin (/manage/), by their role; Django's
                # flags open the operator admin over every organisation. Older seeds made staff@ a
                # superuser, so take that back.
                user.is_staff = user.is_superuser = False
                user.save(update_fields=["is_staff", "is_superuser", "updated_at"])
            EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})
            membership_grant(organisation=organisation, user=user, role=role, actor=None)
            consent_record(user=user, documents=[privacy, terms], request=None)
        self._seed_operator(documents=[privacy, terms])
        self._seed_lounges(organisation)
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready: {organisation.name}, {len(DEMO_USERS)} users and a platform operator.")
        )

    def _seed_operator(self, *, documents: list[Any]) -> None:
        """The platform operator: a superuser for /admin/, deliberately a member of no organisation."""
        role, name = DEMO_OPERATOR
        email = demo_email(role)
        operator = User.objects.filter(email=email).first()
        if operator is None:
            operator = User.objects.create_superuser(email=email, password=DEMO_PASSWORD, display_name=name)
        elif not (operator.is_staff and operator.is_superuser):
            operator.is_staff = operator.is_superuser = True
            operator.save(update_fields=["is_staff", "is_superuser", "updated_at"])
        EmailAddress.objects.update_or_create(user=operator, email=email, defaults={"verified": True, "primary": True})
        consent_record(user=operator, documents=documents, request=None)

    def _seed_lounges(self, organisation: Organisation) -> None:
        from domains.lounges.models import Lounge, LoungeAccess, LoungeMembership, LoungeRole

        mentor = User.objects.get(email=demo_email(Role.MENTOR))
        lounges = [
            (
                "interview-prep",
                "Interview prep",
                "Practise answers, share tips, ask the coach.",
                "Careers",
                LoungeAccess.OPEN,
            ),
            (
                "study-hall",
                "Study hall",
                "Quiet focus, accountability and study habits.",
                "Learning",
                LoungeAccess.OPEN,
            ),
            ("mentors-corner", "Mentors' corner", "For mentors and staff.", "Staff", LoungeAccess.MEMBERS),
        ]
        for slug, title, topic, category, access in lounges:
            lounge, _ = Lounge.objects.get_or_create(
                organisation=organisation,
                slug=slug,
                defaults={"title": title, "topic": topic, "category": category, "access": access, "created_by": mentor},
            )
            LoungeMembership.objects.get_or_create(lounge=lounge, user=mentor, defaults={"role": LoungeRole.OWNER})
            if access == LoungeAccess.OPEN:
                for role in (Role.LEARNER, Role.CANDIDATE):
                    LoungeMembership.objects.get_or_create(lounge=lounge, user=User.objects.get(email=demo_email(role)))
            else:
                staff = User.objects.get(email=demo_email(Role.STAFF))
                LoungeMembership.objects.get_or_create(
                    lounge=lounge, user=staff, defaults={"role": LoungeRole.MODERATOR}
                )
