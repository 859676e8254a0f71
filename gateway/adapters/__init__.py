"""The gateway's adapters: its tables, the request path's direct reads (caller_reader), and its
clients of the services and of the back office."""
