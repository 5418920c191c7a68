"""Notes and their passages, adopted from the retired `coaching` app.

On a fresh database `coaching`'s migrations have just created the tables; on an existing one they
hold its data. Either way this migration adopts them: the state gains the models (as `makemigrations`
wrote them), and the database only renames the tables, their explicitly named indexes and
constraints, and the identity sequences, and moves the content types (with their permissions and
admin history). Nothing is copied. docs/decisions/0010-notes-and-coach.md.
"""

import django.contrib.postgres.fields
import django.contrib.postgres.indexes
import django.contrib.postgres.search
import django.db.models.constraints
import django.db.models.deletion
import pgvector.django.indexes
import pgvector.django.vector
from django.conf import settings
from django.db import migrations, models

# (old table, new table): renaming keeps rows, grants, foreign keys and the identity sequence.
TABLES = [
    ("coaching_note", "notes_note"),
    ("coaching_notechunk", "notes_notechunk"),
]
# Named indexes (including partial unique "constraints", which PostgreSQL keeps as indexes).
INDEXES = [
    ("coaching_note_owner", "notes_note_owner"),
    ("coaching_note_lounge", "notes_note_lounge"),
    ("coaching_note_tags", "notes_note_tags"),
    ("coaching_chunk_embedding", "notes_chunk_embedding"),
    ("coaching_chunk_search", "notes_chunk_search"),
    ("coaching_chunk_org", "notes_chunk_org"),
]
# (new table, old name, new name): table constraints (checks, deferrable uniques).
CONSTRAINTS = [
    ("notes_note", "coaching_note_visibility_matches_lounge", "notes_note_visibility_matches_lounge"),
    ("notes_note", "coaching_note_title_not_empty", "notes_note_title_not_empty"),
    ("notes_notechunk", "coaching_chunk_ordinal_once", "notes_chunk_ordinal_once"),
    ("notes_notechunk", "coaching_chunk_span_not_empty", "notes_chunk_span_not_empty"),
]
MODELS = ["note", "notechunk"]


def _sql(*, forward: bool) -> list[str]:
    def pick(old: str, new: str) -> tuple[str, str]:
        return (old, new) if forward else (new, old)

    statements = []
    for old, new in TABLES:
        source, target = pick(old, new)
        statements.append(f"ALTER TABLE {source} RENAME TO {target}")
        statements.append(f"ALTER SEQUENCE IF EXISTS {source}_id_seq RENAME TO {target}_id_seq")
    for old, new in INDEXES:
        source, target = pick(old, new)
        statements.append(f"ALTER INDEX {source} RENAME TO {target}")
    for table, old, new in CONSTRAINTS:
        source, target = pick(old, new)
        owner = table if forward else dict((n, o) for o, n in TABLES)[table]
        statements.append(f"ALTER TABLE {owner} RENAME CONSTRAINT {source} TO {target}")
    return statements


def _content_types(apps, schema_editor, *, source: str, target: str) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MODELS:
        if not content_type.objects.filter(app_label=target, model=model).exists():
            content_type.objects.filter(app_label=source, model=model).update(app_label=target)


def content_types_forward(apps, schema_editor) -> None:
    _content_types(apps, schema_editor, source="coaching", target="notes")


