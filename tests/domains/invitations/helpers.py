"""The world the invitation tests share: an organisation with staff, a mentor, a learner, and policies."""

from __future__ import annotations

import re
from dataclasses import dataclass

from domains.accounts.models import Organisation, Role, User
from domains.compliance.models import PolicyDocument
from domains.compliance.services import consent_record, policy_current_list, policy_publish
from domains.mail.models import OutboundEmail
from tests.factories import MembershipFactory, OrganisationFactory

LINK = re.compile(r"https?://[^/\s]+(/invitations/accept/([^/\s]+)/)")


@dataclass
class World:
    organisation: Organisation
    staff: User
    mentor: User
    learner: User
    policies: list[PolicyDocument]


def world_make() -> World:
    organisation = OrganisationFactory.create(name="Acme School")
    member = MembershipFactory.create
    policies = [
        policy_publish(kind="privacy", version="1.0", title="Privacy policy", body="# Privacy"),
        policy_publish(kind="terms", version="1.0", title="Terms of use", body="# Terms"),
    ]
    world = World(
        organisation=organisation,
        staff=member(organisation=organisation, role=Role.STAFF, user__display_name="Stella Staff").user,
        mentor=member(organisation=organisation, role=Role.MENTOR, user__display_name="Max Mentor").user,
        learner=member(organisation=organisation, role=Role.LEARNER).user,
        policies=policies,
    )
    for user in (world.staff, world.mentor, world.learner):
        consented(user)
    return world


def consented(user: User) -> User:
    """`user`, having accepted the current policies (else every page sends them to consent first)."""
    consent_record(user=user, documents=policy_current_list(), request=None)
    return user


def mailed_link(email: str) -> tuple[str, str]:
    """The accept path and token from the newest invitation mailed to `email`."""
    mail = OutboundEmail.objects.filter(to=email, tag="invitation").order_by("-pk").first()
    assert mail is not None
    found = LINK.search(mail.text_body)
    assert found is not None
    return found.group(1), found.group(2)
