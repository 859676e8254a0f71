"""The shared kit of every part, the only code two parts share: message envelope and contracts,
outbox relay, idempotent consumer, unit of work, part bootstrap (bus.part), HTTP and bus helpers."""
