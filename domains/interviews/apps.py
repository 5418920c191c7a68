from django.apps import AppConfig


class InterviewsConfig(AppConfig):
    name = "domains.interviews"
    label = "interviews"
    verbose_name = "Interviews: timed sessions with a server-owned clock, autosave, evaluation and reports"
