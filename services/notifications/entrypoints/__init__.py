"""Notifications' internal HTTP API (the mailbox and the delivery log; service token): the Flask
app and its blueprint, thin."""
