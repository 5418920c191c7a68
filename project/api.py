"""The HTTP API at /api/v1/ (django-ninja), OpenAPI at /api/openapi.json.

Auth in v1 is the session cookie; ninja's SessionAuth enforces CSRF on unsafe methods.
"""

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI
from ninja.security import SessionAuth

api = NinjaAPI(
    title="Coachwire API",
    version="1",
    urls_namespace="api",
    auth=SessionAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)
api.add_router("/notes", "domains.coaching.api.router")


def openapi_json(request: HttpRequest) -> JsonResponse:
    """The schema at the stable address /api/openapi.json (also served under /api/v1/)."""
    return JsonResponse(api.get_openapi_schema(path_prefix="/api/v1/"))
