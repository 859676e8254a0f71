"""Part of the notifications service."""
