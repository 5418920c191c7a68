"""`/ws/me/`: the personal stream. Its snapshot says who you are, where, and with which roles;
its durable events are notifications (and, later, anything addressed to one person)."""

from __future__ import annotations

from typing import Any

from domains.accounts.selectors import organisation_list_for_user, roles_for_user
from domains.notifications.selectors import unread_count
from realtime.consumers.base import StreamConsumer


class MeConsumer(StreamConsumer):
    def snapshot_data(self, stream: str) -> dict[str, Any]:
        organisation = self.organisation
        return {
            "user": {"id": self.user.pk, "name": self.user.public_name},
            "organisation": (
                {"id": organisation.pk, "name": organisation.name, "slug": organisation.slug} if organisation else None
            ),
            "organisations": [
                {"id": org.pk, "name": org.name, "slug": org.slug} for org in organisation_list_for_user(user=self.user)
            ],
            # The badge's count at this instant: a tab that (re)connects, or resyncs, shows it.
            "unread": unread_count(user=self.user),
        }

    def rights_data(self) -> dict[str, Any]:
        return {"roles": sorted(roles_for_user(user=self.user, organisation=self.organisation))}
