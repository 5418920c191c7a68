"""The idempotent demo: one organisation, a user for every role, a platform operator, the policies,
lounges, and notes for the coach to cite. One function per domain, each through that domain's
services, so running it again changes nothing. A domain's demo data goes here; call `seed()` inside a transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from domains.accounts.models import Organisation, Role, User
from domains.accounts.services import membership_grant
from domains.common.errors import Refusal
from domains.compliance.models import PolicyDocument, PolicyKind
from domains.compliance.services import consent_record, policy_publish
from domains.demo.logins import DEMO_OPERATOR, DEMO_ORGANISATION_SLUG, DEMO_PASSWORD, DEMO_USERS, demo_email
from domains.invitations.models import Invitation
from domains.invitations.services import invitation_create
from domains.lounges.models import Lounge, LoungeAccess, LoungeRole
from domains.lounges.selectors import lounge_get_for_user, lounge_membership_get
from domains.lounges.services import lounge_create, lounge_join, member_add, member_role_set, message_post
from domains.notes.selectors import note_list_for_user
from domains.notes.services import note_create

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


@dataclass(frozen=True)
class DemoLounge:
    slug: str
    title: str
    topic: str
    category: str
    access: str


# Created by the demo mentor, who owns them. Open lounges get the learner and the candidate;
# members-only ones the staff member, as a moderator.
DEMO_LOUNGES = [
    DemoLounge(
        "interview-prep", "Interview prep", "Practise answers, share tips, ask the coach.", "Careers", LoungeAccess.OPEN
    ),
    DemoLounge(
        "study-hall", "Study hall", "Quiet focus, accountability and study habits.", "Learning", LoungeAccess.OPEN
    ),
    DemoLounge("mentors-corner", "Mentors' corner", "For mentors and staff.", "Staff", LoungeAccess.MEMBERS),
]


@dataclass(frozen=True)
class DemoNote:
    title: str
    body: str
    tags: tuple[str, ...] = ()
    lounge: str = ""  # a demo lounge's slug: shared there by the mentor; else the learner's own
    pinned: bool = False


DEMO_NOTES = [
    DemoNote(
        "STAR method",
        "# STAR method\n\nStructure every behavioural answer in four parts:\n\n"
        "- **Situation**: set the scene in one or two sentences.\n"
        "- **Task**: what you were responsible for.\n"
        "- **Action**: what *you* did, step by step.\n"
        "- **Result**: the outcome, with a number if you can.\n\n"
        "Keep each answer to about two minutes, and rehearse three stories out loud.\n",
        tags=("interviews", "star"),
        pinned=True,
    ),
    DemoNote(
        "My interview stories",
        "# My interview stories\n\n## The late release\n\nOur release slipped a week. I split the backlog, "
        "cut two features with the product owner and we shipped on the new date with no open bugs.\n\n"
        "## The conflict in the team\n\nTwo colleagues disagreed on the database. I set up a one-hour spike "
        "for each option and we chose by the measurements, not by opinion.\n",
        tags=("interviews", "stories"),
    ),
    DemoNote(
        "Study plan",
        "# Study plan\n\nReview flashcards every morning (spaced repetition: one day, three days, a week). "
        "Work in 25-minute focus blocks with 5-minute breaks, and sleep eight hours before an exam.\n",
        tags=("study",),
    ),
    DemoNote(
        "Salary negotiation",
        "# Salary negotiation\n\nNever name a figure first. Research the market range for the role and "
        "anchor at its top. Negotiate the whole package (base pay, bonus, equity, holidays) and ask for "
        "the offer in writing before you accept.\n",
        tags=("interviews", "salary"),
        lounge="interview-prep",
    ),
    DemoNote(
        "Questions to ask the interviewer",
        "# Questions to ask the interviewer\n\nPrepare three:\n\n1. What does success look like in the "
        "first ninety days?\n2. How does the team review code?\n3. What is the biggest challenge this quarter?\n",
        tags=("interviews",),
        lounge="interview-prep",
    ),
]


def seed() -> Organisation:
    """The whole demo, in dependency order."""
    organisation, _ = Organisation.objects.update_or_create(
        slug=DEMO_ORGANISATION_SLUG, defaults={"name": "Coachwire Demo", "is_active": True}
    )
    documents = seed_people(organisation)
    seed_operator(documents=documents)
    seed_lounges(organisation)
    seed_notes(organisation)
    seed_welcome(organisation)
    seed_invitations(organisation)
    seed_interviews(organisation)
    return organisation


def _verified_email(user: User, email: str) -> None:
    EmailAddress.objects.update_or_create(user=user, email=email, defaults={"verified": True, "primary": True})


def seed_people(organisation: Organisation) -> list[PolicyDocument]:
    """Accounts and compliance: the policies, and a member of the organisation per role who has
    consented to them. Returns the policies."""
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
        _verified_email(user, email)
        membership_grant(organisation=organisation, user=user, role=role, actor=None)
        consent_record(user=user, documents=[privacy, terms], request=None)
    return [privacy, terms]


def seed_operator(*, documents: list[PolicyDocument]) -> None:
    """The platform operator: a superuser for /admin/, deliberately a member of no organisation."""
    role, name = DEMO_OPERATOR
    email = demo_email(role)
    operator = User.objects.filter(email=email).first()
    if operator is None:
        operator = User.objects.create_superuser(email=email, password=DEMO_PASSWORD, display_name=name)
    elif not (operator.is_staff and operator.is_superuser):
        operator.is_staff = operator.is_superuser = True
        operator.save(update_fields=["is_staff", "is_superuser", "updated_at"])
    _verified_email(operator, email)
    consent_record(user=operator, documents=documents, request=None)


def _demo_user(role: str) -> User:
    return User.objects.get(email=demo_email(role))


def _lounge(organisation: Organisation, mentor: User, demo: DemoLounge) -> Lounge:
    """The demo lounge by its slug, created by the mentor (its owner) the first time."""
    try:
        lounge, _ = lounge_get_for_user(organisation=organisation, user=mentor, slug=demo.slug)
    except Http404:
        return lounge_create(
            organisation=organisation,
            creator=mentor,
            slug=demo.slug,
            title=demo.title,
            topic=demo.topic,
            category=demo.category,
            access=demo.access,
        )
    return lounge


def seed_lounges(organisation: Organisation) -> None:
    """Lounges: people are added only where they have no membership yet, so a second run, or a
    member the demo has since muted, banned or promoted, stays as it is."""
    mentor = _demo_user(Role.MENTOR)
    for demo in DEMO_LOUNGES:
        lounge = _lounge(organisation, mentor, demo)
        if demo.access == LoungeAccess.OPEN:
            for role in (Role.LEARNER, Role.CANDIDATE):
                user = _demo_user(role)
                if lounge_membership_get(lounge=lounge, user=user) is None:
                    lounge_join(lounge=lounge, user=user)
            continue
        staff = _demo_user(Role.STAFF)
        owner = lounge_membership_get(lounge=lounge, user=mentor)
        if owner is None or owner.role != LoungeRole.OWNER:
            continue  # the mentor gave the lounge up; only its owner may add a moderator
        if lounge_membership_get(lounge=lounge, user=staff) is None:
            member_add(lounge=lounge, moderator=mentor, user=staff)
            member_role_set(lounge=lounge, owner=mentor, member=staff, role=LoungeRole.MODERATOR)


def seed_welcome(organisation: Organisation) -> None:
    """The mentor greets the learner in *Interview prep* by name, so the learner's first visit shows
    a real mention: a notification, its badge and its email (posted once: the same client_msg_id
    makes a second run return the first post and notify no one)."""
    mentor, learner = _demo_user(Role.MENTOR), _demo_user(Role.LEARNER)
    try:
        lounge, _ = lounge_get_for_user(organisation=organisation, user=mentor, slug="interview-prep")
    except Http404:
        return  # the demo lounge is gone
    if lounge_membership_get(lounge=lounge, user=learner) is None:
        return
    try:
        message_post(
            lounge=lounge,
            author=mentor,
            body=f"Welcome @{learner.public_name}! Post a question here, or press Ask the coach for its view.",
            client_msg_id="demo-welcome",
        )
    except Refusal:
        return  # the mentor can no longer post there (muted, banned, locked): the demo keeps its state


def seed_notes(organisation: Organisation) -> None:
    """Notes for the coach to cite: the learner's private ones, and the mentor's shared with their
    lounge. Each is created once per owner and title, so a second run adds nothing (a demo note
    deleted since comes back). `note_create` enqueues the embedding after commit: under `make run`
    the seed runs before the Procfile, and worker-ai embeds them from the queue once it starts."""
    learner, mentor = _demo_user(Role.LEARNER), _demo_user(Role.MENTOR)
    for demo in DEMO_NOTES:
        owner = mentor if demo.lounge else learner
        mine = note_list_for_user(user=owner, organisation=organisation).filter(owner=owner, title=demo.title)
        if mine.exists():
            continue
        lounge = None
        if demo.lounge:
            try:
                lounge, _ = lounge_get_for_user(organisation=organisation, user=mentor, slug=demo.lounge)
            except Http404:
                continue
        try:
            note_create(
                user=owner,
                organisation=organisation,
                title=demo.title,
                body=demo.body,
                tags=list(demo.tags),
                pinned=demo.pinned,
                lounge=lounge,
            )
        except Refusal:
            continue  # the mentor no longer moderates that lounge: it keeps the notes it has


# Waiting invitations, so /invitations/ shows real work: staff invited a second mentor, the mentor a
# candidate. Their links are in the mail `make run` writes (its console, or EMAIL_FILE_PATH).
DEMO_INVITATIONS = [
    (Role.STAFF, "new.mentor", Role.MENTOR),
    (Role.MENTOR, "new.candidate", Role.CANDIDATE),
]


def seed_invitations(organisation: Organisation) -> None:
    """One invitation per address, ever: a second run, or one accepted or withdrawn since, adds none."""
    for inviter_role, local_part, role in DEMO_INVITATIONS:
        email = demo_email(local_part)
        if Invitation.objects.filter(organisation=organisation, email=email).exists():
            continue
        if User.objects.filter(email__iexact=email).exists():
            continue  # someone took the address another way: nothing to invite
        try:
            invitation_create(organisation=organisation, inviter=_demo_user(inviter_role), email=email, role=role)
        except Refusal:
            continue  # the inviter lost the right to invite: the demo keeps its state


DEMO_INTERVIEW_SLUG = "demo-onboarding-screen"


DEMO_ASSESSMENT_TEMPLATE = "python-backend-junior"  # a public catalogue template
DEMO_ASSESSMENT_DAYS = 14
DEMO_ASSESSMENT_ATTEMPTS = 2


def seed_interviews(organisation: Organisation) -> None:
    """The public interview catalogue (idempotent by slug and position), one template of the demo
    organisation's own (written by staff@, with the AI interviewer's follow-ups on) and offline
    drafts waiting in its review queue, and an open assessment for candidate@; a second run adds
    nothing."""
    from domains.interviews import content

    content.seed_public_templates()
    seed_interview_template(organisation)
    seed_interview_followups(organisation)
    seed_interview_assessment(organisation)


def seed_interview_followups(organisation: Organisation) -> None:
    """At least one template candidate@ can practise offers follow-ups: if none does (public
    catalogue templates never do), the demo organisation's own template is switched on."""
    from domains.interviews.models import InterviewTemplate

    visible = InterviewTemplate.objects.filter(is_active=True).filter(
        Q(organisation=None) | Q(organisation=organisation)
    )
    if visible.filter(follow_ups=True).exists():
        return
    InterviewTemplate.objects.filter(organisation=organisation, slug=DEMO_INTERVIEW_SLUG).update(
        follow_ups=True, updated_at=timezone.now()
    )


