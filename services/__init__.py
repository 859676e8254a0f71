"""The four services, each its own package with its own database: identity, subscriptions,
notifications and importer. None imports another; they meet on the bus (`bus/`)."""
