"""Part of the importer service."""
