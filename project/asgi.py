"""ASGI entry point: HTTP through Django; websockets behind the handshake gate (realtime/tickets.py):
with an Origin header, the Origin check and then the session cookie (or a ticket); without one,
only a valid single-use ticket (app clients, docs/token-auth.md)."""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.dev")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from realtime.routing import websocket_urlpatterns  # noqa: E402
from realtime.tickets import HandshakeGate  # noqa: E402

socket_routes = URLRouter(websocket_urlpatterns)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Scheme, host and port against the site's own origins (realtime/origin.py), before the
        # session is read; a handshake without Origin needs a ticket (realtime/tickets.py).
        "websocket": HandshakeGate(browser=AuthMiddlewareStack(socket_routes), routes=socket_routes),
    }
)

# One server process holds every socket's state, and CPython's full collections walk all of it: at
# 500 interview sockets they paused the process for 320-440 ms several times a minute (bench S4).
# What startup built (Django, the URL conf, the models) lives as long as the process: freeze it out
# of the collector's walks, and collect the youngest generation less often, so objects that live for
# one message die before they are promoted (docs/stack-notes.md §28).
gc.freeze()
gc.set_threshold(10_000, 10, 10)
