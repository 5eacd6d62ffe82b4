"""Brands: `GET /api/brands` and `GET /api/brands/random`."""

from __future__ import annotations

from typing import Any

from peewee import fn
from webargs.flaskparser import abort

from brandpulse.api.endpoints.parsing import Blueprint
from brandpulse.api.endpoints.schemas import BrandListSchema, BrandSchema, RandomBrandQuerySchema
from brandpulse.api.storage.db import open_connection
from brandpulse.api.storage.tables import Brand

bp = Blueprint("brands", __name__, url_prefix="/api", description="The brands people review.")
bp.before_request(open_connection)


@bp.route("/brands", methods=["GET"])
@bp.response(200, BrandListSchema)
@bp.errors(429, 503)
def list_brands() -> dict[str, Any]:
    """Every brand, by name."""
    brands = list(Brand.select().order_by(Brand.name))
    return {"items": brands, "total": len(brands)}


@bp.route("/brands/random", methods=["GET"])
@bp.arguments(RandomBrandQuerySchema, location="query")
@bp.response(200, BrandSchema)
@bp.errors(404, 429, 503)
def random_brand(args: dict[str, Any]) -> Brand:
    """A brand picked at random, optionally other than `exclude` (404 when there is none)."""
    query = Brand.select()
    if "exclude" in args:
        query = query.where(Brand.name != args["exclude"])
    brand = query.order_by(fn.Random()).first()
    if brand is None:
        abort(404, message="no brand to suggest")
    return brand
