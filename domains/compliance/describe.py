"""Audit events as sentences people read: "Mira Mentor muted Lena Learner in Interview prep for 10 minutes".

The audit log (staff) and a lounge's moderation log (its moderators) show these. Compliance sits
below the domains it audits (they import it), so it names none of their modules: people come from
the user model, lounges by their app label, and links by URL name. Everything a page of events
names is loaded in one query per kind (people, lounges), never per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from domains.compliance.models import AuditEvent

_USER_TYPE = "accounts.user"
# Attempts by someone not signed in: `actor_label` is the address they tried.
_ANONYMOUS_ACTIONS = {"auth.login_failed", "auth.locked_out"}
_MESSAGE_VERBS = {
    "message_hidden": "hid",
    "message_unhidden": "unhid",
    "message_deleted": "deleted",
    "message_pinned": "pinned",
    "message_unpinned": "unpinned",
}
_MEMBER_VERBS = {
    "member_added": "added {member} to {lounge}",
    "member_unmuted": "unmuted {member} in {lounge}",
    "member_kicked": "removed {member} from {lounge}",
    "member_banned": "banned {member} from {lounge}",
    "member_unbanned": "lifted the ban on {member} in {lounge}",
    "ownership_transferred": "handed {lounge} over to {member}, its new owner",
}
_SIMPLE = {
    "auth.login": "signed in",
    "auth.logout": "signed out",
    "auth.password_changed": "changed their password",
    "user.signed_up": "signed up",
}
_NOTE_VERBS = {
    "note.shared_created": "shared a new note {note} with {lounge}",
    "note.shared_updated": "edited the shared note {note} in {lounge}",
    "note.shared_added": "shared the note {note} with {lounge}",
    "note.shared_removed": "stopped sharing the note {note} with {lounge}",
    "note.shared_deleted": "deleted the shared note {note} from {lounge}",
}


@dataclass(frozen=True)
class AuditLine:
    """One event as a page shows it: the sentence (safe HTML, with links) and the raw action code."""

    event: AuditEvent
    actor: str
    sentence: SafeString

    @property
    def action(self) -> str:
        return self.event.action


@dataclass(frozen=True)
class _Context:
    names: Mapping[int, str]
    lounges: Mapping[int, tuple[str, str]]  # id -> (title, slug)


def describe_events(events: Iterable[AuditEvent]) -> list[AuditLine]:
    """Sentences for `events`, in order: two queries however many events (people, lounges)."""
    events = list(events)
    context = _Context(names=_names(events), lounges=_lounges(events))
    return [_describe(event, context) for event in events]


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _names(events: list[AuditEvent]) -> dict[int, str]:
    ids: set[int] = set()
    for event in events:
        ids.update(
            pk
            for pk in (
                event.actor_id,
                _int(event.target_id) if event.target_type == _USER_TYPE else None,
                _int(_details(event).get("author")),
            )
            if pk is not None
        )
    if not ids:
        return {}
    users = get_user_model().objects.filter(pk__in=ids).only("pk", "email", "display_name")
    return {user.pk: str(getattr(user, "public_name", user.get_username())) for user in users}


def _lounges(events: list[AuditEvent]) -> dict[int, tuple[str, str]]:
    """(title, slug) of each lounge the events name, as their details recorded them (compliance sits
    below lounges and reads no lounge table). Rows written before titles were recorded show the slug."""
    lounges: dict[int, tuple[str, str]] = {}
    for event in events:
        details = _details(event)
        pk, slug = _int(details.get("lounge")), str(details.get("lounge_slug") or "")
        if pk is not None and slug:
            lounges[pk] = (str(details.get("lounge_title") or slug), slug)
    return lounges


def _details(event: AuditEvent) -> dict[str, Any]:
    return event.details if isinstance(event.details, dict) else {}


def _link(text: str, url: str | None) -> SafeString:
    return format_html('<a href="{}">{}</a>', url, text) if url else format_html("{}", text)


def _url(name: str, *args: Any) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def _person_name(user_id: int | None, label: str, context: _Context) -> str:
    """The person's public name now; for someone since deleted, the label written at the time, never
    an email address (the part before the @, as `public_name` does)."""
    if user_id is not None and user_id in context.names:
        return context.names[user_id]
    label = label.split("@", 1)[0] if "@" in label else label
    return label or "a deleted user"


def _person(user_id: int | None, label: str, context: _Context) -> SafeString:
    name = _person_name(user_id, label, context)
    known = user_id is not None and user_id in context.names
    return _link(name, _url("accounts:member_detail", user_id) if known else None)


def _actor_name(event: AuditEvent, context: _Context) -> str:
    if event.actor_id is None and event.action not in _ANONYMOUS_ACTIONS:
        return "System" if event.actor_label in ("", "system") else _person_name(None, event.actor_label, context)
    return _person_name(event.actor_id, event.actor_label, context)


def _minutes(minutes: int) -> str:
    parts = []
    for size, unit in ((24 * 60, "day"), (60, "hour"), (1, "minute")):
        count, minutes = divmod(minutes, size)
        if count:
            parts.append(f"{count} {unit}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 minutes"


def _seconds(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds >= 60 and seconds % 60 == 0 else f"{seconds} s"


def _reason(details: Mapping[str, Any]) -> SafeString:
    reason = str(details.get("reason") or "").strip()
    return format_html(": “{}”", reason) if reason else mark_safe("")


def _describe(event: AuditEvent, context: _Context) -> AuditLine:
    actor = _actor_name(event, context)
    predicate = _predicate(event, context)
    if event.action in _ANONYMOUS_ACTIONS:
        sentence = predicate
    else:
        actor_html = _link(
            actor, _url("accounts:member_detail", event.actor_id) if event.actor_id in context.names else None
        )
        sentence = format_html("{} {}", actor_html, predicate)
    return AuditLine(event=event, actor=actor, sentence=sentence)


def _predicate(event: AuditEvent, context: _Context) -> SafeString:  # noqa: C901 - one case per action
    action, details = event.action, _details(event)
    domain, _, verb = action.partition(".")
    lounge_id = _int(details.get("lounge"))
    title, slug = context.lounges.get(lounge_id, ("", "")) if lounge_id is not None else ("", "")
    if not title and event.target_type == "lounges.lounge":
        title = event.target_label
    room_url = _url("lounges:room", slug) if slug else None
    lounge = _link(title or "a deleted lounge", room_url)
    target_user = _int(event.target_id) if event.target_type == _USER_TYPE else None
    member = _person(target_user, event.target_label, context)

    if action in _SIMPLE:
        return format_html("{}", _SIMPLE[action])
    if action == "auth.login_failed":
        return format_html("A sign-in as {} failed", _person_name(None, event.actor_label, context))
    if action == "auth.locked_out":
        return format_html(
            "Sign-ins as {} were locked after {} failed attempts",
            _person_name(None, event.actor_label, context),
            details.get("failures", "several"),
        )
    if action == "user.deactivated":
        return format_html("deactivated the account of {}", member)
    if action in ("membership.role_granted", "membership.role_revoked"):
        role = str(details.get("role", "")).replace("_", " ")
        if action == "membership.role_granted":
            return format_html("gave {} the {} role", member, role)
        return format_html("took the {} role from {}", role, member)
    if action == "consent.accepted":
        kind = str(details.get("kind", ""))
        document = _link(event.target_label or kind, _url("compliance:policy", kind) if kind else None)
        return format_html("accepted {}", document)
    if domain == "lounge":
        if verb == "created":
            return format_html("created the lounge {}", lounge)
        if verb == "settings_changed":
            changes = []
            if "locked" in details:
                changes.append("locked" if details["locked"] else "unlocked")
            if "slow_mode_seconds" in details:
                seconds = _int(details["slow_mode_seconds"]) or 0
                changes.append(f"slow mode {_seconds(seconds)}" if seconds else "slow mode off")
            return format_html("changed the settings of {}: {}", lounge, ", ".join(changes) or "no change")
        if verb == "member_muted":
            minutes = _int(details.get("minutes")) or 0
            return format_html("muted {} in {} for {}{}", member, lounge, _minutes(minutes), _reason(details))
        if verb == "member_role_changed":
            role = str(details.get("role", ""))
            if role == "member":
                return format_html("made {} a regular member of {}", member, lounge)
            return format_html("made {} {} of {}", member, "the owner" if role == "owner" else f"a {role}", lounge)
        if verb in _MEMBER_VERBS:
            return format_html(_MEMBER_VERBS[verb], member=member, lounge=lounge) + _reason(details)
        message_url = f"{room_url}#msg-{event.target_id}" if room_url and event.target_id else None
        message = _link("a message", message_url)
        if verb in _MESSAGE_VERBS:
            author_id = _int(details.get("author"))
            by = format_html(" by {}", _person(author_id, "", context)) if author_id is not None else ""
            return format_html("{} {}{} in {}{}", _MESSAGE_VERBS[verb], message, by, lounge, _reason(details))
        if verb == "message_reported":
            return format_html("reported {} in {}{}", message, lounge, _reason(details))
        if verb == "report_resolved":
            verb_text, message_text = {
                "dismiss": ("dismissed a report on", "a message"),
                "hide": ("hid", "a reported message"),
                "delete": ("deleted", "a reported message"),
            }.get(str(details.get("resolution", "")), ("resolved a report on", "a message"))
            return format_html("{} {} in {}", verb_text, _link(message_text, message_url), lounge)
    if action in _NOTE_VERBS:
        note_id = _int(details.get("note")) or _int(event.target_id)
        title = str(details.get("title") or event.target_label or "a note")
        note_url = None if verb == "shared_deleted" or note_id is None else _url("notes:detail", note_id)
        quoted = format_html("“{}”", _link(title, note_url))
        return format_html(_NOTE_VERBS[action], note=quoted, lounge=lounge)
    if domain == "admin":
        model, _, admin_verb = verb.rpartition("_")
        app, _, model_name = event.target_type.partition(".")
        url = (
            _url(f"org_admin:{app}_{model_name}_change", event.target_id)
            if admin_verb != "deleted" and event.target_id
            else None
        )
        label = _person_name(target_user, event.target_label, context) if target_user else event.target_label
        return format_html(
            "{} the {} {} in the organisation admin", admin_verb, model.replace("_", " "), _link(f"“{label}”", url)
        )
    return _fallback(event)


def _fallback(event: AuditEvent) -> SafeString:
    """An action this module has no sentence for yet: its words, the target and the details, plainly."""
    words = event.action.replace(".", ": ", 1).replace("_", " ")
    details = format_html_join(
        ", ", "{} {}", ((key.replace("_", " "), value) for key, value in _details(event).items())
    )
    target = format_html(" {}", event.target_label) if event.target_label else ""
    return format_html("did “{}”{}{}", words, target, format_html(" ({})", details) if details else "")
