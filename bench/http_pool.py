"""What httpx alone would cost in place of the gateway's hand-written connection pool.

The gateway's PooledServiceClient (gateway/adapters/services.py) sends its GETs and JSON writes
over http.client keep-alive connections it pools itself, and leaves other calls to httpx. This
measures the client's CPU per call of each road against one local HTTP/1.1 keep-alive server in
a process of its own (so its CPU is not counted). Run: `python -m bench.http_pool [CALLS]`.
"""

from __future__ import annotations

import subprocess
import sys
import time

from bus.http_client import ServiceClient
from gateway.adapters.services import PooledServiceClient

SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps({"id": "u1", "email": "zoe@exemple.fr", "roles": ["member"]}).encode()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def cpu_per_call(client: ServiceClient, calls: int) -> float:
    """Microseconds of this process's CPU per GET (after a warm-up)."""
    for _ in range(50):
        client.get("/users/u1")
    started = time.process_time()
    for _ in range(calls):
        client.get("/users/u1")
    return 1e6 * (time.process_time() - started) / calls


def main(argv: list[str]) -> None:
    calls = int(argv[0]) if argv else 3000
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        base_url = f"http://127.0.0.1:{server.stdout.readline().strip()}"
        pooled = PooledServiceClient("identity", base_url=base_url, token="t" * 32)
        plain = ServiceClient("identity", base_url=base_url, token="t" * 32)
        hand = cpu_per_call(pooled, calls)
        library = cpu_per_call(plain, calls)
        print(
            f"{calls} GETs, client CPU per call: hand-written pool {hand:.0f} µs, "
            f"httpx {library:.0f} µs ({library / hand:.1f}x)"
        )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main(sys.argv[1:])
