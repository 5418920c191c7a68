"""The matrix's world: two organisations, A ("own") and B ("foreign"), seeded through the services.

Every actor lives in A, one per organisation role, plus a platform operator (a superuser with no
membership) and anonymous. B mirrors A's objects, so every id or slug a URL takes has an own-org
value, a foreign-org value and (computed by the harness) a missing value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


def roles() -> list[str]:
    """Every organisation role (domains/accounts/models.py `Role`): a new role becomes a new actor."""
    from domains.accounts.models import Role

    return [role.value for role in Role]


def actors() -> list[str]:
    return ["anonymous", *roles(), "operator"]


@dataclass
class OrgObjects:
    organisation: Any
    users: dict[str, Any]
    lounges: dict[str, Any]
    message: Any
    mentor_message: Any
    report: Any
    note_private: Any
    note_shared: Any
    thread: Any
    coach_reply: Any
    coach_message: Any
    notification: Any  # the learner's
    invitation: Any  # a pending one, from staff
    token: Any  # the learner's personal access token
    user_session: Any  # a signed-in session of the learner's (not the matrix client's own)
    interview_template: Any  # the organisation's own, with an MC and an open question
    interview_question: Any  # its open question
    interview_session: Any  # the candidate's, in progress
    interview_answer: Any  # the candidate's answer in it
    interview_draft: Any  # a drafted question waiting for review
    interview_assignment: Any  # the candidate's assessment of the interview template, open now


@dataclass
class World:
    own: OrgObjects
    foreign: OrgObjects
    operator: Any
    policy_kind: str
    extra: dict[str, Any] = field(default_factory=dict)

    def actor(self, name: str) -> Any:
        if name == "anonymous":
            return None
        if name == "operator":
            return self.operator
        return self.own.users[name]


def _seed_org(prefix: str, documents: list[Any]) -> OrgObjects:
    from allauth.account.models import EmailAddress
    from allauth.usersessions.models import UserSession

    from domains.accounts.services import membership_grant
    from domains.ai.services import ai_usage_record
    from domains.coach import services as coach
    from domains.compliance.services import consent_record
    from domains.invitations import services as invitations
    from domains.lounges import services as lounges
    from domains.lounges.models import LoungeAccess
    from domains.lounges.notices import LOUNGE_REPORT_RESOLVED
    from domains.mail.services import mail_queue
    from domains.notes import services as notes
    from domains.notifications.services import notify
    from domains.tokens.services import pat_create
    from tests.factories import OrganisationFactory, UserFactory

    organisation = OrganisationFactory.create(slug=f"matrix-{prefix}", name=f"Matrix {prefix.upper()}")
    users: dict[str, Any] = {}
    for role in roles():
        user = UserFactory.create(email=f"{role}@{prefix}.matrix.test", display_name=f"{prefix.upper()} {role}")
        membership_grant(organisation=organisation, user=user, role=role, actor=None)
        consent_record(user=user, documents=documents, request=None)
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
        users[role] = user
    mentor, learner = users["mentor"], users["learner"]
    # Distinct slugs per organisation: a shared slug would make the "foreign" slug resolve to the own lounge.
    made = {
        access: lounges.lounge_create(
            organisation=organisation,
            creator=mentor,
            slug=f"{prefix}-{access}",
            title=f"{prefix} {access}",
            access=access,
        )
        for access in (LoungeAccess.OPEN, LoungeAccess.MEMBERS, LoungeAccess.INVITE)
    }
    # The learner is in the open and the members-only lounge, not in the invite-only one.
    lounges.lounge_join(lounge=made[LoungeAccess.OPEN], user=learner)
    lounges.member_add(lounge=made[LoungeAccess.MEMBERS], moderator=mentor, user=learner)
    message = lounges.message_post(
        lounge=made[LoungeAccess.OPEN], author=learner, body="matrix learner message", client_msg_id=f"{prefix}-m1"
    ).message
    mentor_message = lounges.message_post(
        lounge=made[LoungeAccess.OPEN], author=mentor, body="matrix mentor message", client_msg_id=f"{prefix}-m2"
    ).message
    # A coach reply in the open lounge (left streaming: no worker runs here), for coach.stop/.text.
    coach_message, _ = lounges.coach_summon(lounge=made[LoungeAccess.OPEN], user=learner, request_id=f"{prefix}-c1")
    report = lounges.report_create(message=mentor_message, reporter=learner, reason="matrix report")
    note_private = notes.note_create(user=learner, organisation=organisation, title=f"{prefix} private note")
    note_shared = notes.note_create(
        user=mentor, organisation=organisation, title=f"{prefix} shared note", lounge=made[LoungeAccess.MEMBERS]
    )
    thread = coach.thread_create(user=learner, organisation=organisation, title=f"{prefix} thread")
    _question, coach_reply, _ = coach.thread_message_post(
        thread=thread, user=learner, body="matrix question", client_msg_id=f"{prefix}-t1"
    )
    assert coach_reply is not None
    # No worker runs in this test: finish the reply as one would, so the thread is not busy.
    type(coach_reply).objects.filter(pk=coach_reply.pk).update(status="complete", body="matrix answer")
    ai_usage_record(organisation=organisation, user=learner, feature="coach", outcome="ok")
    # The learner's notice (the report above, reviewed), and a mail of the organisation's (not sent:
    # its task runs on commit, and the matrix never commits).
    notification = notify(
        user=learner, kind=LOUNGE_REPORT_RESOLVED, title=f"{prefix} notice", organisation=organisation
    )
    mail_queue(
        to=learner.email, subject=f"{prefix} mail", text="x", tag="matrix", user=learner, organisation=organisation
    )
    invitation = invitations.invitation_create(
        organisation=organisation, inviter=users["staff"], email=f"invitee@{prefix}.matrix.test", role="learner"
    )
    token = pat_create(
        user=learner, organisation=organisation, name=f"{prefix} script", scope="read", expires_in_days=30
    )
    user_session = UserSession.objects.create(
        user=learner, session_key=f"matrix{prefix}session".ljust(32, "0"), ip="192.0.2.10", user_agent="matrix"
    )
    from domains.interviews import content as interviews_content
    from domains.interviews import services as interviews
    from tests.domains.interviews.helpers import question_data, template_data

    interview_template = interviews_content.template_create(
        organisation=organisation, user=users["staff"], **template_data(title=f"{prefix} screen")
    )
    interview_question = interview_template.questions.get(position=2)
    interview_session, _ = interviews.interview_session_start(
        user=users["candidate"], organisation=organisation, template_id=interview_template.pk
    )
    interviews.answer_save(
        session_id=interview_session.pk,
        user=users["candidate"],
        question_id=interview_question.pk,
        revision=1,
        text="x",
    )
    interview_answer = interview_session.answers.get(question=interview_question)
    interview_draft = interviews_content.offline_drafts_store(
        template=interview_template,
        user=users["staff"],
        proposals=[{**question_data(prompt=f"{prefix} drafted?"), "choices": [], "answer_key": []}],
    )[0]
    from datetime import timedelta

    from django.utils import timezone

    from domains.interviews import assignments as interview_assignments

    opens = timezone.now() - timedelta(hours=1)
    interview_assignment = interview_assignments.assignment_create(
        organisation=organisation,
        actor=users["staff"],
        template_id=interview_template.pk,
        opens_at=opens,
        closes_at=opens + timedelta(days=7),
        attempts_allowed=2,
        candidate_id=users["candidate"].pk,
        reviewer_id=users["mentor"].pk,
    )
    return OrgObjects(
        organisation=organisation,
        users=users,
        lounges={str(k): v for k, v in made.items()},
        message=message,
        mentor_message=mentor_message,
        report=report,
        note_private=note_private,
        note_shared=note_shared,
        thread=thread,
        coach_reply=coach_reply,
        coach_message=coach_message,
        notification=notification,
        invitation=invitation,
        token=token.token,
        user_session=user_session,
        interview_template=interview_template,
        interview_question=interview_question,
        interview_session=interview_session,
        interview_answer=interview_answer,
        interview_draft=interview_draft,
        interview_assignment=interview_assignment,
    )


@pytest.fixture
def matrix_world(db: None) -> World:
    """Seeded once for the one test that runs every cell (each cell runs in a savepoint rolled back
    after it, so no cell sees another's writes)."""
    from django.contrib.auth.models import Group

    from domains.accounts.models import User
    from domains.ai.models import AIFeatureConfig
    from domains.compliance.services import consent_record, policy_publish

    # Published policies, accepted by everyone: as in a real installation, and without the consent
    # redirect standing in front of every page.
    documents = [
        policy_publish(kind=kind, version="1", title=kind.title(), body=f"The {kind}.") for kind in ("privacy", "terms")
    ]
    own = _seed_org("a", documents)
    foreign = _seed_org("b", documents)
    for objects in (own, foreign):
        AIFeatureConfig.objects.create(organisation=objects.organisation, feature="")
    operator = User.objects.create_superuser(email="operator@matrix.test", password="a-long-test-password")
    consent_record(user=operator, documents=documents, request=None)
    Group.objects.create(name="matrix group")
    return World(own=own, foreign=foreign, operator=operator, policy_kind="privacy")
