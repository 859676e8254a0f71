"""Notifications' handlers: the recipients projection, event to outgoing e-mails, the delivery loop,
the retention sweep and the API's read models."""
