"""Notifications' adapters: its tables, the repository that turns their rows into
`domain/records.py` records, the SMTP sender and the bytes it sends (mime.py), and the gauges
read at scrape time."""
