"""Notifications answers its problems in the caller's language, each with its `code`."""

from __future__ import annotations

FR = {"Authorization": "Bearer dev-service-token", "Accept-Language": "fr"}


def test_an_unknown_mail_is_a_french_404(notifications):
    answer = notifications.client.get("/internal/mailbox/999", headers=FR)
    assert answer.status_code == 404
    assert answer.get_json()["code"] == "mail.not_found"
    assert (
        answer.get_json()["detail"] == "Aucun e-mail de la boîte aux lettres n'a cet identifiant."
    )


def test_a_bad_status_or_page_is_refused_in_french(notifications):
    answer = notifications.client.get("/internal/deliveries?status=lost", headers=FR)
    assert answer.status_code == 422
    body = answer.get_json()
    assert body["detail"] == "Certains paramètres ne sont pas valides ; voyez errors."
    assert body["errors"]["status"][0].startswith("Choisissez l'une de ces valeurs : ")
    assert body["code"] == "validation.not_a_choice"
    page = notifications.client.get("/internal/deliveries?page=0", headers=FR).get_json()
    assert page["errors"]["page"] == ["Le paramètre page doit valoir au moins 1."]
    assert page["code"] == "validation.out_of_range"
