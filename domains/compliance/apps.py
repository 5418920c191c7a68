from django.apps import AppConfig


class ComplianceConfig(AppConfig):
    name = "domains.compliance"
    label = "compliance"
    verbose_name = "Compliance: audit and consent"
