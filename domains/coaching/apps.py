from django.apps import AppConfig


class CoachingConfig(AppConfig):
    """Retired: its models moved to `domains.notes` and `domains.coach` (docs/decisions/0010-notes-and-coach.md).

    The app stays installed, without models, only so that its migrations still run: on a fresh
    database they create the tables that `notes` and `coach` then adopt, and on an existing one
    its last migration hands the models' state over. Remove it once every database has applied
    `coaching.0004_handover` (squash the new apps' migrations at the same time).
    """

    name = "domains.coaching"
    label = "coaching"
    verbose_name = "Coaching (retired: migrations only)"
