"""The kinds of notification: a registry each domain extends in one line, in its `notices.py`.

    LOUNGE_MUTED = notification_kind("lounge.muted", "You are muted in a lounge", priority=Priority.HIGH)

A kind says how much it matters (`priority`: how long its toast stays, and the default delivery) and
whether it may be emailed at all. People choose per kind how its email reaches them (`Delivery`);
without a choice, the kind's default applies. A kind is registered when its module is imported: each
domain's AppConfig.ready imports its `notices`, so the preferences page sees every kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Delivery(models.TextChoices):
    """How a kind's email reaches a person. The notification itself always appears in the product."""

    OFF = "off", _("No email")
    IMMEDIATE = "immediate", _("Email at once")
    DIGEST = "digest", _("In a daily digest")


@dataclass(frozen=True)
class NotificationKind:
    name: str
    label: str | Promise  # what the preferences page calls it (gettext_lazy): "Someone mentions you in a lounge"
    priority: Priority
    email: bool  # may it be emailed at all
    default: Delivery

    def __str__(self) -> str:
        return self.name


_KINDS: dict[str, NotificationKind] = {}


def notification_kind(
    name: str,
    label: str | Promise,
    *,
    priority: Priority = Priority.NORMAL,
    email: bool = True,
    default: Delivery | None = None,
) -> NotificationKind:
    """Register a kind (once per name; registering the same definition again is harmless). The default
    delivery: a high-priority kind is emailed at once, others go in the digest, and a kind that may
    not be emailed never is."""
    if default is None:
        default = Delivery.IMMEDIATE if priority == Priority.HIGH else Delivery.DIGEST
    if not email:
        default = Delivery.OFF
    kind = NotificationKind(name=name, label=label, priority=priority, email=email, default=default)
    existing = _KINDS.get(name)
    if existing is not None and existing != kind:
        raise ValueError(f"notification kind {name!r} is already registered differently")
    _KINDS[name] = kind
    return kind


def kind_get(name: str) -> NotificationKind:
    """The registered kind `name`; an unknown name is a programming error (ValueError)."""
    try:
        return _KINDS[name]
    except KeyError:
        raise ValueError(f"unknown notification kind {name!r}") from None


def kind_find(name: str) -> NotificationKind | None:
    """The registered kind `name`, or None (for input from a request or a link)."""
    return _KINDS.get(name)


def kinds_all() -> list[NotificationKind]:
    """Every registered kind, by name."""
    return sorted(_KINDS.values(), key=lambda kind: kind.name)
