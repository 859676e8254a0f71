"""Part of the gateway."""
