"""The importer's message handlers, in one table: what happens on each message it consumes."""

from __future__ import annotations

from .answers import record_batch_result

EVENT_HANDLERS = {
    "identity.users.created": record_batch_result,
    "identity.users.batch_processed": record_batch_result,  # the answer before batch events
}
