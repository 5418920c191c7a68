"""The steps of the handover test (test_handover_migration.py), run in a subprocess against a scratch
database: `seed` writes rows the way the retired `coaching` app held them, `report` reads them back
through today's models and prints what it found as JSON."""

from __future__ import annotations

import json
import sys

import django

COACHING_LAST = ("coaching", "0003_hnsw_ef_construction_128")
MOVED_TO = {"notes", "coach"}


def before() -> None:
    """Migrate as a deployment from before the move was: every app to its newest migration, except
    `coaching` (to its last one then) and the two apps that did not exist yet."""
    from django.core.management import call_command
    from django.db.migrations.loader import MigrationLoader

    for app in sorted(MigrationLoader(None).migrated_apps - MOVED_TO - {"coaching"}):
        call_command("migrate", app, verbosity=0, interactive=False)
    call_command("migrate", *COACHING_LAST, verbosity=0, interactive=False)


def seed() -> None:
    """An organisation with a learner and a lounge, a private and a shared note with a passage each
    (embedded by today's embedder), and a coach thread with a question and its answer."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from domains.ai.embedders import embedder_get

    loader = MigrationExecutor(connection).loader
    applied = [node for node in loader.graph.leaf_nodes() if node[0] not in MOVED_TO | {"coaching"}]
    old = loader.project_state([*applied, COACHING_LAST]).apps
    organisation = old.get_model("accounts", "Organisation").objects.create(name="Demo", slug="demo")
    learner = old.get_model("accounts", "User").objects.create(email="learner@demo.coachwire.test", password="!")
    old.get_model("accounts", "Membership").objects.create(user=learner, organisation=organisation, role="learner")
    lounge = old.get_model("lounges", "Lounge").objects.create(
        organisation=organisation, slug="interviews", title="Interviews"
    )
    embedder = embedder_get()
    notes = {
        "private": ("STAR method", "Situation, task, action, result: answer behavioural questions with STAR."),
        "lounge": ("Salary negotiation", "Anchor high and name a range when the recruiter asks for a number."),
    }
    for visibility, (title, body) in notes.items():
        note = old.get_model("coaching", "Note").objects.create(
            organisation=organisation,
            owner=learner,
            visibility=visibility,
            lounge=lounge if visibility == "lounge" else None,
            title=title,
            body=body,
        )
        old.get_model("coaching", "NoteChunk").objects.create(
            note=note,
            organisation=organisation,
            ordinal=0,
            text=body,
            char_start=0,
            char_end=len(body),
            embedding=embedder.embed([body])[0],
            embedder=embedder.name,
            embedder_version=embedder.version,
            content_hash="0" * 64,
        )
    thread = old.get_model("coaching", "CoachThread").objects.create(
        organisation=organisation, owner=learner, title="Interview prep"
    )
    message = old.get_model("coaching", "ThreadMessage")
    question = message.objects.create(thread=thread, role="user", body="How do I use STAR?", client_msg_id="q1")
    message.objects.create(thread=thread, role="coach", parent=question, body="Start with the situation.")


def report() -> None:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection

    from domains.accounts.models import User
    from domains.coach.models import CoachThread, ThreadMessage
    from domains.notes.models import Note, NoteChunk
    from domains.notes.retrieval import notes_search

    learner = User.objects.get(email="learner@demo.coachwire.test")
    thread = CoachThread.objects.get()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename ~ '^(coaching|notes|coach)_'"
        )
        tables = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND indexname ~ '^(coaching|notes|coach)_'"
        )
        indexes = sorted(row[0] for row in cursor.fetchall())
    hits = notes_search(user=learner, organisation=thread.organisation, query="behavioural questions STAR")
    json.dump(
        {
            "tables": tables,
            "indexes": indexes,
            "notes": sorted(Note.objects.values_list("title", "visibility")),
            "chunks": NoteChunk.objects.count(),
            "search_top": hits[0].title if hits else None,
            "messages": list(ThreadMessage.objects.filter(thread=thread).values_list("role", "body")),
            "content_types": sorted(
                ContentType.objects.filter(app_label__in=["coaching", "notes", "coach"]).values_list(
                    "app_label", "model"
                )
            ),
            "next_note": Note.objects.create(
                organisation=thread.organisation, owner=learner, title="Written after the move"
            ).pk,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    django.setup()
    {"before": before, "seed": seed, "report": report}[sys.argv[1]]()
