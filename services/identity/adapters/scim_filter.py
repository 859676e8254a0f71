"""SCIM filters (RFC 7644 3.4.2.2) as SQL on the users table: the filter is parsed by
scim2-filter-parser and its tree is turned into one SQLAlchemy where-clause, so the database
does the filtering (never Python over the whole account). Also the SCIM attributes a list may be
sorted by.

Mapping (docs/api.md, "SCIM"): userName and emails.value = the e-mail; name.familyName,
name.givenName, name.honorificPrefix = last name, first name, title; name.formatted and
displayName = "first last"; externalId = the directory's id (case exact); title = the function; preferredLanguage = the language;
phoneNumbers = the office (type work) and mobile (type mobile) numbers; active = not
deactivated; meta.created / meta.lastModified; id; the Portico extension's passwordLevel.
Strings compare without regard to case (caseExact false), as the User schema says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from scim2_filter_parser import ast
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from bus.contracts.vocabulary import PASSWORD_LEVEL_NAMES
from bus.login import NotAnAddress, login_key
from services.identity.adapters.orm import users
from services.identity.domain.model import UserStatus

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
PORTICO = "urn:portico:params:scim:schemas:extension:portico:2.0:User"
MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 12  # nested groups, negations and logical operators: deeper is refused
LEVELS = {name: level for level, name in PASSWORD_LEVEL_NAMES.items()}


class FilterRefused(ValueError):
    """A filter that cannot be read or applied; the message says why, for a person."""


Kind = str  # "string", "boolean", "datetime", "level"


@dataclass(frozen=True)
class Slot:
    """One value of a multi-valued attribute: its column, its `type` and whether it is primary."""

    column: sa.ColumnElement[str]
    type: str
    primary: bool


def _display() -> sa.ColumnElement[str]:
    return users.c.first_name + " " + users.c.last_name


# Single-valued attributes (lower-cased full paths) -> (SQL expression, kind)
SINGLE: dict[str, tuple[Callable[[], sa.ColumnElement], Kind]] = {
    "id": (lambda: users.c.id, "exact"),
    "externalid": (lambda: users.c.external_id, "exact"),
    "username": (lambda: users.c.email, "string"),
    "name.familyname": (lambda: users.c.last_name, "string"),
    "name.givenname": (lambda: users.c.first_name, "string"),
    "name.honorificprefix": (lambda: users.c.title, "string"),
    "name.formatted": (_display, "string"),
    "displayname": (_display, "string"),
    "title": (lambda: users.c.function, "string"),
    "preferredlanguage": (lambda: users.c.language, "string"),
    "active": (lambda: users.c.status, "active"),
    "meta.created": (lambda: users.c.created_at, "datetime"),
    "meta.lastmodified": (lambda: users.c.updated_at, "datetime"),
    "passwordlevel": (lambda: users.c.password_level, "level"),
}
MULTI: dict[str, Callable[[], list[Slot]]] = {
    "emails": lambda: [Slot(users.c.email, "work", True)],
    "phonenumbers": lambda: [
        Slot(users.c.office_phone, "work", True),
        Slot(users.c.mobile_phone, "mobile", False),
    ],
}
SORTABLE = {
    "id",
    "externalid",
    "username",
    "name.familyname",
    "name.givenname",
    "name.honorificprefix",
    "name.formatted",
    "displayname",
    "title",
    "preferredlanguage",
    "meta.created",
    "meta.lastmodified",
    "emails",
    "emails.value",
    "passwordlevel",
}


def parse(text: str) -> ast.Filter:
    """The filter's tree; FilterRefused for text that is no filter or nests too deep."""
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterRefused(f"The filter has more than {MAX_FILTER_LENGTH} characters.")
    try:
        tree = SCIMParser().parse(SCIMLexer().tokenize(text))
    except Exception as exc:  # the lexer raises ValueError, the parser SCIMParserError
        raise FilterRefused(f"The filter could not be read ({exc}).") from None
    if tree is None:
        raise FilterRefused("The filter is empty.")
    if _depth(tree) > MAX_DEPTH:
        raise FilterRefused(
            f"The filter nests more than {MAX_DEPTH} levels of parentheses, "
            "logical operators or negations."
        )
    return tree


