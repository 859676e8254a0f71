"""An account's SCIM tokens in the administration pages (/users/scim-tokens): the tokens its
directory provisions it with, issued (the token shown once), listed and revoked. As every page,
it only calls the public API (docs/api.md, `/api/v1/accounts/{account_id}/scim-tokens`)."""

from __future__ import annotations

from typing import Any

from flask import request

from bus.http_client import segment
from gateway.web import i18n
from gateway.web.apicall import ApiError, api
from gateway.web.core import (
    administered_accounts,
    chosen_account,
    field_errors,
    form_csrf,
    notify,
    once,
    render,
    signed_in,
    summary,
    to,
    web,
)


def tokens_path(account_id: str) -> str:
    return f"/api/v1/accounts/{segment(account_id)}/scim-tokens"


def _page(account: dict[str, Any], status: int = 200, **context: Any) -> Any:
    tokens = api().get(tokens_path(account["id"]))["items"]
    return render(
        "scim_tokens.html",
        status=status,
        account=account,
        accounts=administered_accounts(),
        tokens=tokens,
        **context,
    )


@web.get("/users/scim-tokens")
@signed_in
def scim_tokens() -> Any:
    """The account's SCIM tokens and the form that issues one."""
    return _page(chosen_account())


@web.post("/users/scim-tokens")
@signed_in
@once
def issue_scim_token() -> Any:
    """Issue a token: the page shows it this once (only its digest is kept)."""
    account = chosen_account(value=request.form.get("account"))
    body = {
        "name": request.form.get("name", "").strip(),
        "send_activation": request.form.get("send_activation") == "on",
    }
    try:
        issued = api().post(tokens_path(account["id"]), body, csrf=form_csrf()).data
    except ApiError as exc:
        if exc.status != 422:
            raise
        return _page(account, 422, errors=field_errors(exc), error=summary(exc), name=body["name"])
    return _page(account, issued=issued)


@web.post("/users/scim-tokens/<token_id>/revoke")
@signed_in
@once
def revoke_scim_token(token_id: str) -> Any:
    account = chosen_account(value=request.form.get("account"))
    try:
        api().delete(f"{tokens_path(account['id'])}/{segment(token_id)}", csrf=form_csrf())
    except ApiError as exc:
        if exc.status != 404:
            raise
    notify("success", i18n.translate("scim.revoked", name=request.form.get("name", "")))
    return to("web.scim_tokens", account=account["id"])
