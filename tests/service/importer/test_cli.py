"""`portico import`: against a fake gateway that forwards to the real importer service."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import httpx
import pytest
from flask import Flask, jsonify, request

from portico import cli, importcli
from tests.service.importer.conftest import (
    CORPUS,
    Api,
    FakeIdentity,
    FakeIdentityClient,
    csv_bytes,
    run_jobs,
    user_lines,
)

NUMBER = "90293531"
TOKEN, OPERATOR = "session-token", "operator-token"


class FakeGateway:
    """The gateway's routes that the command uses; each poll lets the importer work a step."""

    def __init__(self, part, account: str, operator_imports: bool = True) -> None:
        self.part, self.account = part, account
        self.api, self.identity = Api(part), FakeIdentity(part)
        part.identity = FakeIdentityClient(taken={"claire.martin1@example.com"})
        self.app = Flask("fake-gateway")
        self.polls = 0
        self._routes(operator_imports)

    def transport(self) -> httpx.WSGITransport:
        return httpx.WSGITransport(app=self.app)

    def _routes(self, operator_imports: bool) -> None:
        app = self.app

        def bearer() -> str:
            return request.headers.get("Authorization", "").removeprefix("Bearer ")

        @app.post("/api/v1/session")
        def session():
            body = request.get_json()
            if (body["email"], body["password"]) != ("admin@example.com", "secret"):
                return jsonify(detail="The e-mail address or the password is wrong."), 401
            return jsonify(
                token=TOKEN, csrf_token="x", user={}, password_change_required=False
            ), 201

        @app.get("/api/v1/accounts")
        def accounts():
            assert bearer() == TOKEN
            return jsonify(
                items=[{"id": self.account, "number": NUMBER, "name": "RETAIL IT"}],
                page=1,
                per_page=200,
                total=1,
            )

        @app.get("/api/v1/operator/accounts/<number>")
        def operator_account(number):
            if bearer() != OPERATOR:
                return jsonify(detail="operator token needed"), 401
            if number != NUMBER:
                return jsonify(detail="no such account"), 404
            return jsonify(id=self.account, number=NUMBER)

        def upload():
            file = request.files["file"]
            answer = self.api.upload(
                self.account,
                file.read(),
                filename=file.filename,
                dry_run=request.args.get("dry_run"),
            )
            return answer.get_json(), answer.status_code

        def job(job_id):
            self.polls += 1
            run_jobs(self.part)
            self.identity.answer(limit=1)
            answer = self.api.job(self.account, job_id)
            return answer.get_json(), answer.status_code

        @app.post(f"/api/v1/accounts/{self.account}/imports")
        def admin_upload():
            assert bearer() == TOKEN
            return upload()

        @app.get(f"/api/v1/accounts/{self.account}/imports/<job_id>")
        def admin_job(job_id):
            assert bearer() == TOKEN
            return job(job_id)

        if operator_imports:

            @app.post(f"/api/v1/operator/accounts/{NUMBER}/imports")
            def operator_upload():
                assert bearer() == OPERATOR
                return upload()

            @app.get(f"/api/v1/operator/accounts/{NUMBER}/imports/<job_id>")
            def operator_job(job_id):
                return job(job_id)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


ADMIN_ENV = {
    "PORTICO_IMPORT_EMAIL": "admin@example.com",
    "PORTICO_IMPORT_PASSWORD": "secret",
    "PORTICO_GATEWAY_URL": "http://gateway.test",
}


@pytest.fixture
def gateway(make_part, account) -> FakeGateway:
    return FakeGateway(make_part(PORTICO_IMPORT_BATCH_SIZE=2), account)


