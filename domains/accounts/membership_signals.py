"""Signals other domains hear when someone's place in an organisation ends.

`member_left` is sent inside the service's transaction (so a receiver's writes commit or roll back
with it) by `member_deactivate` (`how="deactivated"`) and `member_remove` (`how="removed"`), with
`organisation`, `user`, `actor` and `request`. The domains above accounts connect to it: waiting
invitations to the person are withdrawn (domains/invitations/receivers.py), and on removal their
personal access tokens there are revoked (domains/tokens/receivers.py).
"""

from django.dispatch import Signal

member_left = Signal()
