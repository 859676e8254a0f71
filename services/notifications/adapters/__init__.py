"""Notifications' adapters: its tables, the repository that turns their rows into
`domain/records.py` records, and the SMTP sender."""
