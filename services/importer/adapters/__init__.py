"""The importer's adapters: its tables and repository, its client of identity, and the wake-up of
the job runners when an upload commits."""
