"""Subscriptions' adapters: its tables and the repositories that turn their rows into
`domain/records.py` records."""
