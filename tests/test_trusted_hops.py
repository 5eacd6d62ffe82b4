"""The one rule both servers use to tell which address sent a request (src/trusted_hops.py)."""

from __future__ import annotations

import logging
import socket
import threading

import pytest

from brandpulse import trusted_hops
from brandpulse.trusted_hops import TrustedHops, parse_address, parse_hops
from tests.support.servers import wait_until

VISITOR = "203.0.113.66"


@pytest.mark.parametrize(
    ("hops", "peer", "chain", "client"),
    [
        ((), "192.0.2.7", [VISITOR], "192.0.2.7"),  # nobody trusted: the peer, whatever it wrote
        (("10.0.0.5",), "192.0.2.7", [VISITOR], "192.0.2.7"),  # an untrusted peer's header is ignored
        (("10.0.0.5",), "10.0.0.5", [VISITOR], VISITOR),  # a trusted hop names the client
        (("10.0.0.5",), "10.0.0.5", [], "10.0.0.5"),  # a hop's own call
        # The visitor wrote the left part; only the nearest untrusted address counts.
        (("10.0.0.0/24",), "10.0.0.5", [f"198.51.100.1, {VISITOR}, 10.0.0.9"], VISITOR),
        (("10.0.0.0/24",), "10.0.0.5", ["198.51.100.1", f"{VISITOR}, 10.0.0.9"], VISITOR),  # two headers
        # A garbled address stops the walk at the last hop that wrote a good one.
        (("10.0.0.0/24",), "10.0.0.5", [f"{VISITOR}, not-an-ip, 10.0.0.9"], "10.0.0.9"),
        (("::1",), "::1", ["2001:db8::1"], "2001:db8::1"),
        (("10.0.0.5",), "::ffff:10.0.0.5", [VISITOR], VISITOR),  # IPv4-mapped is the IPv4 address
    ],
)
def test_the_client_is_the_nearest_address_no_trusted_hop_wrote(hops, peer, chain, client):
    assert TrustedHops(hops).client_address(peer, chain) == client


def test_a_host_name_trusts_the_addresses_it_resolves_to():
    hops = TrustedHops(["localhost"])
    assert hops.client_address("127.0.0.1", [VISITOR]) == VISITOR
    assert hops.client_address("192.0.2.7", [VISITOR]) == "192.0.2.7"


def test_a_name_that_does_not_resolve_trusts_nothing_and_is_logged_once(caplog):
    hops = TrustedHops(["no-such-host.invalid"], resolve_seconds=0)
    with caplog.at_level(logging.WARNING, logger="brandpulse.trusted_hops"):
        for _ in range(3):
            assert hops.client_address("10.0.0.5", [VISITOR]) == "10.0.0.5"
    assert len([r for r in caplog.records if "does not resolve" in r.getMessage()]) == 1


def test_a_peer_that_is_no_address_is_returned_as_it_is():
    assert TrustedHops(["10.0.0.5"]).client_address(None, [VISITOR]) is None
    assert TrustedHops(["10.0.0.5"]).client_address("unix-socket", [VISITOR]) == "unix-socket"


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not a host", "300.1.2.3", "-dash"])
def test_entries_that_are_no_address_network_or_name_are_refused(bad):
    with pytest.raises(ValueError, match="not an address, a network or a host name"):
        parse_hops(f"dash, {bad}")


def test_hops_are_comma_separated_text():
    assert parse_hops(" dash, proxy ,10.0.0.0/8,, fd00::/64") == ("dash", "proxy", "10.0.0.0/8", "fd00::/64")
    assert str(parse_address(" ::ffff:192.0.2.1 ")) == "192.0.2.1"
    assert parse_address("dash") is None


def test_a_stale_name_is_looked_up_again_in_the_background(monkeypatch):
    """Requests go on with the last look-up's addresses while a slow resolver answers."""
    address, slow = ["127.0.0.1"], threading.Event()
    asked, answer = threading.Event(), threading.Event()

    def resolver(name, *args, **kwargs):
        answered = address[0]  # a look-up that began before the change answers the old address
        if slow.is_set():
            asked.set()
            answer.wait(30)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answered, 0))]

    monkeypatch.setattr(trusted_hops.socket, "getaddrinfo", resolver)
    hops = TrustedHops(["localhost"], resolve_seconds=0)
    assert hops.client_address("127.0.0.1", [VISITOR]) == VISITOR  # the first look-up, waited for
    address[0] = "192.0.2.9"
    slow.set()

    def trusted_while_the_look_up_waits() -> bool:
        # Waiting for the look-up would end with 127.0.0.1 no longer trusted: the peer as the client.
        assert hops.client_address("127.0.0.1", [VISITOR]) == VISITOR
        return asked.is_set()

    wait_until(trusted_while_the_look_up_waits, timeout=10, message="no look-up was started")
    assert hops.client_address("127.0.0.1", [VISITOR]) == VISITOR  # still the old addresses
    answer.set()
    wait_until(
        lambda: hops.client_address("192.0.2.9", [VISITOR]) == VISITOR,
        timeout=10,
        message="the new look-up was never used",
    )
    assert hops.client_address("127.0.0.1", [VISITOR]) == "127.0.0.1"