def _depth(node: object) -> int:
    stack = [(node, 1)]
    deepest = 0
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(current, ast.Filter):
            stack.append((current.expr, depth + 1))
        elif isinstance(current, ast.LogExpr):
            stack.extend([(current.expr1, depth + 1), (current.expr2, depth + 1)])
    return deepest


def where(text: str) -> sa.ColumnElement[bool]:
    """The where-clause of a SCIM filter on users; FilterRefused when it cannot be applied."""
    return _filter(parse(text), None)


def _filter(node: object, slot: Slot | None) -> sa.ColumnElement[bool]:
    if isinstance(node, ast.Filter):
        if node.namespace is not None:
            clause = _value_filter(node.namespace, node.expr)
        else:
            clause = _filter(node.expr, slot)
        # an attribute without value matches no comparison, so "not" of one holds (SQL's NULL)
        return sa.not_(sa.func.coalesce(clause, sa.false())) if node.negated else clause
    if isinstance(node, ast.LogExpr):
        left, right = _filter(node.expr1, slot), _filter(node.expr2, slot)
        return sa.and_(left, right) if node.op.lower() == "and" else sa.or_(left, right)
    if isinstance(node, ast.AttrExpr):
        return _comparison(node, slot)
    raise FilterRefused("The filter could not be read.")


def _name(path: ast.AttrPath) -> str:
    uri = (path.uri or "").lower()
    if uri and uri not in (CORE.lower(), PORTICO.lower()):
        raise FilterRefused(f"The schema {path.uri} is not one of this server's.")
    name = path.attr_name
    if path.sub_attr is not None:
        name = f"{name}.{path.sub_attr.value}"
    if uri == PORTICO.lower() and name.lower() != "passwordlevel":
        raise FilterRefused(f"The attribute {path.uri}:{name} does not exist.")
    return name


def _value_filter(namespace: ast.AttrPath, inner: object) -> sa.ColumnElement[bool]:
    """attr[inner]: true when one value of the multi-valued attribute matches `inner`."""
    name = _name(namespace).lower()
    if name not in MULTI:
        raise FilterRefused(f"{namespace.attr_name} is not a multi-valued attribute.")
    return sa.or_(*[_filter(inner, slot) for slot in MULTI[name]()])


def _comparison(node: ast.AttrExpr, slot: Slot | None) -> sa.ColumnElement[bool]:
    operator = node.value.lower()
    value = node.comp_value.value if node.comp_value is not None else None
    name = _name(node.attr_path)
    key = name.lower()
    if slot is not None:  # inside attr[...]: value, type, primary of that one value
        return _slot_comparison(slot, key, operator, value, name)
    if key in ("username", "emails.value", "emails") and operator in ("eq", "ne") and value:
        found = _by_login(value)  # the unique index of logins: one row, whatever the account size
        return found if operator == "eq" else sa.or_(sa.not_(found), users.c.login_key.is_(None))
    if key in SINGLE:
        expression, kind = SINGLE[key]
        return _compare(expression(), kind, operator, value, name)
    base, _, sub = key.partition(".")
    if base in MULTI:
        return sa.or_(
            *[_slot_comparison(s, sub or "value", operator, value, name) for s in MULTI[base]()]
        )
    raise FilterRefused(f"The attribute {name} cannot be filtered on (it is not one of a user's).")


def _by_login(value: str) -> sa.ColumnElement[bool]:
    """The address compared as every login is (bus.login): any spelling of it matches."""
    try:
        return users.c.login_key == login_key(value)
    except NotAnAddress:
        return sa.false()  # no user's address is text that is no address


