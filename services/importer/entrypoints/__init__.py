"""The importer's internal HTTP API (uploads, jobs, reports; service token): the Flask app, its
blueprint and its errors, thin."""