def content_types_backward(apps, schema_editor) -> None:
    _content_types(apps, schema_editor, source="notes", target="coaching")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("coaching", "0003_hnsw_ef_construction_128"),
        ("contenttypes", "0002_remove_content_type_name"),
        ('accounts', '0001_initial'),
        ('lounges', '0002_message_citations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(_sql(forward=True), reverse_sql=_sql(forward=False)),
                migrations.RunPython(content_types_forward, content_types_backward),
            ],
            state_operations=[
                migrations.CreateModel(
                    name='Note',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('visibility', models.CharField(choices=[('private', 'Private: only its owner'), ('lounge', 'Shared with a lounge: its knowledge base')], default='private', max_length=10)),
                        ('title', models.CharField(max_length=200)),
                        ('body', models.TextField(blank=True, help_text='Markdown, as written.')),
                        ('tags', django.contrib.postgres.fields.ArrayField(base_field=models.CharField(max_length=40), blank=True, default=list, size=20)),
                        ('pinned', models.BooleanField(default=False)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('lounge', models.ForeignKey(blank=True, help_text='The lounge whose knowledge base holds this note; empty for a private note.', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='notes', to='lounges.lounge')),
                        ('organisation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notes', to='accounts.organisation')),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notes', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['-pinned', '-updated_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='NoteChunk',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('ordinal', models.PositiveIntegerField()),
                        ('text', models.TextField()),
                        ('heading_path', models.CharField(blank=True, max_length=300)),
                        ('char_start', models.PositiveIntegerField(help_text="Offset of the first character in the note's body.")),
                        ('char_end', models.PositiveIntegerField(help_text='Offset just past the last character.')),
                        ('embedding', pgvector.django.vector.VectorField(dimensions=384)),
                        ('embedder', models.CharField(max_length=20)),
                        ('embedder_version', models.CharField(max_length=80)),
                        ('content_hash', models.CharField(help_text='sha256 of the embedder and its exact input.', max_length=64)),
                        ('search_vector', models.GeneratedField(db_persist=True, expression=django.contrib.postgres.search.CombinedSearchVector(django.contrib.postgres.search.SearchVector('heading_path', config='english', weight='A'), '||', django.contrib.postgres.search.SearchVector('text', config='english', weight='B'), django.contrib.postgres.search.SearchConfig('english')), output_field=django.contrib.postgres.search.SearchVectorField())),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('note', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='chunks', to='notes.note')),
                        ('organisation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='accounts.organisation')),
                    ],
                    options={
                        'ordering': ['note', 'ordinal'],
                    },
                ),
                migrations.AddIndex(
                    model_name='note',
                    index=models.Index(fields=['organisation', 'owner', 'visibility'], name='notes_note_owner'),
                ),
                migrations.AddIndex(
                    model_name='note',
                    index=models.Index(condition=models.Q(('lounge__isnull', False)), fields=['lounge'], name='notes_note_lounge'),
                ),
                migrations.AddIndex(
                    model_name='note',
                    index=django.contrib.postgres.indexes.GinIndex(fields=['tags'], name='notes_note_tags'),
                ),
                migrations.AddConstraint(
                    model_name='note',
                    constraint=models.CheckConstraint(condition=models.Q(models.Q(('lounge__isnull', True), ('visibility', 'private')), models.Q(('lounge__isnull', False), ('visibility', 'lounge')), _connector='OR'), name='notes_note_visibility_matches_lounge'),
                ),
                migrations.AddConstraint(
                    model_name='note',
                    constraint=models.CheckConstraint(condition=models.Q(('title', ''), _negated=True), name='notes_note_title_not_empty'),
                ),
                migrations.AddIndex(
                    model_name='notechunk',
                    index=pgvector.django.indexes.HnswIndex(ef_construction=128, fields=['embedding'], m=16, name='notes_chunk_embedding', opclasses=['vector_cosine_ops']),
                ),
                migrations.AddIndex(
                    model_name='notechunk',
                    index=django.contrib.postgres.indexes.GinIndex(fields=['search_vector'], name='notes_chunk_search'),
                ),
                migrations.AddIndex(
                    model_name='notechunk',
                    index=models.Index(fields=['organisation', 'embedder', 'embedder_version'], name='notes_chunk_org'),
                ),
                migrations.AddConstraint(
                    model_name='notechunk',
                    constraint=models.UniqueConstraint(deferrable=django.db.models.constraints.Deferrable['DEFERRED'], fields=('note', 'ordinal'), name='notes_chunk_ordinal_once'),
                ),
                migrations.AddConstraint(
                    model_name='notechunk',
                    constraint=models.CheckConstraint(condition=models.Q(('char_end__gt', models.F('char_start'))), name='notes_chunk_span_not_empty'),
                ),
            ],
        ),
    ]
