"""The "address already taken" answers, limited per caller: they tell whether an address has an account.

Creating a user and changing an e-mail address answer 409 when the address is already a login. So
that a signed-in caller cannot use them to learn which addresses have accounts, each such 409 is
counted against the caller (PORTICO_RATE_ADDRESS_TAKEN_PER_CALLER, default 10 per 15 minutes); once
the limit is used up, the caller's next attempts with an address are 429 with Retry-After until the
window ends, before any service is asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bus.http import Problem
from bus.i18n import _l
from gateway.entrypoints.context import caller, gw
from gateway.entrypoints.errors import TooManyRequests
from gateway.service_layer import ratelimit


@contextmanager
def limit_taken_answers(gives_address: bool = True) -> Iterator[None]:
    """Refuse (429) once the caller's taken answers are used up; count each 409 the block raises."""
    if not gives_address:
        yield
        return
    gateway = gw()
    limit, key = gateway.config.address_taken_per_caller, f"address-taken:user:{caller().user_id}"
    wait = ratelimit.waiting(gateway.part, key, limit, gateway.now())
    if wait is not None:
        raise TooManyRequests(
            _l(
                "Too many of your requests named an address that already has an account"
                " ({count} in {minutes} minutes); try again in {wait} seconds.",
                code="rate_limited.address_taken",
                count=limit.count,
                minutes=limit.seconds // 60,
                wait=wait,
            ),
            wait,
        )
    try:
        yield
    except Problem as problem:
        if problem.status == 409:
            ratelimit.hit(gateway.part, key, limit, gateway.now())
        raise
