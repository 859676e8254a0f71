"""Schemathesis against the real portal: the OpenAPI document and the server agree (security issue, item 10).

Every operation of the gateway's OpenAPI document, with generated valid and invalid parameters and
bodies, against every real service in one process (SQLite, memory bus, the demo's data), signed in
as the operator (operator paths), as an administrator (Claire, on her own account) and as a user
(Sophie), with every schemathesis check on: no server error, no status code, content type, header
or body the document does not describe, invalid input refused, valid input not refused.

Bounded and reproducible: a fixed seed, SCHEMATHESIS_EXAMPLES cases per operation, role and mode
(default 24, over 3,000 cases in all); the number of cases sent is asserted.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from portico import demo
from tests.security.real_portal import Portal, start_portal

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "24"))
SEED = 20261204
MIN_CASES = 3_000


@pytest.fixture(scope="module")
def portal(tmp_path_factory):
    instance = start_portal(
        tmp_path_factory.mktemp("portal"), f"schemathesis-{time.monotonic_ns()}"
    )
    yield instance
    instance.stop()


class Roles:
    """Who calls an operation, and with which headers and path values."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.admin = portal.admin()
        self.user = portal.user()
        self.account = portal.accounts(self.admin)["90293531"]

    def for_operation(
        self, method: str, path: str, security: Any
    ) -> list[tuple[str, dict[str, str]]]:
        if path.startswith("/api/v1/operator/"):
            return [("operator", self.portal.operator)]
        if security == []:  # public: sign-in, activation and reset links
            return [("anonymous", {})]
        if path.startswith("/api/v1/accounts/"):
            return [("administrator", self.admin)]
        return [("administrator", self.admin), ("user", self.user)]


# Rules a JSON Schema cannot state (a readable phone number, a deliverable e-mail domain, the right
# current password, a password policy, a parent account that exists, a shipped service code, a
# .csv file): a valid-looking request refused with 422 naming ONLY these fields is a domain answer,
# not a document that lies. Any other 422 of valid data fails the run.
PHONES = {"office_phone", "mobile_phone"}
DOMAIN_RULES = {
    ("POST", "/api/v1/operator/accounts"): {"parent_number", "relation"},
    ("POST", "/api/v1/operator/accounts/{number}/administrators"): {"email"},
    ("PUT", "/api/v1/operator/accounts/{number}/catalog"): {"services"},
    ("POST", "/api/v1/operator/content"): {"url"},
    ("POST", "/api/v1/operator/accounts/{number}/imports"): {"file"},
    ("POST", "/api/v1/accounts/{account_id}/imports"): {"file"},
    ("POST", "/api/v1/activations/{token}"): {"password", *PHONES},
    ("POST", "/api/v1/password-resets/{token}"): {"password"},
    ("PATCH", "/api/v1/me"): PHONES,
    ("POST", "/api/v1/me/password"): {"current_password", "new_password"},
    ("POST", "/api/v1/me/email-change"): {"new_email"},
    ("POST", "/api/v1/accounts/{account_id}/users"): {"email", *PHONES},
    ("PATCH", "/api/v1/accounts/{account_id}/users/{user_id}"): {"email", *PHONES},
    ("POST", "/api/v1/accounts/{account_id}/users/{user_id}/subscriptions"): {"expires_on"},
    ("POST", "/api/v1/accounts/{account_id}/subscription-requests/{request_id}/accept"): {
        "expires_on"
    },
    # a WebAuthn credential that verifies (any JSON object is one in the document), the right
    # current password, a TOTP code of the moment
    ("POST", "/api/v1/session/mfa"): {"passkey"},
    ("POST", "/api/v1/session/passkey"): {"credential"},
    ("POST", "/api/v1/me/mfa/passkeys"): {"credential"},
    ("DELETE", "/api/v1/me/mfa/totp"): {"password"},
    ("POST", "/api/v1/me/mfa/totp/confirm"): {"code"},
}


def valid_data_accepted(ctx, response, case):
    """schemathesis' positive_data_acceptance, but a 422 on a domain rule alone is an answer."""
    if (
        case.meta is not None
        and case.meta.generation.mode.is_positive
        and response.status_code == 422
        and response.headers.get("content-type", [""])[0].startswith("application/problem+json")
    ):
        # a field's own parts count as the field (a WebAuthn credential's members: `credential..x`)
        refused = {
            name.split(".")[0] for name in json.loads(response.content).get("errors") or {"?": []}
        }
        if refused <= DOMAIN_RULES.get((case.method.upper(), case.operation.path), set()):
            return None
    return positive_data_acceptance(ctx, response, case)


def test_the_server_does_what_its_openapi_document_says(portal):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", portal.app)
    schema.config.generation.update(
        allow_x00=False
    )  # the document's description: no text holds NUL
    roles = Roles(portal)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 45
    sent: Counter[str] = Counter()
    failures: list[str] = []
    nothing_invalid: list[str] = []  # no parameter nor body: no invalid request to make
    started = time.monotonic()

    for operation in operations:
        security = operation.definition.raw.get("security")
        for role, headers in roles.for_operation(
            operation.method.upper(), operation.path, security
        ):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                run = build_run(operation, mode, role, headers, roles, sent)
                try:
                    run()
                except Unsatisfiable:
                    if mode is GenerationMode.POSITIVE:
                        raise
                    nothing_invalid.append(f"{operation.method.upper()} {operation.path}")
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - all are reported at the end
                    failures.append(
                        f"{operation.method.upper()} {operation.path} as {role}, {mode.value}: "
                        f"{str(exc)[:1500]}"
                    )

    elapsed = time.monotonic() - started
    total = sum(sent.values())
    print(
        f"schemathesis: {total} cases over {len(operations)} operations in {elapsed:.0f} s "
        f"(seed {SEED}, {EXAMPLES} per operation, role and mode); by role: {dict(sent)}; "
        f"no invalid input possible for {nothing_invalid}"
    )
    assert not failures, "\n\n".join(failures)
    if EXAMPLES >= 24:
        assert total >= MIN_CASES


def build_run(operation, mode, role, headers, roles, sent):
    path = operation.path
    # the caller's own account, and a client number that exists, so that the calls reach the services
    known = {
        "administrator": ("{account_id}", "account_id", roles.account),
        "operator": ("{number}", "number", demo.SHOP["number"]),
    }
    template, name, value = known.get(role, ("", "", ""))
    path_parameters = {name: value} if template and template in path else None

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case):
        sent[role] += 1
        case.call_and_validate(
            headers=headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[valid_data_accepted],
        )

    return run
