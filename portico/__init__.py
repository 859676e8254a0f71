"""The `portico` command: run (embedded mode), serve and worker (one part each), demo data, imports
from the command line, and the list of parts they start."""
