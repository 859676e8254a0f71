"""OWASP ASVS 4.0.3 chapter V5 (validation, sanitisation, encoding): rows of docs/security.md that no
other test showed.

Parameter pollution through the gateway (fake services), injection attempts through the real portal
in one process (SQL in filters, template syntax and markup in names that e-mails carry), and a scan
of the code for dynamic execution, shell commands and unsafe deserialisers.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import pytest

from tests.security.asvs_kit import invite, mails_to, wait_for
from tests.security.real_portal import start_portal
from tests.service.gateway import conftest as gateway_kit
from tests.service.gateway.conftest import bearer

make_gateway, gw = gateway_kit.make_gateway, gateway_kit.gw  # the gateway tests' fixtures

ROOT = Path(__file__).resolve().parents[2]
CODE = ("bus", "gateway", "services", "portico", "deploy")


@pytest.fixture
def portal(tmp_path):
    instance = start_portal(tmp_path, f"asvs-v5-{time.monotonic_ns()}")
    yield instance
    instance.stop()


def test_v5_1_1_a_repeated_parameter_reaches_the_service_once_as_the_gateway_checked_it(gw):
    account = gw.account()
    admin = bearer(gw.sign_in(gw.user(account, admin=True)))
    gw.identity.on(
        "GET",
        "/internal/accounts/{account_id}/users",
        {"items": [], "page": 1, "per_page": 10, "total": 0},
    )

    answer = gw.client.get(
        f"/api/v1/accounts/{account}/users?per_page=10&per_page=100000&page=1&page=-5",
        headers=admin,
    )

    assert answer.status_code == 200, answer.get_json()
    sent = gw.identity.calls[-1]
    assert sent.path == f"/internal/accounts/{account}/users"
    assert sent.args.get("per_page") == "10" and sent.args.get("page") in (None, "1")


def test_v5_3_4_sql_in_a_filter_is_only_text_to_search_for(portal):
    claire = portal.admin()
    account = portal.accounts(claire)["90293531"]
    everyone = portal.client.get(
        f"/api/v1/accounts/{account}/users?per_page=200", headers=claire
    ).get_json()
    assert everyone["total"] >= 3

    for attack in (
        "' OR '1'='1",
        "x' OR 1=1 --",
        '") OR 1=1 --',
        "%' OR '%'='",
        "x'; DROP TABLE users; --",
    ):
        for name in ("name", "email", "function"):
            answer = portal.client.get(
                f"/api/v1/accounts/{account}/users",
                headers=claire,
                query_string={name: attack, "per_page": 200},
            )
            assert answer.status_code == 200, (name, attack, answer.get_json())
            assert answer.get_json()["total"] == 0, (name, attack)
    after = portal.client.get(
        f"/api/v1/accounts/{account}/users?per_page=200", headers=claire
    ).get_json()
    assert after["total"] == everyone["total"]


def test_v5_2_5_and_v5_3_1_names_reach_e_mails_as_text_not_as_template_or_markup(portal):
    user = invite(portal, first_name="{{ 'zqxj'|upper }}", last_name="O'Hara <b>ねこ</b>")

    mail = wait_for("the activation e-mail", lambda: mails_to(portal, user["email"]))[0]

    assert "{{ 'zqxj'|upper }}" in mail["text"] and "ZQXJ" not in mail["text"]
    assert "O'Hara <b>ねこ</b>" in mail["text"]  # the plain text keeps the name as typed (V5.3.2)
    assert "<b>ねこ</b>" not in mail["html"] and "&lt;b&gt;ねこ&lt;/b&gt;" in mail["html"]
    assert "ZQXJ" not in mail["html"] and "{{ &#39;zqxj&#39;|upper }}" in mail["html"]


def calls_in(path: Path) -> list[tuple[str, ast.Call]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = (
                func.id
                if isinstance(func, ast.Name)
                else func.attr
                if isinstance(func, ast.Attribute)
                else ""
            )
            owner = (
                func.value.id
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                else ""
            )
            found.append((f"{owner}.{name}" if owner else name, node))
    return found


def imports_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def is_fixed_text(node: ast.expr) -> bool:
    """A literal, or a module constant (NAME_IN_CAPITALS): never what a person typed."""
    return isinstance(node, ast.Constant) or (isinstance(node, ast.Name) and node.id.isupper())


def test_v5_2_4_v5_3_8_v5_5_3_no_dynamic_code_shell_or_unsafe_deserialiser_in_the_code():
    sources = [p for part in CODE for p in (ROOT / part).rglob("*.py") if ".venv" not in p.parts]
    assert len(sources) > 100
    problems = []
    for path in sources:
        where = path.relative_to(ROOT)
        unsafe_modules = imports_in(path) & {"pickle", "marshal", "shelve", "dill", "jsonpickle"}
        if unsafe_modules:
            problems.append(f"{where}: imports {sorted(unsafe_modules)}")
        for name, call in calls_in(path):
            line = f"{where}:{call.lineno}: {name}"
            if name in (
                "eval",
                "exec",
                "compile",
                "__import__",
                "os.system",
                "os.popen",
                "yaml.load",
                "yaml.unsafe_load",
            ):
                problems.append(line)
            if any(
                k.arg == "shell"
                and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in call.keywords
            ):
                problems.append(f"{line} with shell=")
            if name.rpartition(".")[2] in ("render_template_string", "from_string") and not (
                call.args and is_fixed_text(call.args[0])
            ):
                problems.append(f"{line} of a template that is not fixed text")
    assert not problems, "\n".join(problems)


def test_v5_5_4_the_pages_scripts_never_evaluate_text():
    scripts = list((ROOT / "gateway" / "static").glob("*.js"))
    assert scripts
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        for danger in (
            "eval(",
            "new Function",
            'setTimeout("',
            "setTimeout('",
            'setInterval("',
            "setInterval('",
            "document.write",
        ):  # JSON is read with JSON.parse or fetch's response.json()
            assert danger not in source, (script.name, danger)


def test_v5_4_2_every_log_message_is_a_constant_format_and_values_are_its_arguments():
    sources = [p for part in CODE for p in (ROOT / part).rglob("*.py")]
    levels = {"debug", "info", "warning", "error", "exception", "critical", "log"}
    seen, problems = 0, []
    for path in sources:
        for name, call in calls_in(path):
            owner, _, method = name.rpartition(".")
            if method in levels and owner in ("log", "logger", "logging", "LOG") and call.args:
                seen += 1
                message = call.args[1] if method == "log" and len(call.args) > 1 else call.args[0]
                if not isinstance(message, ast.Constant):
                    problems.append(
                        f"{path.relative_to(ROOT)}:{call.lineno}: {ast.unparse(message)[:60]}"
                    )
    assert seen > 20 and not problems, "\n".join(problems)
