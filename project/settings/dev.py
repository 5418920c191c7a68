"""`make run`: the embedded servers, console email, the product's own error pages.

Django shows its technical 404 and 500 pages (every route, settings, tracebacks) whenever DEBUG is
on, and uses `handler404`/`handler500` only when it is off; there is no switch for the pages alone.
So DEBUG follows DEBUG_PAGES, off by default: `make run` shows the styled 404/403/500 a visitor
sees in production, and `DEBUG_PAGES=1 make run` brings Django's debug pages (and DEBUG) back.
"""

from project.settings.base import *
from project.settings.environment import env

DEBUG_PAGES = env.bool("DEBUG_PAGES", default=False)
DEBUG = DEBUG_PAGES
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# WhiteNoise re-reads the static folders per request (its default only under DEBUG): an edited
# CSS or JS file shows on reload without restarting `make run`.
WHITENOISE_AUTOREFRESH = True
# `make run` binds to loopback: its monitoring details are open without a token, as under DEBUG.
MONITORING_OPEN = env.bool("MONITORING_OPEN", default=True)
