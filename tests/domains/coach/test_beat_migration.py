"""The coaching split's renamed beat entries: rows an older database holds for the old task names
are removed, and the current entries are untouched (domains/coach/migrations/0002)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django_celery_beat.models import IntervalSchedule, PeriodicTask

pytestmark = pytest.mark.django_db

retire = importlib.import_module("domains.coach.migrations.0002_retire_renamed_beat_entries").retire


def test_the_old_sweep_entries_are_removed_and_the_current_ones_kept() -> None:
    # given the rows an older beat wrote, beside a current one
    every_minute = IntervalSchedule.objects.create(every=60, period=IntervalSchedule.SECONDS)
    for name, task in [
        ("coaching-thread-streams-sweep", "workers.tasks.coaching.thread_streams_sweep_task"),
        ("lounges-coach-streams-sweep", "workers.tasks.lounges.coach_streams_sweep_task"),
        ("coach-thread-streams-sweep", "workers.tasks.coach.thread_streams_sweep_task"),
    ]:
        PeriodicTask.objects.create(name=name, task=task, interval=every_minute)
    # when the migration's step runs
    retire(apps, None)
    # then only the current entry is left
    left = list(PeriodicTask.objects.values_list("task", flat=True))
    assert left == ["workers.tasks.coach.thread_streams_sweep_task"]
