"""The web settings: defaults, the environment, overrides and refused values."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandpulse.dash.settings import BUNDLED_LOGOS, SettingsError, WebSettings


def test_defaults_need_no_environment():
    settings = WebSettings.from_env(environ={})
    assert settings.api_url == "http://127.0.0.1:5000"
    assert settings.web_port == 8050
    assert settings.api_timeout == 5.0
    assert settings.logo_dir == BUNDLED_LOGOS
    assert settings.suggestion_control_share == 0.1
    assert settings.web_trusted_proxies == ()  # no proxy: the TCP peer is the visitor
    assert settings.web_max_content_length == 256 * 1024


def test_trusted_proxies_and_the_body_limit_from_the_environment():
    environ = {"WEB_TRUSTED_PROXIES": " proxy, 10.0.0.5 ,fd00::/64", "WEB_MAX_CONTENT_LENGTH": "65536"}
    settings = WebSettings.from_env(environ=environ)
    assert settings.web_trusted_proxies == ("proxy", "10.0.0.5", "fd00::/64")
    assert settings.web_max_content_length == 65536


def test_empty_variables_mean_the_default():
    assert WebSettings.from_env(environ={"LOGO_DIR": "", "WEB_PORT": " "}) == WebSettings()


def test_environment_then_overrides():
    environ = {
        "API_URL": "http://api:5000/",
        "WEB_PORT": "9000",
        "API_TIMEOUT": "2.5",
        "LOGO_DIR": "/srv/logos",
    }
    settings = WebSettings.from_env(environ=environ, overrides={"web_port": 9100})
    assert settings.api_url == "http://api:5000"  # no trailing slash
    assert settings.web_port == 9100
    assert settings.api_timeout == 2.5
    assert settings.logo_dir == Path("/srv/logos")


@pytest.mark.parametrize(("raw", "share"), [("0", 0.0), ("1", 1.0), (" 0.25 ", 0.25), ("1e-1", 0.1)])
def test_the_control_share_is_a_probability(raw, share):
    settings = WebSettings.from_env(environ={"SUGGESTION_CONTROL_SHARE": raw})
    assert settings.suggestion_control_share == share
    assert (
        WebSettings.from_env(environ={}, overrides={"suggestion_control_share": 1}).suggestion_control_share
        == 1.0
    )


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"API_URL": "api:5000"}, "API_URL"),
        ({"API_URL": "ftp://api"}, "API_URL"),
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"WEB_PORT": "0"}, "WEB_PORT"),
        ({"API_TIMEOUT": "0"}, "API_TIMEOUT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"SUGGESTION_CONTROL_SHARE": "-0.1"}, "SUGGESTION_CONTROL_SHARE"),
        ({"SUGGESTION_CONTROL_SHARE": "1.5"}, "SUGGESTION_CONTROL_SHARE"),
        ({"SUGGESTION_CONTROL_SHARE": "nan"}, "SUGGESTION_CONTROL_SHARE"),
        ({"SUGGESTION_CONTROL_SHARE": "ten percent"}, "SUGGESTION_CONTROL_SHARE"),
        ({"WEB_TRUSTED_PROXIES": "10.0.0.5, not a host!"}, "WEB_TRUSTED_PROXIES"),
        ({"WEB_MAX_CONTENT_LENGTH": "0"}, "WEB_MAX_CONTENT_LENGTH"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(environ, message):
    with pytest.raises(SettingsError, match=message):
        WebSettings.from_env(environ=environ)
