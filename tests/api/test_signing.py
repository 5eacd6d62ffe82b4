"""The server's secret, the keys derived from it, and the client pseudonyms keyed with it."""

from __future__ import annotations

import stat

import pytest

from brandpulse.api.pseudonyms import client_network, client_pseudonym
from brandpulse.api.settings import Settings, SettingsError
from brandpulse.api.signing import KEY_FILE, derived_key, secret_key

SECRET = "0123456789abcdef0123456789abcdef"


def test_without_a_secret_key_one_is_generated_once_and_kept_private(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path)})
    first = secret_key(settings)
    path = tmp_path / KEY_FILE
    assert path.read_text().strip().encode() == first and len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert secret_key(Settings.from_env({"DATA_DIR": str(tmp_path)})) == first
    assert secret_key(Settings.from_env({"DATA_DIR": str(tmp_path / "other")})) != first


def test_each_use_has_its_own_key_and_secret_key_decides_them(tmp_path):
    settings = Settings.from_env({"DATA_DIR": str(tmp_path), "SECRET_KEY": SECRET})
    assert secret_key(settings) == SECRET.encode()
    assert not (tmp_path / KEY_FILE).exists()
    assert derived_key("prediction-token", settings) != derived_key("client-pseudonym", settings)
    other = Settings.from_env({"SECRET_KEY": SECRET[::-1]})
    assert derived_key("client-pseudonym", settings) != derived_key("client-pseudonym", other)


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.66", "203.0.113.66"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        (None, None),
        ("", None),
    ],
)
def test_a_client_is_an_ipv4_address_or_an_ipv6_64(address, network):
    assert client_network(address) == network


def test_pseudonyms_are_keyed_per_client_network():
    settings = Settings.from_env({"SECRET_KEY": SECRET})
    one = client_pseudonym("2001:db8:1:2::1", settings)
    assert one == client_pseudonym("2001:db8:1:2:ffff::9", settings)  # the same /64
    assert one != client_pseudonym("2001:db8:1:3::1", settings)
    assert len(one) == 32 and one != client_pseudonym("203.0.113.66", settings)
    assert one != client_pseudonym("2001:db8:1:2::1", Settings.from_env({"SECRET_KEY": SECRET[::-1]}))
    assert client_pseudonym(None, settings) is None


@pytest.mark.parametrize("name", ["ADMIN_TOKEN", "SECRET_KEY"])
@pytest.mark.parametrize(
    "value",
    ["CHANGE-ME-to-a-long-random-token", "replace-me-with-openssl-rand", "aaaaaaaaaaaaaaaaaaaa", "short"],
)
def test_placeholder_and_short_secrets_are_refused(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})
