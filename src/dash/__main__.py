"""`python -m brandpulse.dash`: the development server (use gunicorn in production, see docs/web.md)."""

from __future__ import annotations

import argparse
import logging

from brandpulse.dash.app import create_app
from brandpulse.dash.settings import WebSettings

logger = logging.getLogger("brandpulse.dash")


def main(argv: list[str] | None = None) -> int:
    """Serve the web app with Dash's development server until interrupted."""
    settings = WebSettings.from_env()
    parser = argparse.ArgumentParser(prog="python -m brandpulse.dash", description=__doc__)
    parser.add_argument("--host", default=settings.web_host, help="address to listen on (WEB_HOST)")
    parser.add_argument("--port", type=int, default=settings.web_port, help="port to listen on (WEB_PORT)")
    parser.add_argument("--debug", action="store_true", help="Dash dev tools and reloading")
    args = parser.parse_args(argv)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)
    logger.info("BrandPulse web on http://%s:%d/ (API at %s)", args.host, args.port, settings.api_url)
    app.run(host=args.host, port=args.port, debug=args.debug)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
