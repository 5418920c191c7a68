"""Beat's database scheduler (django_celery_beat) keeps a PeriodicTask row per schedule entry, by
name. The coaching split renamed the sweeps' entries and tasks (docs/decisions/0010-notes-and-coach.md),
so an existing database still holds rows that would send the old, unregistered task names every
COACH_SWEEP_SECONDS. Beat recreates the current entries from workers/beat.py at start."""

from django.db import migrations
from django.utils import timezone

RETIRED_TASKS = (
    "workers.tasks.coaching.thread_streams_sweep_task",
    "workers.tasks.lounges.coach_streams_sweep_task",
)


def retire(apps, schema_editor) -> None:
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    if periodic_task.objects.filter(task__in=RETIRED_TASKS).delete()[0]:
        # Tell a running beat that its schedule changed.
        apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
            ident=1, defaults={"last_update": timezone.now()}
        )


class Migration(migrations.Migration):
    dependencies = [
        ("coach", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(retire, migrations.RunPython.noop)]