def seed_interview_assessment(organisation: Organisation) -> None:
    """candidate@ has an assessment on a public template, assigned by staff@ through the service
    (audited; the candidate is notified): open from the seed's run for DEMO_ASSESSMENT_DAYS days,
    DEMO_ASSESSMENT_ATTEMPTS attempts, reviewed by mentor@. While one still open or upcoming
    exists, a run adds none; once it has closed, the next run assigns a fresh one."""
    from domains.interviews.assignments import assignment_create
    from domains.interviews.models import InterviewAssignment, InterviewTemplate

    template = InterviewTemplate.objects.filter(organisation=None, slug=DEMO_ASSESSMENT_TEMPLATE).first()
    if template is None:
        return
    candidate, now = _demo_user("candidate"), timezone.now()
    if InterviewAssignment.objects.filter(
        organisation=organisation, template=template, candidate=candidate, closes_at__gt=now
    ).exists():
        return
    try:
        assignment_create(
            organisation=organisation,
            actor=_demo_user("staff"),
            template_id=template.pk,
            candidate_id=candidate.pk,
            reviewer_id=_demo_user("mentor").pk,
            opens_at=now,
            closes_at=now + timedelta(days=DEMO_ASSESSMENT_DAYS),
            attempts_allowed=DEMO_ASSESSMENT_ATTEMPTS,
            now=now,
        )
    except Refusal:
        return  # someone changed the demo's roles: it keeps its state


