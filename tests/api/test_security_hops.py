"""Client addresses from trusted hops only, and rate limits that one client cannot turn against all.

The address is the TCP peer unless the peer is one of TRUSTED_PROXIES (addresses, networks, host
names); a trusted hop's call without `X-Forwarded-For` is its own (the web server's brand list).
Limits count a client per IPv4 address or IPv6 /64, and the hops' own calls in a scope of their
own (RATE_LIMIT_SERVICE). Over real HTTP, a peer that is not trusted is reached from 127.0.0.2.
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from brandpulse.api.security import client_ip, is_service_call
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import Review
from tests.support.contract import serve

TEXT = "Good shoes, comfortable and well made."
VISITOR = "203.0.113.66"


def origin(app, peer: str, forwarded_for: str | None = None) -> tuple[str | None, bool]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for is not None else {}
    with app.test_request_context("/api/brands", headers=headers, environ_base={"REMOTE_ADDR": peer}):
        return client_ip(), is_service_call()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("hops", "peer", "forwarded_for", "expected"),
    [
        ("", "127.0.0.1", None, ("127.0.0.1", False)),  # no hops: the peer, never a service call
        ("", "127.0.0.1", VISITOR, ("127.0.0.1", False)),
        ("10.0.0.5", "192.0.2.7", VISITOR, ("192.0.2.7", False)),  # forged by an untrusted peer
        ("10.0.0.5", "192.0.2.7", None, ("192.0.2.7", False)),
        ("10.0.0.5", "10.0.0.5", VISITOR, (VISITOR, False)),  # the web server, for a visitor
        ("10.0.0.5", "10.0.0.5", None, ("10.0.0.5", True)),  # the web server's own call
        ("10.0.0.5", "10.0.0.5", " , ", ("10.0.0.5", True)),  # an empty header names nobody
        ("10.0.0.5", "10.0.0.6", None, ("10.0.0.6", False)),  # a neighbour is not trusted
        ("10.0.0.5", "::ffff:10.0.0.5", None, ("10.0.0.5", True)),  # IPv4-mapped is IPv4
        ("10.0.0.5", "10.0.0.5", f"198.51.100.1, {VISITOR}", (VISITOR, False)),  # nearest untrusted
        ("localhost", "127.0.0.1", VISITOR, (VISITOR, False)),  # a host name, resolved
        ("localhost", "127.0.0.1", None, ("127.0.0.1", True)),
        ("localhost", "127.0.0.2", VISITOR, ("127.0.0.2", False)),
        ("fd00::/64", "fd00::7", "2001:db8:1:2::9", ("2001:db8:1:2::9", False)),
    ],
)
def test_the_client_address_and_whether_it_is_a_hops_own_call(make_app, hops, peer, forwarded_for, expected):
    app = make_app(TRUSTED_PROXIES=hops)
    assert origin(app, peer, forwarded_for) == expected


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_trusted_hops_are_built_once_per_app(make_app):
    app = make_app(TRUSTED_PROXIES="localhost, 10.0.0.0/8")
    origin(app, "10.1.2.3")
    hops = app.extensions["brandpulse.trusted_hops"]
    origin(app, "127.0.0.1", VISITOR)
    assert app.extensions["brandpulse.trusted_hops"] is hops
    assert hops.hops == ("localhost", "10.0.0.0/8")


# ---------------------------------------------------------------- rate limits


def as_visitor(address: str, hop: str = "127.0.0.1") -> dict:
    """Request keyword arguments of a call the hop `hop` forwards for `address`."""
    return {"headers": {"X-Forwarded-For": address}, "environ_base": {"REMOTE_ADDR": hop}}


def predict(client, **kwargs) -> int:
    return client.post("/api/predict", json={"text": TEXT}, **kwargs).status_code


def test_one_client_over_the_limit_leaves_the_others_alone(make_app):
    client = make_app(RATE_LIMIT_PREDICT="2/minute", TRUSTED_PROXIES="127.0.0.1").test_client()
    assert [predict(client, **as_visitor(VISITOR)) for _ in range(3)] == [200, 200, 429]
    assert predict(client, **as_visitor("198.51.100.1")) == 200
    assert predict(client, **as_visitor("198.51.100.2")) == 200
    assert predict(client) == 200  # the web server's own call
    assert predict(client, **as_visitor(VISITOR)) == 429


def test_an_ipv6_client_is_counted_per_64(make_app):
    client = make_app(RATE_LIMIT_PREDICT="2/minute", TRUSTED_PROXIES="127.0.0.1").test_client()
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::abcd"]
    assert [predict(client, **as_visitor(address)) for address in same_64] == [200, 200, 429]
    assert predict(client, **as_visitor("2001:db8:1:3::1")) == 200  # the next /64: another client
    assert predict(client, **as_visitor("::ffff:198.51.100.9")) == 200  # IPv4-mapped: an IPv4 client
    assert predict(client, **as_visitor("198.51.100.9")) == 200
    assert predict(client, **as_visitor("198.51.100.9")) == 429


def test_the_hops_own_calls_have_their_own_scope_and_limit(make_app):
    app = make_app(
        RATE_LIMIT_DEFAULT="2/minute",
        RATE_LIMIT_PREDICT="1/minute",
        RATE_LIMIT_SERVICE="4/minute",
        TRUSTED_PROXIES="127.0.0.1",
    )
    client = app.test_client()
    # A visitor uses up their limits: the web server's own brand list still loads ...
    assert [client.get("/api/brands", **as_visitor(VISITOR)).status_code for _ in range(3)] == [200, 200, 429]
    assert [predict(client, **as_visitor(VISITOR)) for _ in range(2)] == [200, 429]
    # ... and its own calls count against RATE_LIMIT_SERVICE, not the endpoints' limits ...
    own = [client.get("/api/brands").status_code for _ in range(3)] + [predict(client)]
    assert own == [200, 200, 200, 200]
    assert client.get("/api/brands").status_code == 429
    # ... which, used up, refuses no visitor.
    assert client.get("/api/brands", **as_visitor("198.51.100.1")).status_code == 200
    assert predict(client, **as_visitor("198.51.100.1")) == 200


def test_a_forged_forwarded_for_from_an_untrusted_peer_changes_nothing(make_app):
    app = make_app(RATE_LIMIT_PREDICT="2/minute", RATE_LIMIT_SERVICE="off", TRUSTED_PROXIES="10.0.0.5")
    client = app.test_client()
    forged = [f"198.51.100.{n}" for n in range(1, 4)]
    statuses = [predict(client, **as_visitor(address, hop="192.0.2.7")) for address in forged]
    assert statuses == [200, 200, 429]  # one client, whatever it writes
    assert predict(client, environ_base={"REMOTE_ADDR": "192.0.2.7"}) == 429  # and no service call
    response = client.post(
        "/api/review",
        json={"text": TEXT, "rating": 3, "brand": "Nike"},
        **as_visitor(VISITOR, hop="192.0.2.7"),
    )
    with app.app_context(), get_database().connection_context():
        assert Review.get_by_id(response.json["id"]).ip_address == "192.0.2.7"


# ---------------------------------------------------------------- real HTTP


def _post(url: str, path: str, body: dict, source: str, forwarded_for: str | None = None) -> tuple[int, dict]:
    """POST JSON from the local address `source` (127.0.0.2 is a peer no hop list names)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=30, source_address=(source, 0)
    )
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        connection.request("POST", path, body=json.dumps(body), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_over_http_only_a_hop_named_by_host_name_may_forward_an_address(make_app):
    app = make_app(TRUSTED_PROXIES="localhost", RATE_LIMIT_REVIEW="2/minute")
    review = {"text": TEXT, "rating": 4, "brand": "Nike"}
    with serve(app) as url:
        forwarded = _post(url, "/api/review", review, "127.0.0.1", VISITOR)
        forged = [_post(url, "/api/review", review, "127.0.0.2", f"198.51.100.{n}") for n in range(3)]
        visitor_again = _post(url, "/api/review", review, "127.0.0.1", VISITOR)
        own = _post(url, "/api/review", review, "127.0.0.1")
    assert forwarded[0] == 201 and visitor_again[0] == 201 and own[0] == 201
    assert [status for status, _ in forged] == [201, 201, 429]
    with app.app_context(), get_database().connection_context():
        addresses = {
            review_id: Review.get_by_id(review_id).ip_address for review_id in _ids(forwarded, own, *forged)
        }
    assert addresses[forwarded[1]["id"]] == VISITOR
    assert addresses[own[1]["id"]] == "127.0.0.1"
    assert {addresses[body["id"]] for _, body in forged[:2]} == {"127.0.0.2"}  # never the forged one


def _ids(*answers: tuple[int, dict]) -> list[int]:
    return [body["id"] for status, body in answers if status == 201]
