"""Signals other domains may listen to (a domain above mail, such as notifications, cannot be
imported from here)."""

from django.dispatch import Signal

# Sent once a mail's delivery is settled, after its row committed: `email` (an OutboundEmail) is
# `sent` or `failed`. A mail queued again by an admin's retry may settle again.
mail_settled = Signal()