def seed_interview_template(organisation: Organisation) -> None:
    """The demo organisation's own template, by staff@, and two offline drafts for its review queue."""
    from domains.interviews import content
    from domains.interviews.catalogue import bands
    from domains.interviews.models import InterviewTemplate

    if InterviewTemplate.objects.filter(organisation=organisation, slug=DEMO_INTERVIEW_SLUG).exists():
        return
    staff = _demo_user("staff")
    template = content.template_create(
        organisation=organisation,
        user=staff,
        title="Demo onboarding screen",
        role="Support engineer",
        interview_type="mixed",
        difficulty="easy",
        level="junior",
        duration_minutes=15,
        follow_ups=True,
        rubric="Clear, customer-minded answers that name the first concrete step.",
        questions=[
            {
                "question_type": "multiple_choice",
                "prompt": "A customer reports the app is down for everyone. What do you do first?",
                "choices": [
                    {"id": "a", "text": "Check the status page and monitoring, then tell the on-call engineer"},
                    {"id": "b", "text": "Ask the customer to clear their cache"},
                    {"id": "c", "text": "Wait for more reports"},
                ],
                "answer_key": ["a"],
                "reference_answer": "Confirm the outage from monitoring and escalate to on-call at once.",
                "rubric_bands": [
                    {"band": "correct", "min": 100, "max": 100, "descriptor": "The keyed option."},
                    {"band": "incorrect", "min": 0, "max": 99, "descriptor": "Another option."},
                ],
                "topics": ["incidents", "support"],
            },
            {
                "question_type": "behavioural",
                "prompt": "Tell me about a time you calmed down an upset customer.",
                "reference_answer": "Listens, acknowledges, states what they will do and by when, follows up.",
                "rubric_bands": bands(
                    "Full STAR with empathy, a concrete action and a follow-up.",
                    "A clear story, follow-up missing.",
                    "Vague.",
                    "No example.",
                ),
                "topics": ["customer-care", "star-method"],
            },
        ],
    )
    # The drafter offline: deterministic, no network (whatever provider the demo has configured).
    proposals = content.offline_drafts(template=template, count=2, job_description="")
    content.offline_drafts_store(template=template, user=staff, proposals=proposals)
