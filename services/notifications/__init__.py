"""The notifications service: who gets which e-mail when something happens elsewhere, the durable
outgoing queue, SMTP delivery and the built-in mailbox (README.md is its map)."""
