"""The gateway's rules in plain Python: sessions, holdings, rate-limit windows, gated content."""
