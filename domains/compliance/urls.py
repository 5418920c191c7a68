from django.urls import path

from domains.compliance import views

app_name = "compliance"

urlpatterns = [
    path("consent/", views.consent_view, name="consent"),
    path("policies/<slug:kind>/", views.policy_view, name="policy"),
    path("audit/", views.audit_view, name="audit"),
]