def write(tmp_path: Path, content: bytes, name: str = "users.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def run(gateway, path, *, env=ADMIN_ENV, dry_run=False, account=NUMBER, err=None):
    out, err = io.StringIO(), err or io.StringIO()
    args = argparse.Namespace(file=str(path), account=account, dry_run=dry_run)
    code = importcli.main(
        args, env=env, out=out, err=err, transport=gateway.transport(), sleep=lambda seconds: None
    )
    return code, out.getvalue(), err.getvalue()


def test_a_clean_import_exits_0_with_its_summary(gateway, tmp_path) -> None:
    code, out, err = run(gateway, write(tmp_path, csv_bytes(user_lines(5))))

    assert code == 0, out + err
    assert "users.csv: 5 rows; 5 users created, 0 rows rejected." in out
    assert "Anomalies" not in out
    assert "5 rows to be imported; job " in err
    assert "done: 5/5 rows  created 5  rejected 0" in err  # plain lines, not a terminal
    assert "\r" not in err


def test_rejected_rows_exit_1_and_every_anomaly_is_printed(gateway, tmp_path) -> None:
    lines = [*user_lines(3), "M;Martin;Paul;not-an-address;;;fr-FR;2", "M;Martin;Paul"]
    gateway.identity.refuse[2] = ("last_name", "Refused by identity.")

    code, out, _ = run(gateway, write(tmp_path, csv_bytes(lines)))

    assert code == 1
    assert "5 rows; 2 users created, 3 rows rejected." in out
    assert "Anomalies (3):" in out
    assert "  line 2, last_name: Refused by identity." in out
    assert "  line 4, email: The e-mail address 'not-an-address' is not valid" in out
    assert "  line 5, line: This line has 3 columns" in out


@pytest.mark.parametrize("name", ["wrong_extension.txt", "utf16.csv", "empty.csv"])
def test_a_file_level_error_exits_2_and_says_why(gateway, tmp_path, name) -> None:
    code, out, _ = run(gateway, write(tmp_path, (CORPUS / name).read_bytes(), name))

    assert code == 2
    assert f"{name} cannot be imported; nothing was imported." in out
    assert len(out.splitlines()) >= 2


def test_a_dry_run_reports_what_would_happen(gateway, tmp_path) -> None:
    code, out, err = run(gateway, write(tmp_path, csv_bytes(user_lines(3))), dry_run=True)

    assert code == 1  # one address is already taken in the portal
    assert (
        "(dry run): 3 rows; 2 users would be created, 1 row rejected. Nothing was imported." in out
    )
    assert "line 2, email: This address is already used in the portal." in out
    assert "checked (dry run, nothing will be imported)" in err
    assert gateway.identity.commands == []


def test_the_progress_bar_is_drawn_on_a_terminal(make_part, account, tmp_path) -> None:
    gateway = FakeGateway(make_part(PORTICO_IMPORT_BATCH_SIZE=1), account)
    terminal = Terminal()

    code, _, err = run(gateway, write(tmp_path, csv_bytes(user_lines(4))), err=terminal)

    assert code == 0
    assert gateway.polls >= 4
    assert "\r[" + "#" * 30 + "] 100%  4/4 rows  created 4  rejected 0" in err
    assert "%  1/4 rows" in err or "%  2/4 rows" in err
    assert err.endswith("\n")


def test_the_operator_imports_through_the_operator_endpoints(gateway, tmp_path) -> None:
    env = {"PORTICO_OPERATOR_TOKEN": OPERATOR, "PORTICO_GATEWAY_URL": "http://gateway.test"}
    code, out, _ = run(gateway, write(tmp_path, csv_bytes(user_lines(2))), env=env)
    assert code == 0 and "2 users created" in out


def test_without_the_operator_endpoint_the_operator_is_told_what_to_do(
    make_part, account, tmp_path
) -> None:
    gateway = FakeGateway(make_part(), account, operator_imports=False)
    env = {"PORTICO_OPERATOR_TOKEN": OPERATOR}
    code, _, err = run(gateway, write(tmp_path, csv_bytes(user_lines(2))), env=env)
    assert code == 2
    assert "no operator import endpoint" in err and "PORTICO_IMPORT_EMAIL" in err


@pytest.mark.parametrize(
    ("env", "account", "says"),
    [
        ({}, NUMBER, "Say who imports"),
        ({"PORTICO_IMPORT_EMAIL": "admin@example.com"}, NUMBER, "Set both"),
        (
            {**ADMIN_ENV, "PORTICO_IMPORT_PASSWORD": "wrong"},
            NUMBER,
            "Signing in as admin@example.com failed: 401",
        ),
        (ADMIN_ENV, "12345", "Account 12345 is not among the accounts"),
        ({"PORTICO_OPERATOR_TOKEN": "bad"}, NUMBER, "refused PORTICO_OPERATOR_TOKEN"),
        ({"PORTICO_OPERATOR_TOKEN": OPERATOR}, "12345", "There is no account number 12345"),
    ],
)
def test_what_prevents_the_import_exits_2_and_says_so(
    gateway, tmp_path, env, account, says
) -> None:
    code, _, err = run(gateway, write(tmp_path, csv_bytes(user_lines(1))), env=env, account=account)
    assert code == 2
    assert says in err


def test_a_missing_file_exits_2(gateway, tmp_path) -> None:
    code, _, err = run(gateway, tmp_path / "nowhere.csv")
    assert code == 2 and "There is no file" in err


def test_an_unreachable_gateway_exits_2(tmp_path) -> None:
    def refuse(request):
        raise httpx.ConnectError("connection refused", request=request)

    class Down:
        def transport(self):
            return httpx.MockTransport(refuse)

    code, _, err = run(Down(), write(tmp_path, csv_bytes(user_lines(1))))
    assert code == 2
    assert "cannot be reached" in err and "PORTICO_GATEWAY_URL" in err


def test_the_command_is_wired_into_portico(monkeypatch, tmp_path) -> None:
    seen = {}
    monkeypatch.setattr(importcli, "main", lambda args: seen.setdefault("args", args) and 0)
    assert cli.main(["import", str(tmp_path / "a.csv"), "--account", NUMBER, "--dry-run"]) == 0
    assert (seen["args"].account, seen["args"].dry_run) == (NUMBER, True)
    with pytest.raises(SystemExit) as usage:
        cli.main(["import", "a.csv"])
    assert usage.value.code == 2
