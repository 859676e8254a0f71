"""`portico import FILE --account NUMBER [--dry-run]`: import users through the gateway's API.

Talks to the gateway (PORTICO_GATEWAY_URL, default http://127.0.0.1:8000) as an administrator
(PORTICO_IMPORT_EMAIL and PORTICO_IMPORT_PASSWORD: POST /api/v1/session, then Bearer) or, when
those are unset, as the vendor's operator (PORTICO_OPERATOR_TOKEN, through the operator's
import endpoints). Resolves the account number, uploads the file, follows the job (a progress
bar on a terminal, plain lines otherwise), then prints the summary and every anomaly.

Exit status: 0 every row imported (or would be, in a dry run); 1 rows were rejected or the job
failed; 2 the command could not run (usage, credentials, account, file-level errors, gateway).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

import httpx

OK, REJECTED, CANNOT_RUN = 0, 1, 2
INTERRUPTED = 130
DEFAULT_GATEWAY = "http://127.0.0.1:8000"
FINISHED = ("done", "failed")
POLL_SECONDS = (0.2, 0.5, 1.0)  # first polls quickly (small files), then once a second
PLAIN_EVERY_SECONDS = 5.0
BAR_WIDTH = 30


class CannotRun(Exception):
    """The import could not be started; the message says why and what to do."""


def main(
    args: argparse.Namespace,
    *,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run `portico import` with parsed arguments (`file`, `account`, `dry_run`); the keywords
    are for tests (another environment, streams, a transport to a fake gateway, no sleeping)."""
    command = ImportCommand(
        Path(args.file),
        str(args.account),
        bool(args.dry_run),
        env=os.environ if env is None else env,
        out=out or sys.stdout,
        err=err or sys.stderr,
        transport=transport,
        sleep=sleep,
    )
    return command.run()


class Gateway:
    """The gateway's public API, with the caller's Bearer token once known."""

    def __init__(self, base_url: str, transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=120, transport=transport)

    def authorise(self, token: str) -> None:
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CannotRun(
                f"The gateway at {self.base_url} cannot be reached ({exc or type(exc).__name__}). "
                "Start Portico, or set PORTICO_GATEWAY_URL to where it runs."
            ) from None

    def close(self) -> None:
        self.http.close()


