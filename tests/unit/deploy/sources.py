"""What the code reads from the environment: every PORTICO_* name in the sources, found by parsing.

Names come from string literals (docstrings excluded) in the Python code of every part, and
from the deployment scripts of deploy/. An f-string such as f"PORTICO_{part.upper()}_URL"
becomes the template "PORTICO_<PART>_URL", which stands for one name per part.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CODE_DIRS = ("bus", "portico", "gateway", "services")
NAME = re.compile(r"PORTICO_[A-Z0-9_]*[A-Z0-9]")
TEMPLATE = re.compile(r"PORTICO_<PART>_[A-Z0-9_]*[A-Z0-9]")
SHELL_NAME = re.compile(r"\$\{?(PORTICO_[A-Z0-9_]*[A-Z0-9])")


def code_files() -> list[Path]:
    files: list[Path] = []
    for folder in CODE_DIRS:
        files += sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def deploy_files() -> list[Path]:
    return sorted((ROOT / "deploy").glob("*.py")) + sorted((ROOT / "deploy").glob("*.sh"))


def names_in_python(source: str) -> set[str]:
    """PORTICO_* names and <PART> templates in the string literals of a module, docstrings aside."""
    tree = ast.parse(source)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(
                v.value if isinstance(v, ast.Constant) else "<PART>" for v in node.values
            )
            found.update(TEMPLATE.findall(text))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
        ):
            found.update(NAME.findall(node.value))
    return found


def names_in_shell(source: str) -> set[str]:
    return set(SHELL_NAME.findall(source))


def code_variables() -> dict[str, set[str]]:
    """Each name (or <PART> template) read by the code, with the files that mention it."""
    where: dict[str, set[str]] = defaultdict(set)
    for path in code_files():
        for name in names_in_python(path.read_text(encoding="utf-8")):
            where[name].add(str(path.relative_to(ROOT)))
    return dict(where)


def deploy_variables() -> dict[str, set[str]]:
    """Names read by the deployment scripts (the entrypoint and its helpers)."""
    where: dict[str, set[str]] = defaultdict(set)
    for path in deploy_files():
        text = path.read_text(encoding="utf-8")
        found = names_in_python(text) if path.suffix == ".py" else names_in_shell(text)
        for name in found:
            where[name].add(str(path.relative_to(ROOT)))
    return dict(where)


def expand(name: str, parts: tuple[str, ...]) -> set[str]:
    """The concrete names a template stands for (a plain name stands for itself)."""
    if "<PART>" not in name:
        return {name}
    return {name.replace("<PART>", part.upper()) for part in parts}


def is_known(name: str, known: set[str], parts: tuple[str, ...]) -> bool:
    return any(name in expand(candidate, parts) for candidate in known)
