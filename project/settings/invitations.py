"""Organisations and invitations (domains/accounts, domains/invitations)."""

from project.settings.environment import env

# How long an invitation's link works, from when it was (last) sent.
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
# How many invitation emails (new or sent again) one person may send an hour, across organisations.
INVITATION_SEND_PER_HOUR = env.int("INVITATION_SEND_PER_HOUR", default=60)

# Organisations (domains/accounts): how many a person may create a day, and the largest logo.
ORGANISATION_CREATE_PER_DAY = env.int("ORGANISATION_CREATE_PER_DAY", default=5)
ORGANISATION_LOGO_MAX_BYTES = env.int("ORGANISATION_LOGO_MAX_BYTES", default=512 * 1024)
