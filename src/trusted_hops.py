"""Which address sent a request: the TCP peer, or what trusted proxies in front of us saw.

Both servers use this one rule: the API (its trusted hops are the web server and the TLS proxy)
and the web server (its trusted hop is the TLS proxy in front of it). A peer that is not a
trusted hop is the client, whatever `X-Forwarded-For` it wrote. A trusted peer's chain is read
from the nearest hop back: each trusted proxy appended the address it saw, so the first address
that is not a trusted hop is the client; addresses further left were written by the client and
are never believed.

Trusted hops are addresses, networks (`10.0.0.5`, `fd00::/64`) or host names (`dash`, `proxy`,
a Kubernetes headless Service): a name is resolved to the addresses it has now, again every
RESOLVE_SECONDS, so a restarted container's new address is trusted and its old one is not. A
name that does not resolve trusts nothing (and is logged), never everything.

Only a process's first look-up runs in a request (nothing is known before it). Later ones run on
a background thread while requests go on with the addresses of the last one: a resolver that
takes seconds to say a name does not exist (the `proxy` of a stack run without its proxy, on a
host whose DNS server does not answer) delays one request of each worker, not one every
RESOLVE_SECONDS.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterable

logger = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_SECONDS = 30.0
# A DNS name: dot-separated labels of letters, digits and hyphens (Docker and Kubernetes names).
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$"
)


def parse_hops(value: str | Iterable[str]) -> tuple[str, ...]:
    """Trusted hops from comma-separated text (or an iterable); ValueError names a bad entry."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    hops = tuple(part.strip() for part in parts if part.strip())
    for hop in hops:
        try:
            ipaddress.ip_network(hop, strict=False)
        except ValueError:
            if not _HOST_NAME.match(hop) or hop.replace(".", "").isdigit():
                raise ValueError(f"{hop!r} is not an address, a network or a host name") from None
    return hops


def parse_address(text: str) -> Address | None:
    """The address `text` names, IPv4-mapped IPv6 as IPv4 (None: not an address)."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class TrustedHops:
    """The proxies whose `X-Forwarded-For` is believed; names resolved every RESOLVE_SECONDS."""

    def __init__(self, hops: Iterable[str], resolve_seconds: float = RESOLVE_SECONDS) -> None:
        self.hops = parse_hops(list(hops))
        self._networks: tuple[Network, ...] = ()
        self._names: tuple[str, ...] = ()
        networks, names = [], []
        for hop in self.hops:
            try:
                networks.append(ipaddress.ip_network(hop, strict=False))
            except ValueError:
                names.append(hop.rstrip("."))
        self._networks, self._names = tuple(networks), tuple(names)
        self._resolve_seconds = resolve_seconds
        self._resolved: frozenset[Address] = frozenset()
        self._resolved_at: float | None = None
        self._lock = threading.Lock()
        self._refreshing: int | None = None  # the process whose refresh thread is running
        self._unresolved: set[str] = set()  # names whose failure was logged (once, until they resolve)

    def __bool__(self) -> bool:
        return bool(self.hops)

    def _name_addresses(self) -> frozenset[Address]:
        """The addresses the names had at the last look-up; the first one is waited for, a stale
        one is refreshed in the background (one refresh at a time)."""
        if not self._names:
            return frozenset()
        if self._resolved_at is None:
            with self._lock:
                if self._resolved_at is None:
                    self._resolved, self._resolved_at = self._resolve(), time.monotonic()
            return self._resolved
        if time.monotonic() - self._resolved_at >= self._resolve_seconds and not self._refresh_running():
            with self._lock:
                if not self._refresh_running():
                    self._refreshing = os.getpid()
                    threading.Thread(target=self._refresh, name="trusted-hops-refresh", daemon=True).start()
        return self._resolved

    def _refresh(self) -> None:
        try:
            resolved = self._resolve()
            self._resolved, self._resolved_at = resolved, time.monotonic()
        finally:
            self._refreshing = None

    def _refresh_running(self) -> bool:
        # A refresh started before a fork (gunicorn's preloaded app) has no thread in the child.
        return self._refreshing == os.getpid()

    def _resolve(self) -> frozenset[Address]:
        """Look every name up now (a name that does not resolve adds nothing, logged once)."""
        addresses: set[Address] = set()
        for name in self._names:
            try:
                infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
            except OSError as error:
                if name not in self._unresolved:
                    self._unresolved.add(name)
                    logger.warning("trusted proxy %r does not resolve (%s): not trusted", name, error)
                continue
            if name in self._unresolved:
                self._unresolved.discard(name)
                logger.info("trusted proxy %r resolves again", name)
            for info in infos:
                address = parse_address(str(info[4][0]).split("%", 1)[0])
                if address is not None:
                    addresses.add(address)
        return frozenset(addresses)

    def trusts(self, address: Address) -> bool:
        """Whether `address` is one of the trusted hops."""
        return any(address in network for network in self._networks) or address in self._name_addresses()

    def client_address(self, peer: str | None, forwarded_for: Iterable[str]) -> str | None:
        """The client's address: `peer` (the TCP peer) unless it is a trusted hop, else the
        nearest address of the `X-Forwarded-For` header values that is not a trusted hop.

        A trusted peer with no chain is the client itself (a call of the proxy's own); a garbled
        address in the chain stops the walk at the hop that wrote it (nothing beyond is evidence).
        """
        peer_address = parse_address(peer or "")
        if peer_address is None:
            return peer
        if not self.hops or not self.trusts(peer_address):
            return str(peer_address)
        hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
        client = peer_address
        for hop in reversed(hops):
            address = parse_address(hop)
            if address is None:
                break  # written by someone we do not trust: the last good hop is the client
            client = address
            if not self.trusts(address):
                break
        return str(client)
