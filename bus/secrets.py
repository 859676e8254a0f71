"""The secrets of the distributed mode: which part needs which, and what makes one good enough.

`portico serve` and `portico worker` refuse to start (`check_secrets`) when a secret the part
reads is unset, a value known from development or documentation, or shorter than MIN_LENGTH.
`portico run` (the embedded mode) makes its own instead (`embedded_secrets`): generated once into
the data folder, in a file only its owner may read.
"""

from __future__ import annotations

import os
import secrets as random_source
import stat
from collections.abc import Mapping
from pathlib import Path

from bus.config import ConfigError

MIN_LENGTH = 32
SECRETS_FILE = "secrets.env"

SECRET_KEY = "PORTICO_SECRET_KEY"
OPERATOR_TOKEN = "PORTICO_OPERATOR_TOKEN"
SERVICE_TOKEN = "PORTICO_SERVICE_TOKEN"
EMBEDDED_SECRETS = (SECRET_KEY, OPERATOR_TOKEN, SERVICE_TOKEN)

# Which part reads which secret: a part is refused only for the secrets it uses, so a
# deployment gives the gateway's keys to the gateway alone.
READ_BY: dict[str, tuple[str, ...]] = {
    "gateway": (SECRET_KEY, OPERATOR_TOKEN, SERVICE_TOKEN),
    "identity": (SERVICE_TOKEN,),
    "subscriptions": (SERVICE_TOKEN,),
    "notifications": (SERVICE_TOKEN,),
    "importer": (SERVICE_TOKEN,),
}

# Secrets a part reads when they are set, and refuses when they are set to a weak value:
# identity's key of TOTP secrets and recovery codes (unset: derived from the service token).
MFA_KEY = "PORTICO_MFA_KEY"
OPTIONAL_BY: dict[str, tuple[str, ...]] = {"identity": (MFA_KEY,)}

# Values that were defaults or examples at some point: anyone may know them.
KNOWN_VALUES = frozenset(
    {
        "dev-secret-change-me",
        "dev-operator-token",
        "dev-service-token",
        "compose-secret-change-me",
    }
)
PLACEHOLDER_WORDS = ("change-me", "changeme", "change_me", "replace-me", "your-secret", "example")

HOW_TO_MAKE = (
    'make one with `python -c "import secrets; print(secrets.token_urlsafe(32))"` '
    "(or `openssl rand -base64 32`)"
)


def weakness(value: str | None) -> str | None:
    """Why `value` cannot serve as a secret, or None when it can."""
    if value is None or not value.strip():
        return "is unset"
    if value in KNOWN_VALUES or value.strip().lower() in KNOWN_VALUES:
        return "holds a development value that anyone can read in Portico's sources"
    lowered = value.lower()
    if any(word in lowered for word in PLACEHOLDER_WORDS):
        return "still holds a placeholder"
    if len(value) < MIN_LENGTH:
        return f"is {len(value)} characters long, fewer than {MIN_LENGTH}"
    return None


def check_secrets(part: str, env: Mapping[str, str] | None = None) -> None:
    """Raise ConfigError, naming every variable at fault and how to make a good value, unless
    each secret `part` reads is set to a strong value."""
    env = os.environ if env is None else env
    problems = []
    for name in READ_BY.get(part, (SERVICE_TOKEN,)):
        why = weakness(env.get(name))
        if why is not None:
            problems.append(f"{name} {why}")
    for name in OPTIONAL_BY.get(part, ()):
        if env.get(name) is not None and (why := weakness(env.get(name))) is not None:
            problems.append(f"{name} {why}")
    operator, service = env.get(OPERATOR_TOKEN), env.get(SERVICE_TOKEN)
    if part == "gateway" and operator and operator == service:
        problems.append(
            f"{OPERATOR_TOKEN} and {SERVICE_TOKEN} hold the same value (every service "
            "would hold the operator's power)"
        )
    if problems:
        raise ConfigError(
            f"the {part} part refuses to start: {'; '.join(problems)}. Every secret needs at least "
            f"{MIN_LENGTH} random characters, its own for each variable; {HOW_TO_MAKE}, and set it in "
            f"the environment ({SERVICE_TOKEN} is the same on every part of a deployment). "
            "`portico run` (the embedded mode) makes its own."
        )


def embedded_secrets(data_dir: Path, env: Mapping[str, str]) -> tuple[dict[str, str], Path]:
    """The embedded mode's secrets that `env` does not set: read from `data_dir`/secrets.env, or
    generated into it on the first start (mode 0600). Returns them and the file's path."""
    path = data_dir / SECRETS_FILE
    kept = read_secrets_file(path)
    wanted = [name for name in EMBEDDED_SECRETS if not (env.get(name) or "").strip()]
    missing = [name for name in wanted if weakness(kept.get(name)) is not None]
    if missing:
        kept.update({name: random_source.token_urlsafe(32) for name in missing})
        write_secrets_file(path, kept)
    elif path.exists():
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)  # readable by its owner only, even if loosened
    return {name: kept[name] for name in wanted}, path


def read_secrets_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.strip().partition("=")
        if sep and not name.startswith("#"):
            found[name.strip()] = value.strip()
    return found


def write_secrets_file(path: Path, values: Mapping[str, str]) -> None:
    """Write `values` as NAME=value lines into a file only its owner can read or write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "# Secrets of Portico's embedded mode (`portico run`), generated on its first start.\n"
        "# Keep them private; delete this file to have new ones made.\n"
        + "".join(f"{name}={value}\n" for name, value in values.items())
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode on open: tighten it first
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
