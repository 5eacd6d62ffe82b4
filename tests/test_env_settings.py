"""The rules both services' settings share (`brandpulse/env_settings.py`), checked on both."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from brandpulse import env_settings
from brandpulse.api import settings as api_settings
from brandpulse.api.settings import Settings
from brandpulse.dash import settings as web_settings
from brandpulse.dash.settings import WebSettings

CLASSES = (Settings, WebSettings)
FIELDS = [(cls, name) for cls in CLASSES for name in cls.model_fields]
TYPED = [(cls, name) for cls, name in FIELDS if cls.model_fields[name].annotation in (int, float, bool)]


def _id(value):
    return value.__name__ if isinstance(value, type) else None


@pytest.mark.parametrize(("cls", "name"), FIELDS, ids=_id)
@pytest.mark.parametrize("empty", ["", " \t "])
def test_an_empty_value_means_the_default(cls, name, empty):
    default = cls.from_env({})
    variable = name.upper()
    assert cls.from_env({variable: empty}) == default
    assert cls.from_env({}, overrides={variable: empty}) == default
    assert cls.from_env({}, overrides={name: empty}) == default
    assert cls.from_env({}, overrides={name: None}) == default


def test_both_services_share_the_rules():
    assert all(issubclass(cls, env_settings.EnvSettings) for cls in CLASSES)
    assert api_settings.SettingsError is web_settings.SettingsError is env_settings.SettingsError
    assert issubclass(env_settings.SettingsError, ValueError)
    for cls in CLASSES:
        assert cls.from_env({"LOG_LEVEL": ""}).log_level == "INFO"  # was an error in the API only
        assert cls.from_env({"LOG_LEVEL": " debug "}).log_level == "DEBUG"
        with pytest.raises(env_settings.SettingsError, match=r"^LOG_LEVEL: 'LOUD' is not one of"):
            cls.from_env({"LOG_LEVEL": "LOUD"})


@pytest.mark.parametrize(("cls", "name"), TYPED, ids=_id)
def test_errors_name_the_variable_and_quote_the_value(cls, name):
    variable = name.upper()
    with pytest.raises(env_settings.SettingsError, match=rf"^{variable}: .*, got 'many'$"):
        cls.from_env({variable: "many"})
    with pytest.raises(env_settings.SettingsError, match=rf"^{variable}: "):
        cls.from_env({}, overrides={name: "many"})


def test_several_errors_are_named_together():
    with pytest.raises(env_settings.SettingsError) as raised:
        Settings.from_env({"API_PORT": "http", "PAGE_SIZE_MAX": "0"})
    messages = str(raised.value).split("; ")
    assert sorted(message.split(":")[0] for message in messages) == ["API_PORT", "PAGE_SIZE_MAX"]


def test_errors_never_repeat_a_secret():
    for environ, secret in [
        ({"ADMIN_TOKEN": "hunter2-short"}, "hunter2"),
        ({"DATABASE_URL": "mysql://user:hunter2@db/reviews"}, "hunter2"),
    ]:
        with pytest.raises(env_settings.SettingsError) as raised:
            Settings.from_env(environ)
        assert str(raised.value).startswith(next(iter(environ)) + ":")
        assert secret not in str(raised.value)


def test_only_from_env_reads_the_environment(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    monkeypatch.setenv("WEB_PORT", "9999")
    assert Settings().log_level == WebSettings().log_level == "INFO"  # the values given, plus defaults
    assert WebSettings.from_env().web_port == 9999 and Settings.from_env().log_level == "ERROR"
    assert WebSettings.from_env({}).web_port == 8050  # the mapping handed over, not os.environ


def test_overrides_take_variable_or_field_names_and_ignore_others():
    settings = WebSettings.from_env({"WEB_PORT": "9000"}, overrides={"web_threads": 2, "TESTING": True})
    assert (settings.web_port, settings.web_threads) == (9000, 2)
    assert WebSettings.from_env({"WEB_PORT": "9000"}, overrides={"WEB_PORT": "9100"}).web_port == 9100


@pytest.mark.parametrize("cls", CLASSES, ids=_id)
def test_replace_checks_the_new_values(cls):
    settings = cls.from_env({})
    assert settings.replace(log_level="warning").log_level == "WARNING"
    with pytest.raises(env_settings.SettingsError, match="LOG_LEVEL"):
        settings.replace(log_level="LOUD")
    with pytest.raises(env_settings.SettingsError, match="NO_SUCH_SETTING"):
        cls(no_such_setting=1)
    with pytest.raises(ValidationError, match="frozen"):
        settings.log_level = "DEBUG"
