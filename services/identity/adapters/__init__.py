"""Identity's adapters: its tables and the repository that turns their rows into
`domain/records.py` records (sign-ins and bulk user reads in statements built once)."""
