"""`make run`: the embedded servers, console email, debug pages."""

from project.settings.base import *
from project.settings.environment import env

DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
