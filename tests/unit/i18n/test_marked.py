"""No refusal is written as plain text: every message a problem answer carries is marked `_l`
(so that it is in the catalogs, and in French). A raise site that hands a literal or an f-string
to an error of the parts fails here, naming the file and line."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCES = ["bus", "gateway/entrypoints", "gateway/domain", "gateway/service_layer"] + [
    f"services/{part}/{room}"
    for part in ("identity", "subscriptions", "notifications", "importer")
    for room in ("domain", "service_layer", "entrypoints")
]
# Readers of the SCIM protocol are directories (programs): their errors follow RFC 7644.
NOT_FOR_PEOPLE = ("scim",)
# Errors that are never answered: the importer's job state machine refuses a bug, not a person.
INTERNAL = {("services/importer/domain/jobs.py", "InvalidTransition")}
# error class → the position of its message among the positional arguments
MESSAGE_AT = {
    "Problem": 2,
    "TooManyRequests": 0,
    "NotFound": 0,
    "Conflict": 0,
    "Gone": 0,
    "Locked": 0,
    "IdentityError": 0,
    "InvalidRequest": 0,
    "SessionEnded": 0,
    "AlreadySubscribed": 0,
    "InvalidTransition": 0,
    "LevelTooLow": 0,
    "InvalidExpiry": 0,
    "LastAdministrator": 0,
    "NeverAutomatic": 0,
    "InvalidFilter": 0,
    "InvalidPagination": 0,
    "ActivationRefused": 1,
    "SignInRefused": 1,
    "TransitionRefused": 1,
    "InvalidField": 1,
    "FileRejected": 1,
}


def plain_text(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr
    )


def unmarked(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        at = MESSAGE_AT.get(name or "")
        if at is None:
            continue
        messages = node.args[at:] if name == "FileRejected" else node.args[at : at + 1]
        where = str(path.relative_to(ROOT))
        if (where, name) not in INTERNAL and any(plain_text(message) for message in messages):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    return found


def test_every_refusal_is_marked_for_translation():
    paths = [
        path
        for source in SOURCES
        for path in sorted((ROOT / source).rglob("*.py"))
        if not any(word in str(path.relative_to(ROOT)) for word in NOT_FOR_PEOPLE)
    ]
    assert paths
    found = [site for path in paths for site in unmarked(path)]
    assert found == [], "mark these messages with bus.i18n._l (docs/developing.md): " + ", ".join(
        found
    )


def test_the_check_sees_a_plain_message(tmp_path):
    sample = ROOT / "tests" / "unit" / "i18n" / "test_marked.py"
    assert unmarked(sample) == []  # this file raises nothing
    tree = ast.parse('raise Conflict(f"{x} is taken")')
    call = tree.body[0].exc
    assert plain_text(call.args[0])
