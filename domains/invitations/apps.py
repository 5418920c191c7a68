from django.apps import AppConfig


class InvitationsConfig(AppConfig):
    name = "domains.invitations"
    label = "invitations"
    verbose_name = "Invitations: joining an organisation by an emailed, signed link"

    def ready(self) -> None:
        from domains.invitations import (
            notices,  # noqa: F401 - registers the invitations' notification kinds
            receivers,  # noqa: F401 - connects to accounts' member_left
        )
