"""The one answer to "which address did this request come from?".

Rate limits (allauth), lockouts (django-axes), the audit log and consent records all ask here, so
they always agree, and a client can never choose its own address by sending a header.

The model is the hop chain: the `X-Forwarded-For` entries, left to right, followed by
`REMOTE_ADDR`, the peer that actually opened the connection (a header can forge every entry but
that last one). `settings.TRUSTED_PROXIES` lists the proxies in front of the app, one entry per hop,
outermost first, the nearest last; each entry is an IP, a CIDR network or an IP prefix
(python-ipware's `proxy_list`). When the trailing hops match those entries, the hop just before
them is the client. Otherwise, and always when no proxies are configured, forwarded headers are
ignored and the client is `REMOTE_ADDR`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest
from python_ipware import IpWare

_CHAIN = "HTTP_X_FORWARDED_FOR"


@lru_cache(maxsize=1)
def _direct() -> IpWare:
    # Only the socket peer: ipware still validates it (ports, brackets, IPv4-mapped IPv6,
    # unspecified and multicast addresses are refused).
    return IpWare(precedence=("REMOTE_ADDR",))


def _hop(entry: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """One X-Forwarded-For entry, strictly: a bare address and nothing else. Quotes, `=`, `;`,
    brackets or ports make it no address at all (a lenient parser lets a client's unclosed quote
    swallow the hops the proxies appended after it)."""
    value = entry.strip()
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _matches(hop: ipaddress.IPv4Address | ipaddress.IPv6Address, proxy: str) -> bool:
    """A TRUSTED_PROXIES entry: an address, a CIDR network, or a textual prefix ("10.0.")."""
    if "/" in proxy:
        return hop in ipaddress.ip_network(proxy, strict=False)
    try:
        return hop == ipaddress.ip_address(proxy)
    except ValueError:
        return str(hop).startswith(proxy)


def _through(forwarded: str, peer: str, proxies: Sequence[str]) -> str | None:
    """The client behind `proxies` (outermost first, the nearest last), or None when the chain does
    not end in exactly those hops. The chain is the header's entries, split on commas, then the
    socket peer; only the hops right of the client are read, so junk a client writes on the left
    is never parsed."""
    chain = [*forwarded.split(","), peer]
    if len(chain) <= len(proxies):
        return None
    for entry, proxy in zip(chain[-len(proxies) :], proxies, strict=True):
        hop = _hop(entry)
        if hop is None or not _matches(hop, proxy):
            return None
    client = _hop(chain[-len(proxies) - 1])
    return _text(client) if client is not None else None


def _text(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> str | None:
    if ip is None:
        return None
    # A zone id ("fe80::1%eth0") means nothing off this host and PostgreSQL's inet refuses it.
    return str(ip).split("%", 1)[0]


def client_ip(request: HttpRequest, *, trusted_proxies: Sequence[str] | None = None) -> str | None:
    """The client's address as text, or None when the request carries no valid one (never raises
    on a malformed header). `trusted_proxies` defaults to `settings.TRUSTED_PROXIES`."""
    proxies = tuple(settings.TRUSTED_PROXIES if trusted_proxies is None else trusted_proxies)
    remote = request.META.get("REMOTE_ADDR")
    peer, _ = _direct().get_client_ip({"REMOTE_ADDR": remote} if isinstance(remote, str) else {})
    if peer is None:
        # No valid socket peer (a unix socket, a broken server): nothing in the headers can be
        # anchored to a hop we saw, so trust none of them.
        return None
    forwarded = request.META.get(_CHAIN)
    if proxies and isinstance(forwarded, str) and forwarded.strip():
        # The peer closes the chain, so the nearest proxy is checked by its real socket address,
        # not by a header value that a client connecting directly could write.
        client = _through(forwarded, str(peer), proxies)
        if client is not None:
            return client
    return _text(peer)
