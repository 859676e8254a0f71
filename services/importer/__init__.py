"""The importer service: bulk imports of users from CSV files, their jobs, row results, anomalies
and reports (README.md is its map)."""
