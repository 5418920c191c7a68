from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo seed. It sits above every domain (it calls their services), so nothing but `make run`
    and tests imports it. No models."""

    name = "domains.demo"
    label = "demo"
    verbose_name = "Demo data"
