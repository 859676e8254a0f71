"""Portico package."""
