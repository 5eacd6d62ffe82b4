"""Personal data with a lifetime: addresses expire, a review can be deleted, a client erased.

A stored review holds three personal fields: its IP address and user agent (kept
PERSONAL_DATA_RETENTION_DAYS, to investigate abuse) and its client pseudonym (the keyed hash of
the client's network, `pseudonyms.py`, kept with the review: the retrain's per-client filters
count it, and an erasure by address finds the review through it once the address is gone). An
idempotency key's stored answer repeats the review it stored, so the key goes with the review.

- `expire_personal_data`: clears the address and user agent of older reviews (`flask privacy
  expire`, daily on a schedule);
- `delete_review`: one review and its idempotency keys (`DELETE /api/reviews/<id>`);
- `erase_client`: every review of one client, deleted or stripped of its personal fields, and
  their idempotency keys (`POST /api/privacy/erase`, `flask privacy erase-address`).

Each works in batches, one transaction per batch (locks are held briefly; an interrupted run
is finished by the next), is safe to repeat, and leaves an audit line on the `brandpulse.audit`
logger: who, what, how many (the log line's time is when). An erased address is never logged.
docs/privacy.md is the operator's side.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from brandpulse.api.pseudonyms import client_pseudonym
from brandpulse.api.storage.db import get_database
from brandpulse.api.storage.tables import IdempotencyKey, Review, utcnow

audit_log = logging.getLogger("brandpulse.audit")
BATCH = 1000  # reviews per transaction
COMMAND = "command"  # the actor of a command line run


class NotAnAddress(ValueError):
    """What was given to erase is no IPv4 or IPv6 address."""


@dataclass(frozen=True)
class Erasure:
    """What an erasure did."""

    reviews_deleted: int = 0
    reviews_cleared: int = 0  # kept, their address, user agent and pseudonym cleared
    idempotency_keys_deleted: int = 0

    def __add__(self, other: Erasure) -> Erasure:
        return Erasure(
            self.reviews_deleted + other.reviews_deleted,
            self.reviews_cleared + other.reviews_cleared,
            self.idempotency_keys_deleted + other.idempotency_keys_deleted,
        )


def audit(action: str, actor: str, **counts: int) -> None:
    """One audit line: `actor` (an admin token and its caller's address, or "command") did
    `action`, to `counts`."""
    figures = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in counts.items())
    audit_log.info("%s by %s: %s", action, actor, figures, extra={"action": action, "actor": actor, **counts})


def fill_missing_pseudonyms(batch: int = BATCH) -> int:
    """Give every review with an address and no pseudonym its pseudonym; the count.

    Only an API process older than schema version 6 stores such reviews (during a rolling
    upgrade), so this nearly always finds none (a partial index holds exactly those).
    """
    db = get_database()
    filled = last = 0
    while True:
        rows = list(
            Review.select(Review.id, Review.ip_address)
            .where(Review.client_pseudonym.is_null() & Review.ip_address.is_null(False) & (Review.id > last))
            .order_by(Review.id)
            .limit(batch)
            .tuples()
        )
        with db.atomic():
            for review_id, address in rows:
                pseudonym = client_pseudonym(address)
                if pseudonym is not None:
                    Review.update(client_pseudonym=pseudonym).where(Review.id == review_id).execute()
                    filled += 1
        if len(rows) < batch:
            return filled
        last = rows[-1][0]


def expire_personal_data(
    retention_days: int, actor: str = COMMAND, batch: int = BATCH, now: datetime | None = None
) -> int:
    """Clear the IP address and user agent of reviews older than `retention_days`; the count.

    The pseudonym stays (filled in first where an older API process left it out): the per-client
    filters and an erasure by address still find the review.
    """
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    holding = Review.ip_address.is_null(False) | Review.user_agent.is_null(False)
    db = get_database()
    cleared = 0
    while True:
        with db.atomic():
            rows = list(
                Review.select(Review.id, Review.ip_address, Review.client_pseudonym)
                .where((Review.created_at < cutoff) & holding)
                .limit(batch)
                .tuples()
            )
            for review_id, address, pseudonym in rows:
                if pseudonym is None and address:
                    pseudonym = client_pseudonym(address)
                    Review.update(client_pseudonym=pseudonym).where(Review.id == review_id).execute()
            ids = [row[0] for row in rows]
            if ids:
                Review.update(ip_address=None, user_agent=None).where(Review.id.in_(ids)).execute()
        cleared += len(ids)
        if len(rows) < batch:
            break
    audit("expire", actor, reviews_cleared=cleared, retention_days=retention_days)
    return cleared


def delete_review(review_id: int, actor: str) -> Erasure | None:
    """Delete one review and its idempotency keys; None when there is no such review."""
    with get_database().atomic():
        keys = IdempotencyKey.delete().where(IdempotencyKey.review == review_id).execute()
        deleted = Review.delete().where(Review.id == review_id).execute()
    if not deleted:
        return None
    erasure = Erasure(reviews_deleted=deleted, idempotency_keys_deleted=keys)
    audit(f"delete review {review_id}", actor, **asdict(erasure))
    return erasure


def parse_address(address: str) -> str:
    """`address` as a normal IPv4 or IPv6 address; `NotAnAddress` for anything else."""
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        raise NotAnAddress(f"{address!r} is not an IPv4 or IPv6 address") from None


def erase_client(address: str, *, delete_reviews: bool, actor: str, batch: int = BATCH) -> Erasure:
    """Erase everything stored of the client at `address` (an IPv6 address: its whole /64).

    Its reviews are found by pseudonym, so also those whose address has expired; they are
    deleted (`delete_reviews`) or kept with their address, user agent and pseudonym cleared (the
    text and rating stay, no longer tied to anyone). Their idempotency keys are deleted either
    way. `NotAnAddress` for text that is no address.
    """
    pseudonym = client_pseudonym(parse_address(address))
    fill_missing_pseudonyms()  # reviews an older API process stored without one
    db = get_database()
    total = Erasure()
    while True:
        with db.atomic():
            ids = [
                row[0]
                for row in Review.select(Review.id)
                .where(Review.client_pseudonym == pseudonym)
                .order_by(Review.id)
                .limit(batch)
                .tuples()
            ]
            if not ids:
                break
            keys = IdempotencyKey.delete().where(IdempotencyKey.review.in_(ids)).execute()
            if delete_reviews:
                done = Erasure(reviews_deleted=Review.delete().where(Review.id.in_(ids)).execute())
            else:
                personal = {Review.ip_address: None, Review.user_agent: None, Review.client_pseudonym: None}
                done = Erasure(reviews_cleared=Review.update(personal).where(Review.id.in_(ids)).execute())
            total += Erasure(idempotency_keys_deleted=keys) + done
        if len(ids) < batch:
            break
    audit("erase client address", actor, **asdict(total))
    return total
