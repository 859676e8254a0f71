"""Part of the subscriptions service."""
