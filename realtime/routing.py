from django.urls import path

from realtime.consumers.coach_thread import CoachThreadConsumer
from realtime.consumers.interview import InterviewConsumer
from realtime.consumers.lounge import LoungeConsumer
from realtime.consumers.me import MeConsumer
from realtime.consumers.ping import PingConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/me/", MeConsumer.as_asgi()),
    path("ws/lounges/<slug:slug>/", LoungeConsumer.as_asgi()),
    path("ws/coach/<int:thread_id>/", CoachThreadConsumer.as_asgi()),
    path("ws/interviews/<int:session_id>/", InterviewConsumer.as_asgi()),
]
