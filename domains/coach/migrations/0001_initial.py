"""Private coach threads, adopted from the retired `coaching` app.

On a fresh database `coaching`'s migrations have just created the tables; on an existing one they
hold its data. Either way this migration adopts them: the state gains the models (as `makemigrations`
wrote them), and the database only renames the tables, their explicitly named indexes and
constraints, and the identity sequences, and moves the content types (with their permissions and
admin history). Nothing is copied. docs/decisions/0010-notes-and-coach.md.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

# (old table, new table): renaming keeps rows, grants, foreign keys and the identity sequence.
TABLES = [
    ("coaching_coachthread", "coach_coachthread"),
    ("coaching_threadmessage", "coach_threadmessage"),
]
# Named indexes (including partial unique "constraints", which PostgreSQL keeps as indexes).
INDEXES = [
    ("coaching_thread_recent", "coach_thread_recent"),
    ("coaching_thread_message_client_id_once", "coach_thread_message_client_id_once"),
    ("coaching_thread_reply_request_once", "coach_thread_reply_request_once"),
]
# (new table, old name, new name): table constraints (checks, deferrable uniques).
CONSTRAINTS = [
    ("coach_threadmessage", "coaching_thread_reply_has_parent", "coach_thread_reply_has_parent"),
]
MODELS = ["coachthread", "threadmessage"]


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
    _content_types(apps, schema_editor, source="coaching", target="coach")


def content_types_backward(apps, schema_editor) -> None:
    _content_types(apps, schema_editor, source="coach", target="coaching")


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("coaching", "0003_hnsw_ef_construction_128"),
        ("contenttypes", "0002_remove_content_type_name"),
        ('accounts', '0001_initial'),
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
                    name='CoachThread',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('title', models.CharField(max_length=200)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('organisation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='coach_threads', to='accounts.organisation')),
                        ('owner', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='coach_threads', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'ordering': ['-updated_at', '-pk'],
                    },
                ),
                migrations.CreateModel(
                    name='ThreadMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('role', models.CharField(choices=[('user', 'Learner'), ('coach', 'Coach')], max_length=8)),
                        ('body', models.TextField(blank=True)),
                        ('body_html', models.TextField(blank=True)),
                        ('status', models.CharField(choices=[('streaming', 'Streaming'), ('complete', 'Complete'), ('stopped', 'Stopped'), ('interrupted', 'Interrupted')], default='complete', max_length=12)),
                        ('client_msg_id', models.CharField(blank=True, max_length=64)),
                        ('request_id', models.CharField(blank=True, max_length=64)),
                        ('citations', models.JSONField(blank=True, default=list)),
                        ('provider', models.CharField(blank=True, max_length=20)),
                        ('model', models.CharField(blank=True, max_length=100)),
                        ('provider_label', models.CharField(blank=True, max_length=40)),
                        ('tokens_in', models.PositiveIntegerField(default=0)),
                        ('tokens_out', models.PositiveIntegerField(default=0)),
                        ('error_code', models.CharField(blank=True, max_length=40)),
                        ('error_message', models.CharField(blank=True, max_length=300)),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('parent', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='replies', to='coach.threadmessage')),
                        ('thread', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='messages', to='coach.coachthread')),
                    ],
                    options={
                        'ordering': ['created_at', 'pk'],
                    },
                ),
                migrations.AddIndex(
                    model_name='coachthread',
                    index=models.Index(fields=['owner', 'organisation', '-updated_at'], name='coach_thread_recent'),
                ),
                migrations.AddConstraint(
                    model_name='threadmessage',
                    constraint=models.UniqueConstraint(condition=models.Q(('client_msg_id', ''), _negated=True), fields=('thread', 'client_msg_id'), name='coach_thread_message_client_id_once'),
                ),
                migrations.AddConstraint(
                    model_name='threadmessage',
                    constraint=models.UniqueConstraint(condition=models.Q(('request_id', ''), _negated=True), fields=('thread', 'request_id'), name='coach_thread_reply_request_once'),
                ),
                migrations.AddConstraint(
                    model_name='threadmessage',
                    constraint=models.CheckConstraint(condition=models.Q(('role', 'user'), ('parent__isnull', False), _connector='OR'), name='coach_thread_reply_has_parent'),
                ),
            ],
        ),
    ]
