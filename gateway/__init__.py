"""The gateway: the public API (/api/v1) and the portal's web pages, composed from the services, with
sessions, rate limits and the projections it authorises from."""
