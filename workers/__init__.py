"""Celery workers. Domain services enqueue through `workers.enqueue` (after commit)."""

from __future__ import annotations

from typing import Any


def enqueue(task_name: str, *args: Any, **kwargs: Any) -> None:
    """Run a task once the current transaction commits; nothing is sent on rollback.

    By name, so a domain service never imports a task module (imports run workers → domains).
    `task_routes` in workers/celery.py picks the queue.
    """
    import importlib

    from workers.celery import app

    if task_name not in app.tasks:  # a web process has not imported the task module yet
        importlib.import_module(task_name.rsplit(".", 1)[0])
    app.tasks[task_name].delay_on_commit(*args, **kwargs)
