"""Celery workers. Domain services enqueue through `workers.enqueue` (after commit)."""

from __future__ import annotations

from typing import Any


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Run a task once the current transaction commits; nothing is sent on rollback.

    By name, so a domain service never imports a task module (imports run workers → domains).
    The task's own `queue` option routes it.
    """
    from workers.celery import app

    app.tasks[task_name].delay_on_commit(*args, **kwargs)
