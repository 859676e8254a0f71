"""A raw asyncio SMTP server for the benchmarks: it accepts every e-mail and keeps only counts.

aiosmtpd parses every command and keeps every message; at thousands of e-mails a second that
costs more CPU than the sender being measured. This one answers the few commands a client
sends (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), throws the data away and counts the e-mails.
It runs in a process of its own, so that its CPU time is its own:

    python -m bench.smtp_sink PORT      prints "ready"; then, for each line read on stdin,
                                        "count" or "stop", one JSON line {count, last, cpu}
                                        (last: time.monotonic() of the last e-mail accepted;
                                        cpu: the process's CPU seconds); "stop" then exits.

`SmtpSink` starts one and asks it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from typing import Any

EHLO = b"250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 33554432\r\n"
END_OF_DATA = b"\r\n.\r\n"


class Counter:
    count = 0
    last = 0.0


class Session(asyncio.Protocol):
    """One client connection: commands line by line, then the data until <CRLF>.<CRLF>."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.in_data = False
        self.transport.write(b"220 sink.bench ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(END_OF_DATA)
                if end < 0:
                    self.buffer = self.buffer[-4:]  # the end may come split over two reads
                    break
                self.buffer = self.buffer[end + len(END_OF_DATA) :]
                self.in_data = False
                Counter.count += 1
                Counter.last = time.monotonic()
                replies.append(b"250 2.0.0 accepted\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            verb = self.buffer[:4].upper()
            self.buffer = self.buffer[end + 2 :]
            if verb == b"EHLO":
                replies.append(EHLO)
            elif verb == b"DATA":
                replies.append(b"354 end with <CRLF>.<CRLF>\r\n")
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # an empty message ends at once
            elif verb == b"QUIT":
                self.transport.write(b"".join(replies) + b"221 bye\r\n")
                self.transport.close()
                return
            elif verb in (b"HELO", b"MAIL", b"RCPT", b"RSET", b"NOOP"):
                replies.append(b"250 OK\r\n")
            else:
                replies.append(b"502 5.5.2 not implemented\r\n")
        if replies:
            self.transport.write(b"".join(replies))


def state() -> str:
    return json.dumps({"count": Counter.count, "last": Counter.last, "cpu": time.process_time()})


def serve(port: int) -> None:
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(Session, "127.0.0.1", port))
    done = threading.Event()

    def answer() -> None:
        for line in sys.stdin:
            command = line.strip()
            print(state(), flush=True)
            if command == "stop":
                break
        done.set()
        loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=answer, daemon=True).start()
    print("ready", flush=True)
    loop.run_forever()
    server.close()


class SmtpSink:
    """A sink process on a free port: `url`, `state()` ({count, last, cpu}), `stop()`."""

    def __enter__(self) -> SmtpSink:
        from tests.service.notifications.smtp_sink import free_port

        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.smtp_sink", str(self.port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the SMTP sink did not start")
        self._lock = threading.Lock()
        return self

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def _ask(self, command: str) -> dict[str, Any]:
        with self._lock:
            assert self.process.stdin is not None and self.process.stdout is not None
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
            return json.loads(self.process.stdout.readline())

    def state(self) -> dict[str, Any]:
        return self._ask("count")

    def stop(self) -> dict[str, Any]:
        final = self._ask("stop")
        self.process.wait(30)
        return final

    def __exit__(self, *exc_info: object) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(30)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
