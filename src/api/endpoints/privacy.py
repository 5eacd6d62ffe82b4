"""`POST /api/privacy/erase` (admin): erase everything stored of one client address.

The admin's side of a person's request to have their data erased (docs/privacy.md); the command
line's is `flask privacy erase-address`. `DELETE /api/reviews/<id>` (reviews.py) deletes one
review. Both leave an audit line naming the admin token's caller (`admin_actor`).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields

from brandpulse.api.endpoints.field_types import JsonBoolean, StrictSchema
from brandpulse.api.endpoints.parsing import BODY, BODY_ERRORS, Blueprint
from brandpulse.api.security import client_ip
from brandpulse.api.storage import erasure
from brandpulse.api.storage.db import open_connection
from brandpulse.api.storage.tables import IP_MAX

bp = Blueprint("privacy", __name__, url_prefix="/api", description="Personal data (admin).")
bp.before_request(open_connection)


def admin_actor() -> str:
    """Who an admin request's audit line names: the token, and the address that used it."""
    return f"admin token from {client_ip() or 'an unknown address'}"


class IPAddress(fields.String):
    """An IPv4 or IPv6 address as written (no blanks, no IPv6 zone), documented as one of the two
    formats, so that a client (or a fuzzer) knows what is valid before it asks."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if text != text.strip() or "%" in text:
            raise ma.ValidationError("Not an IPv4 or IPv6 address.")
        try:
            return erasure.parse_address(text)
        except erasure.NotAnAddress:
            raise ma.ValidationError("Not an IPv4 or IPv6 address.") from None


class EraseRequestSchema(StrictSchema):
    """Which client to erase, and how."""

    address = IPAddress(
        required=True,
        validate=ma.validate.Length(max=IP_MAX),
        metadata={
            "description": "An IPv4 or IPv6 address. An IPv6 address stands for its /64, as the "
            "API counts clients.",
            "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}],
            "example": "203.0.113.7",
        },
    )
    delete_reviews = JsonBoolean(
        load_default=False,
        metadata={
            "description": "Delete the client's reviews. False (default): keep them, with their IP "
            "address, user agent and client pseudonym cleared."
        },
    )


class ErasureSchema(ma.Schema):
    """What an erasure did."""

    reviews_deleted = fields.Integer(required=True)
    reviews_cleared = fields.Integer(
        required=True, metadata={"description": "Reviews kept with their personal fields cleared."}
    )
    idempotency_keys_deleted = fields.Integer(required=True)


@bp.route("/privacy/erase", methods=["POST"])
@bp.admin(*BODY_ERRORS)
@bp.arguments(EraseRequestSchema, location=BODY)
@bp.response(200, ErasureSchema)
def erase_address(args: dict[str, Any]) -> erasure.Erasure:
    """Erase everything stored of the client at `address`: its reviews (also those whose address
    has already expired, found by client pseudonym) are deleted or stripped of their personal
    fields, and their idempotency keys deleted (admin). Logs keep no address (docs/privacy.md)."""
    return erasure.erase_client(args["address"], delete_reviews=args["delete_reviews"], actor=admin_actor())
