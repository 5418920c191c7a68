from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "domains.notifications"
    label = "notifications"
    verbose_name = "Notifications: what the product tells each person, live and by email"

    def ready(self) -> None:
        from domains.mail.signals import mail_settled
        from domains.notifications.services import email_settled

        mail_settled.connect(email_settled, dispatch_uid="notifications.email_settled")
