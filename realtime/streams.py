"""Stream keys and the channel-group names derived from them.

A stream key is `<kind>.<id>` (`user.7`, `lounge.12`, `org.3`); it doubles as its channel group name,
which Channels restricts to ASCII letters, digits, `-`, `_` and `.` under 100 characters.
"""

from __future__ import annotations

import hashlib
import re

_KEY = re.compile(r"^[a-z][a-z0-9_-]*\.[A-Za-z0-9_-]{1,80}$")


def stream_key(kind: str, ident: object) -> str:
    key = f"{kind}.{ident}"
    if not _KEY.match(key):
        raise ValueError(f"not a valid stream key: {key!r}")
    return key


def user_stream(user_id: int) -> str:
    """The personal stream: notifications and identity control for one person, on every page."""
    return stream_key("user", user_id)


def organisation_stream(organisation_id: int) -> str:
    return stream_key("org", organisation_id)


def lounge_stream(lounge_id: int) -> str:
    """A lounge's room: messages, moderation, presence."""
    return stream_key("lounge", lounge_id)


def interview_session_stream(session_id: int) -> str:
    """One interview session: its clock, saves and evaluation, for the candidate and its watchers."""
    return stream_key("interview", session_id)


def coach_thread_stream(thread_id: int) -> str:
    """A private coach thread: its owner's questions and the coach's replies."""
    return stream_key("coach", thread_id)


# The tables streamed replies live in; their job keys are `<kind>:<message id>`.
LOUNGE_REPLY = "lounge-message"
THREAD_REPLY = "thread-message"
INTERVIEW_FOLLOWUP = "interview-followup"
REPLY_KINDS = frozenset({LOUNGE_REPLY, THREAD_REPLY, INTERVIEW_FOLLOWUP})


def reply_job_key(kind: str, message_id: int) -> str:
    """The key of one streamed reply's job: its live text, its run lock and its cancel flag in Redis
    all derive from it. `kind` names the reply's table (`lounge-message`, `thread-message`,
    `interview-followup`)."""
    if kind not in REPLY_KINDS:
        raise ValueError(f"not a reply kind: {kind!r}")
    return f"{kind}:{message_id}"


def session_group(session_key: str) -> str:
    """A control group (no durable events) for every socket of one login session."""
    return "session." + hashlib.sha256(session_key.encode()).hexdigest()[:40]
