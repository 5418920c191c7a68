"""Re-embed every note with the active embedder (run it after changing EMBEDDER).

    python manage.py reembed_notes [--organisation SLUG] [--enqueue]

Idempotent: chunks whose content hash is unchanged keep their vectors, so a second run embeds nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.ai.embedders import EmbedderUnavailable, embedder_get
from domains.notes.models import Note
from domains.notes.services import EMBED_TASK, note_embed


class Command(BaseCommand):
    help = "Re-embed every note's chunks with the active embedder, skipping unchanged ones."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", help="Only the notes of the organisation with this slug.")
        parser.add_argument("--enqueue", action="store_true", help="Queue one task per note instead of working here.")

    def handle(self, *args: Any, **options: Any) -> None:
        notes = Note.objects.order_by("pk")
        if options["organisation"]:
            notes = notes.filter(organisation__slug=options["organisation"])
        ids = list(notes.values_list("pk", flat=True))
        total = len(ids)
        if options["enqueue"]:
            from workers import enqueue

            for note_id in ids:
                enqueue(EMBED_TASK, note_id)
            self.stdout.write(f"Queued {total} notes for embedding.")
            return
        try:
            embedder = embedder_get()
        except EmbedderUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Embedding {total} notes with {embedder.name} ({embedder.version}).")
        created = reused = updated = deleted = 0
        for done, note_id in enumerate(ids, start=1):
            result = note_embed(note_id=note_id, embedder=embedder)
            if result is not None:
                created += result.created
                reused += result.reused
                updated += result.updated
                deleted += result.deleted
            if done == total or done % 50 == 0:
                self.stdout.write(f"[{done}/{total}] {done * 100 // total}%  embedded {created}, kept {reused}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {total} notes; chunks embedded {created}, kept {reused}, moved {updated}, removed {deleted}."
            )
        )
