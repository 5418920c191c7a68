"""The client address and login lockouts (domains/common/client_ip.py, django-axes).

Every consumer of the client address (allauth's rate limits, axes' lockouts, the audit log, consent
records) goes through `domains.common.client_ip.client_ip`, which trusts forwarded headers only
from `TRUSTED_PROXIES`.
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from python_ipware import IpWare

from project.settings.environment import env

# The proxies in front of the web processes, one entry per hop, outermost first, the one that
# connects to daphne last; each an IP, a CIDR network (several load balancers of one tier) or an IP
# prefix. Empty (the default, `make run`, tests): X-Forwarded-For is ignored and the client is the
# socket peer. Only list proxies that overwrite or append X-Forwarded-For themselves.
TRUSTED_PROXIES: list[str] = [entry.strip() for entry in env.list("TRUSTED_PROXIES", default=[])]
try:
    # ipware refuses an empty entry (a trailing comma would trust every address) and junk.
    IpWare(proxy_list=TRUSTED_PROXIES)
except ValueError as error:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {error}") from error

# ---------------------------------------------------------------- lockouts (django-axes)
# Five wrong passwords for one account from one address lock that (account, address) pair for five
# minutes; the right password from another address still works, so a stranger cannot lock the
# owner out. allauth's looser per-account limit (ACCOUNT_RATE_LIMITS in base) stops a distributed
# guesser from new addresses, but never applies at an address the account signed in from before
# (domains/accounts/adapter.py `login_address_known`), so it cannot keep the owner out either.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A successful login clears that pair's failures.
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "domains.common.client_ip.client_ip"
# allauth authenticates with `email=`; the callable also reads the admin's `username` and the
# login form's `login` field, and folds case so "A@x" and "a@x" share one counter.
AXES_USERNAME_FORM_FIELD = "email"
AXES_USERNAME_CALLABLE = "domains.accounts.adapter.axes_username"
AXES_LOCKOUT_CALLABLE = "domains.accounts.adapter.lockout_response"
# Too Many Requests, not a blank 403: the page says why and for how long (Retry-After).
AXES_HTTP_RESPONSE_CODE = 429
# Logins are already in the audit log; no second, unbounded store of addresses per login.
AXES_DISABLE_ACCESS_LOG = True
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "login"]
