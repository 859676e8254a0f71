"""The gateway's public API: the Flask app (api.py), one blueprint per resource, the OpenAPI
document, and the errors mapping a service's answers to problem+json."""
