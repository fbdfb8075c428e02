"""The client's address behind a reverse proxy, without letting clients forge it.

`X-Forwarded-For` / `Forwarded` are believed only when the direct peer is one
of `server.trusted_proxies` (addresses or CIDRs). The chain is then read from
the right: each hop a trusted proxy added is skipped, and the first address
not in the list is the client, so whatever a client wrote into the header
itself (the left end) cannot win. `X-Forwarded-For` is read when present,
else `Forwarded`: a proxy must overwrite or drop the one it does not set
(docs/deploy.md's nginx config does).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@functools.lru_cache(maxsize=32)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    nets: list[Network] = []
    for item in trusted:
        try:
            nets.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            continue  # validated at start-up by check_trusted(); never trust garbage
    return tuple(nets)


def check_trusted(trusted: Iterable[str]) -> list[str]:
    """Entries of server.trusted_proxies that are not an address or CIDR."""
    bad = []
    for item in trusted:
        try:
            ipaddress.ip_network(item.strip(), strict=False)
        except ValueError:
            bad.append(item)
    return bad


def _parse_ip(text: str) -> Address | None:
    text = text.strip().strip('"')
    if text.startswith("["):  # "[2001:db8::1]:4711" (Forwarded) or "[::1]"
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # "192.0.2.1:4711"
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _is_trusted(addr: Address, nets: tuple[Network, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in nets)


def _forwarded_chain(headers: Mapping[str, str]) -> list[str]:
    xff = headers.get("x-forwarded-for")
    if xff:
        return [part for part in xff.split(",") if part.strip()]
    fwd = headers.get("forwarded")
    if not fwd:
        return []
    chain = []
    for element in fwd.split(","):
        for pair in element.split(";"):
            name, _, value = pair.partition("=")
            if name.strip().lower() == "for":
                chain.append(value)
    return chain


def client_address(scope_client: Sequence[Any] | None, headers: Mapping[str, str],
                   trusted: Sequence[str]) -> str:
    """The address to log, throttle and limit by (`scope_client` is ASGI's (host, port))."""
    peer = str(scope_client[0]) if scope_client else "unknown"
    if not trusted:
        return peer
    nets = _networks(tuple(trusted))
    peer_ip = _parse_ip(peer)
    if peer_ip is None or not _is_trusted(peer_ip, nets):
        return peer
    client = peer
    for hop in reversed(_forwarded_chain(headers)):
        ip = _parse_ip(hop)
        if ip is None:
            break  # "unknown", an obfuscated name, or garbage: stop at the last good hop
        client = str(ip)
        if not _is_trusted(ip, nets):
            break
    return client
