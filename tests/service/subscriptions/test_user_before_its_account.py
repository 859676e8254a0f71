"""A user whose account's creation is still being handled by the other replica waits for it.

Found by the chaos test: with two subscriptions workers, one handled identity.account.created
in a batch that took seconds under load while the other got the account's first user; that
message was tried PORTICO_MAX_ATTEMPTS times within half a second, dead-lettered, and the user
was never known to subscriptions. A message that waits for another (bus.consumer.NotYet) is now
tried again without counting an attempt, for up to NOT_YET_SECONDS after it occurred.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from bus.consumer import NOT_YET_SECONDS
from bus.envelope import Envelope

from .conftest import user_data


def test_a_user_of_an_account_not_known_yet_waits_past_the_attempts_then_is_welcomed(
    part, feed, make_account
):
    account = {"id": str(uuid.uuid4())}
    event = Envelope(type="identity.user.created", data=user_data(account), producer="identity")
    processor = part.processor()
    last_attempt = processor.max_attempts - 1

    waiting = processor.process(event.to_json(), attempts=last_attempt)
    assert (waiting.kind, waiting.counted) == ("retry", False)  # not dead-lettered, not counted

    feed(
        "identity.account.created",
        {
            "account_id": account["id"],
            "number": "990001",
            "name": "Late Account",
            "parent_id": None,
            "relation": None,
        },
    )
    assert processor.process(event.to_json(), attempts=last_attempt).kind == "handled"


def test_a_user_whose_account_never_came_is_dead_lettered_once_it_waited_long_enough(part):
    account = {"id": str(uuid.uuid4())}
    long_ago = datetime.now(UTC) - timedelta(seconds=NOT_YET_SECONDS + 1)
    event = Envelope(
        type="identity.user.created",
        data=user_data(account),
        producer="identity",
        occurred_at=long_ago.isoformat().replace("+00:00", "Z"),
    )
    processor = part.processor()
    outcome = processor.process(event.to_json(), attempts=processor.max_attempts - 1)
    assert outcome.kind == "dead" and "not known yet" in outcome.reason
