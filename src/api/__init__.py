"""The BrandPulse REST API: live scoring and review storage (`create_app` is the only export)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the API app from the environment, overridden by `config` (setting or Flask keys)."""
    from brandpulse.api import cli, logging_setup, metrics, ratelimit, security
    from brandpulse.api.endpoints import (
        brands,
        client_config,
        docs,
        errors,
        health,
        model_versions,
        predict,
        privacy,
        reviews,
        stats,
    )
    from brandpulse.api.serving import inference, shedding
    from brandpulse.api.settings import EXTENSION as SETTINGS_EXTENSION
    from brandpulse.api.settings import SETTING_NAMES, Settings
    from brandpulse.api.storage import db, migrations

    config = dict(config or {})
    settings = Settings.from_env(overrides=config)
    app = Flask(__name__, static_folder=None)
    app.config.update(settings.flask_config())
    app.config.update({key: value for key, value in config.items() if key not in SETTING_NAMES})
    app.extensions[SETTINGS_EXTENSION] = settings

    logging_setup.init_app(app, settings)
    security.init_app(app, settings)
    metrics.init_app(app, settings)
    ratelimit.init_app(app, settings)
    db.init_app(app, settings)
    if db.is_memory_sqlite(settings.database_url):
        migrations.upgrade()  # nothing else could ever create a private in-memory database's schema
    inference.init_app(app, settings)
    shedding.init_app(app)
    cli.init_app(app)
    api = docs.init_app(app)
    errors.init_app(app)
    blueprints = (
        health.bp,
        predict.bp,
        reviews.bp,
        brands.bp,
        stats.bp,
        model_versions.bp,
        client_config.bp,
        privacy.bp,
    )
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    return app
