"""`manage.py seed_demo`: the idempotent demo (`domains/demo/seed.py`). Safe to run again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from domains.demo.logins import DEMO_USERS
from domains.demo.seed import seed


class Command(BaseCommand):
    help = "Create or refresh the demo organisation, users, policies and lounges (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            organisation = seed()
        self.stdout.write(
            self.style.SUCCESS(f"Demo ready: {organisation.name}, {len(DEMO_USERS)} users and a platform operator.")
        )
