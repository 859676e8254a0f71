"""French pages: from the user's own language once known, from the browser's before."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PASSWORD, Portal, shoot, sign_in

pytestmark = pytest.mark.browser


def test_a_french_user_sees_french_pages(portal: Portal, new_page) -> None:
    account = portal.new_account("Boutique Lyon")
    email = portal.new_administrator(
        account, language="fr-FR", last_name="Dubois", first_name="Claire"
    )
    link = portal.link_in_mail(email, "activate")
    page = new_page(locale="en-GB")  # the browser prefers English: the user's language wins

    page.goto(link)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("heading", name="Validation du profil")).to_be_visible()
    expect(page.get_by_text("Étape 1/3")).to_be_visible()
    page.get_by_label("Civilité").select_option("MME")
    shoot(page, "fr-activation-step-1")
    page.get_by_role("button", name="Suivant").click()
    expect(page.get_by_label("Adresse e-mail (votre identifiant)")).to_have_value(email)
    page.get_by_role("button", name="Suivant").click()
    expect(page.get_by_text("Au moins 8 caractères.")).to_be_visible()
    page.get_by_label("Créez votre mot de passe").fill(PASSWORD)
    page.get_by_label("Confirmez votre mot de passe").fill(PASSWORD)
    expect(page.get_by_text("Les deux mots de passe sont identiques.")).to_be_visible()
    shoot(page, "fr-activation-step-3")
    page.get_by_role("button", name="Valider").click()

    expect(page.get_by_role("heading", name="Mon compte", level=1)).to_be_visible()
    expect(page.get_by_text("Votre compte est activé. Bienvenue !")).to_be_visible()
    expect(page.locator("section.panel-profile")).to_contain_text("Français (France)")
    shoot(page, "fr-account")
    page.get_by_role("link", name="Catalogue des services").first.click()
    expect(page.get_by_role("heading", name="Catalogue des services", level=1)).to_be_visible()
    expect(page.locator("main tbody")).to_contain_text("Administratif")
    expect(page.get_by_text(re.compile(r"Éléments 1 - 10 sur \d+"))).to_be_visible()
    shoot(page, "fr-catalog")
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_text("Vous êtes déconnecté.")).to_be_visible()
    # signed out, the page follows the browser's preference again (English here)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_before_signing_in_the_browser_language_is_used(portal: Portal, new_page) -> None:
    admin = portal.active_administrator()
    page = new_page(locale="fr-FR")
    page.goto("/sign-in")
    expect(page.get_by_role("heading", name="Connexion")).to_be_visible()
    page.get_by_role("link", name="Mot de passe oublié").click()
    expect(page.get_by_role("heading", name="Mot de passe oublié")).to_be_visible()
    shoot(page, "fr-forgotten")
    # an English user signing in from a French browser gets English pages
    sign_in(page, admin)
    expect(page.get_by_role("heading", name="My account", level=1)).to_be_visible()
