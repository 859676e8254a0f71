"""The subscriptions service: service definitions, each account's catalog and settings, and
subscriptions through their lifecycle (README.md is its map)."""
