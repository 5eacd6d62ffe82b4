"""Client addresses as the units limits and filters count, and their keyed pseudonyms.

One person holds one IPv4 address but a whole IPv6 /64 (a home or phone network gets at least
one, and picks addresses in it at will), so rate limits and the retrain's per-client filters count
an IPv6 client per /64 (`client_network`). `client_pseudonym` is that network under a keyed hash
(HMAC-SHA256 with a key derived from SECRET_KEY): it is stored with each review and outlives the
address, so the per-client filters keep working once PERSONAL_DATA_RETENTION_DAYS has erased the
address, and an erasure by address still finds the reviews (docs/privacy.md). Without the key
the pseudonym cannot be tied back to an address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from brandpulse.api.settings import Settings
from brandpulse.api.signing import derived_key

IPV6_CLIENT_PREFIX = 64
PSEUDONYM_PURPOSE = "client-pseudonym"
PSEUDONYM_HEX_CHARS = 32  # 128 bits: no two clients share one


def client_network(address: str | None) -> str | None:
    """The unit one client is counted as: an IPv4 address, or the /64 of an IPv6 address (an
    IPv4-mapped IPv6 address is its IPv4 address). None for no address; text that is no address
    is returned as it is."""
    if not address:
        return None
    try:
        parsed = ipaddress.ip_address(address.strip())
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, IPV6_CLIENT_PREFIX), strict=False))
    return str(parsed)


def client_pseudonym(address: str | None, settings: Settings | None = None) -> str | None:
    """The keyed hash of `address`'s client network (None for no address)."""
    network = client_network(address)
    if network is None:
        return None
    key = derived_key(PSEUDONYM_PURPOSE, settings)
    return hmac.new(key, network.encode("utf-8"), hashlib.sha256).hexdigest()[:PSEUDONYM_HEX_CHARS]
