from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from domains.accounts import views as account_views
from project import health
from project.api import api, openapi_json

admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = "Coachwire administration"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("domains.accounts.urls")),
    path("", include("domains.compliance.urls")),
    path("lounges/", include("domains.lounges.urls")),
    path("notes/", include("domains.coaching.urls")),
    path("coach/", include("domains.coaching.thread_urls")),
    path("api/v1/", api.urls),
    path("api/openapi.json", openapi_json, name="openapi"),
    path("", include("django_prometheus.urls")),
]
