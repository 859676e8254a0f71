"""The identity service: client accounts, users, credentials, link tokens, lockouts and the audit
trail (README.md is its map)."""
