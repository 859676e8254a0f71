"""Service definitions shipped as data (services.json)."""
