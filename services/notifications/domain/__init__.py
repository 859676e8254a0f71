"""Notifications' rules in plain Python, no I/O: the template catalog, rendering and MIME assembly,
dates, recipients and Message-IDs, and the records the service works with."""
