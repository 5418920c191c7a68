from django.apps import AppConfig


class TokensConfig(AppConfig):
    name = "domains.tokens"
    label = "tokens"
    verbose_name = "Tokens: app clients' access, websocket tickets, personal access tokens"

    def ready(self) -> None:
        from domains.tokens import receivers  # noqa: F401 - connects to accounts' member_left
