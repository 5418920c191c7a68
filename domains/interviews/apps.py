from django.apps import AppConfig


class InterviewsConfig(AppConfig):
    name = "domains.interviews"
    label = "interviews"
    verbose_name = "Interviews: timed sessions with a server-owned clock, autosave, evaluation and reports"

    def ready(self) -> None:
        from domains.interviews import (
            assignments,  # noqa: F401 - registers the invitation kind "interviews.assignment"
            notices,  # noqa: F401 - registers the interviews' notification kinds
        )
