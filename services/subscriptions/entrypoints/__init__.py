"""Subscriptions' internal HTTP API (service token): the Flask app, one blueprint per resource, the
request schemas and answer shapes, thin."""
