"""Identity's internal HTTP API (called by the gateway and the importer with the service token):
the Flask app and its blueprints, thin."""
