"""Subscriptions' handlers: catalogs, settings, a subscription's lifecycle, the users projection,
the expiry job, reads, and the events it publishes."""
