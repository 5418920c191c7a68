from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.http import HttpRequest
from django.urls import include, path

from domains.accounts import views as account_views
from project import health, metrics
from project.admin_site import org_admin_site
from project.api import api, openapi_json

admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


def _operator_only(request: HttpRequest) -> bool:
    """Django's own admin sees every organisation: platform operators (superusers) only, never the
    `is_staff` flag alone. Organisation staff use /manage/ (project/admin_site.py)."""
    return bool(request.user.is_active and request.user.is_superuser)


admin.site.has_permission = _operator_only  # type: ignore[method-assign]
admin.site.site_header = "Coachwire administration"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("manage/", org_admin_site.urls),  # organisation staff; /admin/ is for platform operators
    path("accounts/", include("allauth.urls")),
    # allauth headless for app clients only (HEADLESS_CLIENTS): /_allauth/app/v1/… (docs/token-auth.md).
    # Its views, rebuilt with rate limits on login and refresh and sign-up refused for apps
    # (domains/tokens/headless.py); allauth's own include is not mounted, so each route exists once.
    path("_allauth/app/", include("domains.tokens.headless_urls")),
    path("", include("domains.accounts.urls")),
    path("", include("domains.compliance.urls")),
    path("lounges/", include("domains.lounges.urls")),
    path("notes/", include("domains.notes.urls")),
    path("coach/", include("domains.coach.urls")),
    path("notifications/", include("domains.notifications.urls")),
    path("invitations/", include("domains.invitations.urls")),
    path("interviews/", include("domains.interviews.urls")),
    path("account/tokens/", include("domains.tokens.urls")),
    path("api/v1/", api.urls),
    path("api/openapi.json", openapi_json, name="openapi"),
    path("metrics", metrics.metrics, name="prometheus-django-metrics"),
]

# JSON in the API's error shape under /api/ (an unmatched address, a bad Host), pages elsewhere.
handler400 = "project.api.bad_request"
handler404 = "project.api.page_not_found"
handler500 = "project.api.server_error"
