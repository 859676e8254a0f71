"""The importer answers a file it refuses in the caller's language, with the file's `code`."""

from __future__ import annotations

import io


def test_a_spreadsheet_is_refused_in_french(api, account):
    answer = api.client.post(
        f"/internal/accounts/{account}/imports",
        data={"file": (io.BytesIO(b"PK\x03\x04rest"), "users.xlsx")},
        headers={**api.headers(), "Accept-Language": "fr-FR"},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 422
    assert answer.json["code"] == "extension"
    assert answer.json["errors"]["file"][0] == (
        "Seuls les fichiers .csv peuvent être importés, et « users.xlsx » n'en est pas un."
    )
    assert "C'est un classeur (.xlsx)." in answer.json["detail"]
    english = api.upload(account, b"PK\x03\x04rest", filename="users.xlsx")
    assert english.json["errors"]["file"][0] == (
        "Only .csv files can be imported, and 'users.xlsx' is not one."
    )


def test_an_unknown_job_is_a_french_404(api, account):
    answer = api.client.get(
        f"/internal/accounts/{account}/imports/nope",
        headers={**api.headers(), "Accept-Language": "fr"},
    )
    assert answer.status_code == 404
    assert answer.json["code"] == "import.not_found"
    assert answer.json["detail"] == "Aucun import de ce compte n'a cet identifiant."
