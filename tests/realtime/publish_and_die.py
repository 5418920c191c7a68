"""Run as `python -m tests.realtime.publish_and_die <stream>` against the test database: commit one
durable event on `stream` and die by SIGKILL after the commit and before the send (the on-commit
hook registered first runs first), as a publishing process that crashes at the worst moment."""

from __future__ import annotations

import os
import signal
import sys

import django


def main(stream: str) -> None:
    django.setup()
    from django.db import transaction

    from realtime.publish import publish_on_commit
    from tests.events import Probe

    with transaction.atomic():
        transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
        publish_on_commit(stream, Probe(type="note", n=1))
    sys.exit("the on-commit kill did not happen")  # pragma: no cover - reached only if it did not


if __name__ == "__main__":
    main(sys.argv[1])
