"""Work that waits for an invitee: kinds of pending assignment, a registry each domain extends.

An invitation can carry assignments (`Invitation.pending`, a list of `{"kind": name, "data": {...}}`)
that activate when it is accepted, inside the accept transaction: the interviews domain, say,
registers

    def _activate(*, user, organisation, invitation, data):
        interview_assign(organisation=organisation, candidate=user, template_id=data["template_id"])

    INTERVIEW = assignment_kind("interviews.assign", _activate)

and invites with `invitation_create(..., pending=[{"kind": "interviews.assign", "data": {...}}])`.
`data` is JSON; keep ids in it, not objects, and look them up again in `activate` (the row may have
changed or gone meanwhile). A kind unknown at create time is refused; a kind unknown at accept time
(retired since) is logged and skipped. An `activate` that raises refuses the whole acceptance.

A kind may also give the invitation email files to carry, `assignment_kind(name, activate,
attachments=fn)` with `fn(*, invitation, data) -> [(filename, content, mimetype), ...]` (the
interviews domain attaches an `.ics` event for the assessment's window). Every send asks again, the
first and each resend, so the files follow the row as it is then; a row gone since gives `[]`. The
files are kept on the mail row after it is sent (domains/mail), so they must hold no secret.
The real interviews kind is `interviews.assignment` (domains/interviews/assignments.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.utils.translation import gettext

from domains.common.errors import Refusal

if TYPE_CHECKING:
    from domains.accounts.models import Organisation, User
    from domains.invitations.models import Invitation

PENDING_MAX = 20  # assignments on one invitation


# One file for the invitation email: (filename, text content, mimetype), as domains.mail takes it.
MailAttachment = tuple[str, str, str]


class Activate(Protocol):
    def __call__(
        self, *, user: User, organisation: Organisation, invitation: Invitation, data: dict[str, Any]
    ) -> None: ...


class Attachments(Protocol):
    def __call__(self, *, invitation: Invitation, data: dict[str, Any]) -> list[MailAttachment]: ...


@dataclass(frozen=True)
class AssignmentKind:
    name: str
    activate: Activate
    attachments: Attachments | None = None

    def __str__(self) -> str:
        return self.name


_KINDS: dict[str, AssignmentKind] = {}


def assignment_kind(
    name: str,
    activate: Activate | Callable[..., None],
    attachments: Attachments | Callable[..., list[MailAttachment]] | None = None,
) -> AssignmentKind:
    """Register a kind (once per name; the same definition again is harmless). `attachments`, if
    given, adds files to the invitation email (see the module docstring)."""
    kind = AssignmentKind(name=name, activate=activate, attachments=attachments)
    existing = _KINDS.get(name)
    if existing is not None and existing != kind:
        raise ValueError(f"assignment kind {name!r} is already registered differently")
    _KINDS[name] = kind
    return kind


def assignment_find(name: str) -> AssignmentKind | None:
    return _KINDS.get(name)


def assignments_check(pending: Sequence[Any]) -> list[dict[str, Any]]:
    """The assignments as stored: each a registered kind with a JSON object of data. Refused
    (field `pending`) otherwise, so a typo never waits silently for an invitee."""
    if len(pending) > PENDING_MAX:
        raise Refusal("invalid", gettext("Too many pending assignments."), field="pending")
    checked = []
    for item in pending:
        kind = item.get("kind") if isinstance(item, dict) else None
        data = item.get("data", {}) if isinstance(item, dict) else None
        if not isinstance(kind, str) or assignment_find(kind) is None or not isinstance(data, dict):
            raise Refusal("invalid", gettext("Unknown pending assignment."), field="pending")
        checked.append({"kind": kind, "data": data})
    return checked


def assignments_attachments(*, invitation: Invitation) -> list[MailAttachment]:
    """The files the invitation's pending assignments add to its email, in their order; a kind
    unknown now, or one without `attachments`, adds none."""
    files: list[MailAttachment] = []
    for item in invitation.pending:
        kind = assignment_find(str(item.get("kind", ""))) if isinstance(item, dict) else None
        if kind is None or kind.attachments is None:
            continue
        files.extend(kind.attachments(invitation=invitation, data=dict(item.get("data") or {})))
    return files
