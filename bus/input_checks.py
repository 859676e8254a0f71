"""Input no part can store or compare, refused before any handler: 422 naming the field.

Every part (the gateway and each service's internal API) reads its JSON body and query string
through these checks: a lone UTF-16 surrogate or a NUL character in a text, an integer beyond
64 bits, a number that is not finite (NaN, Infinity, 1e400), a body that is not a JSON object,
or one nested too deeply is answered 422 with `errors` naming where it is (`rows.2.email`), and
nothing is written. The body parsed here is the one the handler reads (it is not parsed twice).
"""

from __future__ import annotations

import json
import math
from typing import Any

from flask import Flask, request

from bus.http import Problem
from bus.i18n import _l

MAX_INTEGER = 2**63 - 1  # what SQLite and PostgreSQL's bigint hold
MAX_DEPTH = 32
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

SURROGATE = _l(
    "This text holds an unpaired UTF-16 surrogate, which is not a character; send valid"
    " Unicode text.",
    code="validation.bad_text",
)
NUL = _l(
    "This text holds a NUL character (U+0000), which cannot be stored; remove it.",
    code="validation.bad_text",
)
TOO_BIG = _l(
    "This number is outside the range accepted here (-{most} to {most}).",
    code="validation.number_out_of_range",
    most=MAX_INTEGER,
)
NOT_FINITE = _l(
    "This number is not finite (NaN or Infinity); send an ordinary number.",
    code="validation.number_not_finite",
)
TOO_DEEP = _l(
    "The body is nested more than {most} levels deep; send a flatter JSON object.",
    code="request.too_deep",
    most=MAX_DEPTH,
)


class _NotANumber(float):
    """NaN, Infinity and -Infinity as parsed, so the check can say in which field they were."""


def install_input_checks(app: Flask) -> None:
    """Refuse (422) a query string or JSON body holding what no part can store, before the handler."""
    app.before_request(check_request_input)


def check_request_input() -> None:
    errors: dict[str, list[str]] = {}
    for name, values in request.args.lists():
        if (problem := text_problem(name)) is not None:
            errors.setdefault(printable(name), []).append(problem)
            continue
        for value in values:
            if (problem := text_problem(value)) is not None:
                errors.setdefault(name, []).append(problem)
    if errors:
        raise invalid(errors, "query")
    body = json_body()
    if body is not None:
        errors = value_problems(body)
        if errors:
            raise invalid(errors, "body")


def json_body() -> Any:
    """The parsed JSON body (also kept for request.get_json), or None when there is none to check."""
    if request.method in ("GET", "HEAD", "OPTIONS") or request.mimetype in FORM_TYPES:
        return None
    data = request.get_data(cache=True)
    if not data:
        return None
    try:
        value = json.loads(data, parse_constant=_NotANumber)
    except RecursionError:
        raise Problem(422, "Unprocessable Content", TOO_DEEP, errors={"body": [TOO_DEEP]}) from None
    except ValueError:
        return None  # not JSON at all: each part answers that in its own words (400 or 422)
    if (
        request.is_json
    ):  # what request.get_json() answers from now on (other types keep their own rules)
        request._cached_json = (value, value)
    if not isinstance(value, dict) and request.is_json:
        kind = {list: "an array", str: "a string", bool: "true or false", type(None): "null"}.get(
            type(value), "a number"
        )
        message = _l(
            'Send the body as a JSON object ({{"field": value, ...}}), not {kind}.',
            code="request.not_an_object",
            kind=kind,
        )
        raise Problem(422, "Unprocessable Content", message, errors={"body": [message]})
    return value


def value_problems(body: Any) -> dict[str, list[str]]:
    """{"field.path": [message]} for every value no part can store (iteratively: no recursion limit)."""
    errors: dict[str, list[str]] = {}
    stack: list[tuple[str, Any, int]] = [("", body, 0)]
    while stack:
        path, value, depth = stack.pop()
        if depth > MAX_DEPTH:
            errors.setdefault(path or "body", []).append(TOO_DEEP)
            continue
        problem = None
        if isinstance(value, str):
            problem = text_problem(value)
        elif isinstance(value, _NotANumber) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            problem = NOT_FINITE
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            problem = TOO_BIG
        elif isinstance(value, dict):
            for key, item in value.items():
                if (key_problem := text_problem(key)) is not None:
                    errors.setdefault(join(path, printable(key)), []).append(key_problem)
                else:
                    stack.append((join(path, key), item, depth + 1))
        elif isinstance(value, list):
            stack.extend(
                (join(path, str(index)), item, depth + 1) for index, item in enumerate(value)
            )
        if problem is not None:
            errors.setdefault(path or "body", []).append(problem)
    return errors


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def printable(text: str) -> str:
    """A field name fit to echo back: NUL and surrogates escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def invalid(errors: dict[str, list[str]], where: str) -> Problem:
    fields = ", ".join(sorted(errors))
    return Problem(
        422,
        "Unprocessable Content",
        _l(
            "Some parameters cannot be accepted ({fields}); see errors for what to change.",
            fields=fields,
        )
        if where == "query"
        else _l(
            "Some fields cannot be accepted ({fields}); see errors for what to change.",
            fields=fields,
        ),
        errors=errors,
    )
