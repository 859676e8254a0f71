"""The subscriptions service's rules in plain Python: definitions, lifecycle, admin and catalog."""