def _slot_comparison(
    slot: Slot, key: str, operator: str, value: str | None, name: str
) -> sa.ColumnElement[bool]:
    if key == "value":
        return _compare(slot.column, "string", operator, value, name)
    present = slot.column.is_not(None)
    if key == "type":
        if operator == "pr":
            return present
        matched = _constant_string(slot.type, operator, value, name)
        return sa.and_(present, sa.true() if matched else sa.false())
    if key == "primary":
        if operator == "pr":
            return sa.and_(present, sa.true() if slot.primary else sa.false())
        wanted = _boolean(value, operator, name)
        holds = slot.primary == wanted if operator == "eq" else slot.primary != wanted
        return sa.and_(present, sa.true() if holds else sa.false())
    raise FilterRefused(f"The attribute {name} cannot be filtered on.")


def _compare(
    column: sa.ColumnElement, kind: Kind, operator: str, value: str | None, name: str
) -> sa.ColumnElement[bool]:
    if operator == "pr":
        if kind == "active":
            return sa.true()
        present = column.is_not(None)
        return sa.and_(present, column != "") if kind in ("string", "exact") else present
    if value is None:
        raise FilterRefused(f"{name} {operator} needs a value.")
    if kind == "active":
        wanted = _boolean(value, operator, name)
        deactivated = column == UserStatus.DEACTIVATED.value
        if operator == "eq":
            return sa.not_(deactivated) if wanted else deactivated
        return deactivated if wanted else sa.not_(deactivated)
    if kind == "datetime":
        return _ordered(column, operator, _instant(value, name), name)
    if kind == "level":
        if value.lower() not in LEVELS:
            raise FilterRefused(f"passwordLevel is one of {', '.join(LEVELS)}.")
        return _ordered(column, operator, LEVELS[value.lower()], name)
    if kind == "exact":
        return _ordered(column, operator, value, name, strings=True)
    return _ordered(sa.func.lower(column), operator, value.lower(), name, strings=True)


def _ordered(
    column: sa.ColumnElement,
    operator: str,
    value: object,
    name: str,
    *,
    strings: bool = False,
) -> sa.ColumnElement[bool]:
    if operator == "eq":
        return column == value
    if operator == "ne":
        return sa.or_(column != value, column.is_(None))
    if operator in ("co", "sw", "ew"):
        if not strings:
            raise FilterRefused(f"{operator} applies to text; {name} is not text.")
        escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = {"co": f"%{escaped}%", "sw": f"{escaped}%", "ew": f"%{escaped}"}[operator]
        return column.like(pattern, escape="\\")
    comparisons = {"gt": "__gt__", "ge": "__ge__", "lt": "__lt__", "le": "__le__"}
    if operator in comparisons:
        return getattr(column, comparisons[operator])(value)
    raise FilterRefused(f"The operator {operator} is not a SCIM operator.")


def _boolean(value: str | None, operator: str, name: str) -> bool:
    if operator not in ("eq", "ne"):
        raise FilterRefused(f"{name} is true or false: compare it with eq or ne only.")
    if value not in ("true", "false"):
        raise FilterRefused(f"{name} is true or false, not {value!r}.")
    return value == "true"


def _constant_string(constant: str, operator: str, value: str | None, name: str) -> bool:
    """A comparison of a value this server fixes (an e-mail's type is work) with `value`."""
    text, other = constant.lower(), (value or "").lower()
    checks = {
        "eq": text == other,
        "ne": text != other,
        "co": other in text,
        "sw": text.startswith(other),
        "ew": text.endswith(other),
        "gt": text > other,
        "ge": text >= other,
        "lt": text < other,
        "le": text <= other,
    }
    if operator not in checks:
        raise FilterRefused(f"The operator {operator} does not apply to {name}.")
    return checks[operator]


def _instant(value: str, name: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FilterRefused(f"{name} is compared with a date and time, not {value!r}.") from None


def sort_column(attribute: str) -> sa.ColumnElement:
    """The SQL expression a list is sorted by for the SCIM attribute `attribute`."""
    key = attribute.lower()
    for uri in (CORE.lower() + ":", PORTICO.lower() + ":"):
        key = key.removeprefix(uri)
    if key not in SORTABLE:
        raise FilterRefused(f"The users cannot be sorted by {attribute}.")
    if key in ("emails", "emails.value"):
        return sa.func.lower(users.c.email)
    expression, kind = SINGLE[key]
    return sa.func.lower(expression()) if kind == "string" else expression()
