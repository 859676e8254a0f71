"""Identity's rules in plain Python, no I/O: user statuses, password policies and hashing,
lockout, link tokens, field checks, and the records the service works with."""
