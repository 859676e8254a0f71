"""Part of the identity service."""
