from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "domains.mail"
    label = "mail"
    verbose_name = "Mail: every email the product sends, queued and delivered in the background"