class ImportCommand:
    def __init__(
        self,
        file: Path,
        account: str,
        dry_run: bool,
        *,
        env: Mapping[str, str],
        out: TextIO,
        err: TextIO,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.file, self.account, self.dry_run = file, account, dry_run
        self.env, self.out, self.err, self.sleep = env, out, err, sleep
        self.gateway = Gateway(env.get("PORTICO_GATEWAY_URL") or DEFAULT_GATEWAY, transport)
        self.imports_path = ""

    def run(self) -> int:
        try:
            self._check_file()
            self.imports_path = self._sign_in_and_find_account()
            job = self._upload()
            if job is None:
                return CANNOT_RUN
            try:
                job = self._follow(job)
            except KeyboardInterrupt:
                self._say(
                    f"\nStopped following. The import goes on in Portico (job {job['id']}); "
                    f"its progress: GET {self.imports_path}/{job['id']}",
                    self.err,
                )
                return INTERRUPTED
            return self._summarise(job)
        except CannotRun as exc:
            self._say(f"portico import: {exc}", self.err)
            return CANNOT_RUN
        finally:
            self.gateway.close()

    # -- steps -----------------------------------------------------------------------------

    def _check_file(self) -> None:
        if not self.file.is_file():
            raise CannotRun(f"There is no file {self.file}.")
        if not os.access(self.file, os.R_OK):
            raise CannotRun(f"The file {self.file} cannot be read (check its permissions).")

    def _sign_in_and_find_account(self) -> str:
        """Authenticate; answer the path of the account's imports."""
        email = self.env.get("PORTICO_IMPORT_EMAIL")
        password = self.env.get("PORTICO_IMPORT_PASSWORD")
        operator = self.env.get("PORTICO_OPERATOR_TOKEN")
        if email and password:
            return self._as_administrator(email, password)
        if email or password:
            raise CannotRun("Set both PORTICO_IMPORT_EMAIL and PORTICO_IMPORT_PASSWORD.")
        if operator:
            return self._as_operator(operator)
        raise CannotRun(
            "Say who imports: set PORTICO_IMPORT_EMAIL and PORTICO_IMPORT_PASSWORD (an "
            "administrator of the account), or PORTICO_OPERATOR_TOKEN (the vendor's operator)."
        )

    def _as_administrator(self, email: str, password: str) -> str:
        answer = self.gateway.call(
            "POST", "/api/v1/session", json={"email": email, "password": password}
        )
        if answer.status_code != 201:
            raise CannotRun(f"Signing in as {email} failed: {_detail(answer)}")
        session = answer.json()
        if session.get("password_change_required"):
            raise CannotRun(
                f"{email} must change their password first (sign in to the portal to do so)."
            )
        self.gateway.authorise(session["token"])
        for account in self._accounts():
            if str(account.get("number")) == self.account:
                return f"/api/v1/accounts/{quote(str(account['id']), safe='')}/imports"
        raise CannotRun(
            f"Account {self.account} is not among the accounts {email} administers or supervises."
        )

    def _accounts(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.gateway.call(
                "GET", "/api/v1/accounts", params={"page": page, "per_page": 200}
            )
            if answer.status_code != 200:
                raise CannotRun(f"The accounts could not be listed: {_detail(answer)}")
            body = answer.json()
            items = body if isinstance(body, list) else body.get("items", [])
            found += items
            if isinstance(body, list) or not items or len(found) >= int(body.get("total", 0)):
                return found
            page += 1

    def _as_operator(self, token: str) -> str:
        self.gateway.authorise(token)
        number = quote(self.account, safe="")
        answer = self.gateway.call("GET", f"/api/v1/operator/accounts/{number}")
        if answer.status_code == 401:
            raise CannotRun("The gateway refused PORTICO_OPERATOR_TOKEN.")
        if answer.status_code == 404:
            raise CannotRun(f"There is no account number {self.account}.")
        if answer.status_code != 200:
            raise CannotRun(f"Account {self.account} could not be read: {_detail(answer)}")
        return f"/api/v1/operator/accounts/{number}/imports"

    def _upload(self) -> dict[str, Any] | None:
        with self.file.open("rb") as stream:
            answer = self.gateway.call(
                "POST",
                self.imports_path,
                params={"dry_run": "true" if self.dry_run else "false"},
                files={"file": (self.file.name, stream, "text/csv")},
            )
        if answer.status_code == 202:
            job = answer.json()
            kind = "checked (dry run, nothing will be imported)" if self.dry_run else "imported"
            self._say(
                f"{self.file.name}: {job.get('rows', '?')} rows to be {kind}; job {job['id']}.",
                self.err,
            )
            return job
        if answer.status_code in (404, 405) and "/operator/" in self.imports_path:
            raise CannotRun(
                "This gateway has no operator import endpoint "
                f"(POST {self.imports_path}). Import as an administrator instead: set "
                "PORTICO_IMPORT_EMAIL and PORTICO_IMPORT_PASSWORD."
            )
        if answer.status_code in (413, 422):
            self._say(f"{self.file.name} cannot be imported; nothing was imported.", self.out)
            for message in _messages(answer):
                self._say(f"  {message}", self.out)
            return None
        raise CannotRun(f"The upload failed: {_detail(answer)}")

    def _follow(self, job: dict[str, Any]) -> dict[str, Any]:
        progress = Progress(self.err, self.dry_run)
        polls = 0
        while job.get("status") not in FINISHED:
            self.sleep(POLL_SECONDS[min(polls, len(POLL_SECONDS) - 1)])
            polls += 1
            answer = self.gateway.call("GET", f"{self.imports_path}/{job['id']}")
            if answer.status_code != 200:
                raise CannotRun(f"The import's progress could not be read: {_detail(answer)}")
            job = answer.json()
            progress.show(job)
        progress.end()
        return job

    def _summarise(self, job: dict[str, Any]) -> int:
        rows, rejected = job.get("rows") or 0, job.get("rejected") or 0
        name = job.get("filename") or self.file.name
        if job["status"] == "failed":
            self._say(f"{name}: the import failed. {job.get('reason') or ''}".rstrip(), self.out)
            self._say(
                f"  {job.get('created') or 0} users were created before it stopped.", self.out
            )
        elif self.dry_run:
            would = job.get("would_create")
            would = rows - rejected if would is None else would
            self._say(
                f"{name} (dry run): {_count(rows, 'row')}; {_count(would, 'user')} would be "
                f"created, {_count(rejected, 'row')} rejected. Nothing was imported.",
                self.out,
            )
        else:
            self._say(
                f"{name}: {_count(rows, 'row')}; {_count(job.get('created') or 0, 'user')} "
                f"created, {_count(rejected, 'row')} rejected.",
                self.out,
            )
        anomalies = job.get("anomalies") or []
        if anomalies:
            self._say(f"Anomalies ({len(anomalies)}):", self.out)
            for anomaly in anomalies:
                field = anomaly.get("field") or "line"
                self._say(
                    f"  line {anomaly.get('line')}, {field}: {anomaly.get('message')}", self.out
                )
        return REJECTED if job["status"] == "failed" or rejected or anomalies else OK

    def _say(self, text: str, stream: TextIO) -> None:
        print(text, file=stream, flush=True)


class Progress:
    """A progress bar on a terminal; otherwise a plain line when something changed, at most
    every few seconds."""

    def __init__(self, stream: TextIO, dry_run: bool) -> None:
        self.stream = stream
        self.dry_run = dry_run
        self.tty = _is_tty(stream)
        self.last_line = ""
        self.last_at = float("-inf")
        self.drawn = False

    def show(self, job: dict[str, Any]) -> None:
        rows = max(int(job.get("rows") or 0), 1)
        processed = min(int(job.get("processed") or 0), rows)
        rejected = int(job.get("rejected") or 0)
        if self.dry_run:
            would = job.get("would_create")
            counts = f"would create {processed - rejected if would is None else would}"
        else:
            counts = f"created {job.get('created') or 0}"
        text = f"{processed}/{rows} rows  {counts}  rejected {rejected}"
        if self.tty:
            filled = BAR_WIDTH * processed // rows
            bar = "#" * filled + "." * (BAR_WIDTH - filled)
            self.stream.write(f"\r[{bar}] {100 * processed // rows:3d}%  {text}  ")
            self.stream.flush()
            self.drawn = True
            return
        now = time.monotonic()
        finished = job.get("status") in FINISHED
        if text != self.last_line and (finished or now - self.last_at >= PLAIN_EVERY_SECONDS):
            print(f"{job.get('status')}: {text}", file=self.stream, flush=True)
            self.last_line, self.last_at = text, now

    def end(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    return f"{answer.status_code} {detail or answer.reason_phrase}"


def _messages(answer: httpx.Response) -> list[str]:
    try:
        body = answer.json()
    except ValueError:
        return [_detail(answer)]
    if not isinstance(body, dict):
        return [_detail(answer)]
    errors = body.get("errors") or {}
    messages = [
        m for values in errors.values() for m in (values if isinstance(values, list) else [values])
    ]
    return [str(m) for m in messages] or [str(body.get("detail") or _detail(answer))]
