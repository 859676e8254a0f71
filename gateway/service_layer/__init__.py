"""The gateway's handlers: sessions, rate limits, access from the projections, the projections fed
by events, read-your-writes, and the dashboard's fan-out."""
