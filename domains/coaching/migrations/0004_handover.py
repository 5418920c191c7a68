"""The retired app hands its models over to `notes` and `coach`, which adopted the tables in their
0001 migrations: the state forgets the models here, and the database is not touched.
docs/decisions/0010-notes-and-coach.md."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("coaching", "0003_hnsw_ef_construction_128"),
        ("notes", "0001_initial"),
        ("coach", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.DeleteModel(name="ThreadMessage"),
                migrations.DeleteModel(name="CoachThread"),
                migrations.DeleteModel(name="NoteChunk"),
                migrations.DeleteModel(name="Note"),
            ],
        ),
    ]
