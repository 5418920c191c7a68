"""Who may do what with an interview session (read on every call, never cached).

- The candidate takes their own session: reads it, saves answers, moves, submits.
- Watchers read it live (progress, time left) and grant extra time: the mentors of the session's
  organisation, and the reviewer of the session's assignment (a mentor named on it).
- Anyone else: the session does not exist for them (404).
"""

from __future__ import annotations

from domains.accounts.models import Role, User
from domains.accounts.selectors import roles_for_user
from domains.interviews.models import InterviewSession


def is_candidate(*, user: User, session: InterviewSession) -> bool:
    return user.is_authenticated and session.candidate_id == user.pk


def may_watch(*, user: User, session: InterviewSession) -> bool:
    """A mentor of the session's organisation, or the assignment's reviewer (while a member)."""
    if not user.is_authenticated or session.candidate_id == user.pk:
        return False
    roles = roles_for_user(user=user, organisation=session.organisation)
    if Role.MENTOR in roles:
        return True
    assignment = session.assignment
    return bool(roles) and assignment is not None and assignment.reviewer_id == user.pk


def may_grant_time(*, user: User, session: InterviewSession) -> bool:
    """Extra time is granted by those who watch (mentors, the reviewer)."""
    return may_watch(user=user, session=session)
