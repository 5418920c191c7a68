from domains.interviews.views import assignments, catalogue, reports, sessions

app_name = "interviews"

# Each page module lists its own routes (views/__init__.py).
urlpatterns = [*catalogue.urls, *sessions.urls, *reports.urls, *assignments.urls]
