"""Every page, in English and in French, at 1280 and 390 pixels wide: nothing sticks out of its box,
a pager's links keep their words on one line, and axe-core finds no serious or critical violation.

axe-core is vendored in tests/browser/vendor (its licence beside it). The page's Content Security
Policy would refuse the injected script, so these browser contexts bypass it (the tests of the CSP
itself live elsewhere). Screenshots of each page go to tests/browser/screenshots/layout-*.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS, Person, Portal, eventually, sign_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
LOCALES = {"en": "en-GB", "fr": "fr-FR"}

# Elements whose box reaches out of their parent's content box while that parent lets it show
# (overflow visible); and blocks whose own text is wider than they are.
STICKING_OUT = """() => {
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\\s+/).join('.') : '');
  const shown = el => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const offFlow = el => {  // out of the flow, itself or within a box that is (a visually hidden thead)
    for (let node = el; node && node !== document.body; node = node.parentElement) {
      if (['absolute', 'fixed'].includes(getComputedStyle(node).position)) return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (offFlow(el) || el.closest('.visually-hidden, [hidden], noscript')) continue;
    if (!shown(el)) continue;
    const parent = el.parentElement;
    const ps = getComputedStyle(parent);
    if (ps.overflowX === 'visible' && parent !== document.body) {
      const r = el.getBoundingClientRect(), p = parent.getBoundingClientRect();
      const left = p.left + parseFloat(ps.borderLeftWidth), right = p.right - parseFloat(ps.borderRightWidth);
      if (r.right > right + 1 || r.left < left - 1) {
        found.push(`${name(el)} (${Math.round(r.left)}-${Math.round(r.right)}) out of ${name(parent)} (${Math.round(left)}-${Math.round(right)})`);
        continue;
      }
    }
    const ownText = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (ownText && style.overflowX === 'visible' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      found.push(`${name(el)}: its text is ${el.scrollWidth}px wide in ${el.clientWidth}px`);
    }
  }
  return found.slice(0, 10);
}"""

# A pager link whose words sit on more than one line.
WRAPPED_PAGER_LINKS = """() => Array.from(document.querySelectorAll('.pager a')).filter(a => {
  const range = document.createRange();
  range.selectNodeContents(a);
  const rects = Array.from(range.getClientRects()).filter(r => r.width > 0);
  return rects.some(r => rects.some(other => r.top >= other.bottom - 1));  // one below another
}).map(a => a.textContent.trim())"""

AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => ['serious', 'critical'].includes(v.impact)).map(v =>
    `${v.id} (${v.impact}): ${v.help} — ` + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
}"""


@dataclass
class Scene:
    """What the pages show: an administrator with users, a finished import with an anomaly."""

    admin: Person
    account_id: str
    import_id: str
    user_id: str
    activation: str  # the path of a pending user's activation link


def finished_import(portal: Portal, admin: Person) -> str:
    csv = (
        "\r\n".join(
            [
                f"M;Dupont;Jean;{portal.new_email('dupont')};;;fr-FR;2",
                "MME;Durand;Anne;not-an-address;;;fr-FR;2",
            ]
        )
        + "\r\n"
    )
    client = portal.api(admin)
    answer = client.post(
        f"/api/v1/accounts/{admin.account_id}/imports",
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(csv.encode()), "users.csv", "text/csv")},
    )
    assert answer.status_code == 202, answer.get_json()
    job = answer.get_json()

    def done() -> bool:
        status = client.get(f"/api/v1/accounts/{admin.account_id}/imports/{job['id']}").get_json()[
            "status"
        ]
        return status not in ("queued", "running")

    eventually(done, timeout=60, what="the import to finish")
    return job["id"]


@pytest.fixture(scope="module")
def scenes(portal: Portal) -> dict[str, Scene]:
    made = {}
    for lang, tag in LOCALES.items():
        admin = portal.active_administrator(
            portal.new_account("Société Générale de Distribution Lyonnaise"), language=tag
        )
        user = portal.new_user(
            admin, language=tag, last_name="Lefebvre-Delacroix", first_name="Marie-Christine"
        )
        pending = [
            portal.new_user(admin, language=tag, last_name=f"Martin{n}", activate=False)
            for n in range(3)
        ]
        link = portal.link_in_mail(pending[0].email, "activate")
        made[lang] = Scene(
            admin,
            admin.account_id,
            finished_import(portal, admin),
            user.user["id"],
            urlsplit(link).path,
        )
    return made


@pytest.fixture(scope="module")
def signed_in(browser: Any, portal: Portal, scenes: dict[str, Scene]) -> Iterator[dict[str, Any]]:
    """One browser context per language, its administrator signed in (and one signed out)."""
    contexts = {}
    for lang, tag in LOCALES.items():
        for who in ("admin", "nobody"):
            context = browser.new_context(
                viewport=DESKTOP, locale=tag, base_url=portal.base_url, bypass_csp=True
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            if who == "admin":
                sign_in(page, scenes[lang].admin)
                page.wait_for_url(re.compile(r"/account$"))
            contexts[f"{who}-{lang}"] = page
    yield contexts
    for page in contexts.values():
        page.context.close()


PAGES = {  # name: (who, path of the scene)
    "sign-in": ("nobody", "/sign-in"),
    "forgotten": ("nobody", "/forgotten-password"),
    "account": ("admin", "/account"),
    "account-edit": ("admin", "/account/edit"),
    "password": ("admin", "/account/password"),
    "email-change": ("admin", "/account/email"),
    "my-services": ("admin", "/services"),
    "catalog": ("admin", "/catalog"),
    "administrators": ("admin", "/administrators"),
    "users": ("admin", "/users"),
    "user-new": ("admin", "/users/new"),
    "user-subscriptions": ("admin", "/users/{account_id}/{user_id}/subscriptions"),
    "user-add-subscriptions": ("admin", "/users/{account_id}/{user_id}/subscriptions/add"),
    "validation": ("admin", "/validation"),
    "associates": ("admin", "/associates"),
    "import": ("admin", "/users/import"),
    "import-job": ("admin", "/users/import/{account_id}/{import_id}"),
    "user-edit": ("admin", "/users/{account_id}/{user_id}/edit"),
    "user-delete": ("admin", "/users/{account_id}/{user_id}/delete"),
    "security": ("admin", "/account/security"),
    "security-policy": ("admin", "/users/security"),
    "forgotten-sent": ("nobody", "/forgotten-password/sent"),
    "activation": ("nobody", "{activation}"),
}


@pytest.mark.parametrize("lang", list(LOCALES))
@pytest.mark.parametrize("name", list(PAGES))
def test_the_page_fits_its_boxes_and_passes_axe(
    name: str, lang: str, signed_in: dict[str, Any], scenes: dict[str, Scene]
) -> None:
    who, path = PAGES[name]
    page = signed_in[f"{who}-{lang}"]
    scene = scenes[lang]
    page.goto(
        path.format(
            account_id=scene.account_id,
            user_id=scene.user_id,
            import_id=scene.import_id,
            activation=scene.activation,
        )
    )
    assert page.locator("html").get_attribute("lang") == lang
    SCREENSHOTS.mkdir(exist_ok=True)
    problems = []
    for width, viewport in WIDTHS.items():
        page.set_viewport_size(viewport)
        page.screenshot(path=str(SCREENSHOTS / f"layout-{lang}-{name}-{width}.png"), full_page=True)
        problems += [f"{width}: {item}" for item in page.evaluate(STICKING_OUT)]
        problems += [
            f"{width}: pager link on two lines: {text}"
            for text in page.evaluate(WRAPPED_PAGER_LINKS)
        ]
        if page.evaluate("() => typeof axe") == "undefined":
            page.add_script_tag(path=str(AXE))
        problems += [f"{width}: axe {item}" for item in page.evaluate(AXE_RUN)]
    page.set_viewport_size(DESKTOP)
    assert not problems, f"{name} ({lang}):\n" + "\n".join(problems)


# The words a new user met on the pages, in both languages.
WORDING = {
    "en": {
        "account_not": ["Service's", "User groups", "Signin"],
        "account_has": [r"\d+ subscriptions? accepted", "Sign-in succeeded"],
        "import_heading": "Import users",
        "import_done": "Import finished: 1 user created, 1 line rejected out of 2.",
        "actions": ["Modify", "Add subscriptions", "Subscriptions", "Delete"],
    },
    "fr": {
        "account_not": ["Groupes d'utilisateurs", "Abonnements aux services validés"],
        "account_has": [r"\d+ abonnements? acceptés?", "Connexion réussie"],
        "import_heading": "Importer des utilisateurs",
        "import_done": "Import terminé : 1 utilisateur créé, 1 ligne rejetée sur 2.",
        "actions": ["Modifier", "Ajouter des abonnements", "Abonnements", "Supprimer"],
    },
}


@pytest.mark.parametrize("lang", list(LOCALES))
def test_the_words_on_the_pages_read_well(
    lang: str, signed_in: dict[str, Any], scenes: dict[str, Scene]
) -> None:
    from playwright.sync_api import expect

    words, page, scene = WORDING[lang], signed_in[f"admin-{lang}"], scenes[lang]
    page.goto("/account")
    main = page.locator("main")
    expect(main).to_contain_text(re.compile(words["account_has"][0]))
    expect(page.locator("section", has=page.locator("#audits-heading"))).to_contain_text(
        words["account_has"][1]
    )
    for text in words["account_not"]:
        expect(main).not_to_contain_text(text)

    page.goto("/users/import")  # the administrator's own company: no "third party"
    expect(page.get_by_role("heading", level=1)).to_have_text(words["import_heading"])

    page.goto(f"/users/import/{scene.account_id}/{scene.import_id}")
    expect(page.locator("#import-progress .notice")).to_have_text(words["import_done"])

    page.goto("/users")  # each row's actions are words a person reads, not bare icons
    actions = page.locator("td.row-actions").first
    for text in words["actions"]:
        expect(actions.get_by_role("link", name=re.compile("^" + re.escape(text)))).to_contain_text(
            text
        )


def test_a_bad_file_is_explained_once(signed_in: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page = signed_in["admin-en"]
    page.goto("/users/import")
    page.get_by_label("CSV file").set_input_files(
        files=[
            {
                "name": "users.txt",
                "mimeType": "text/plain",
                "buffer": b"\x89PNG\r\n\x1a\n\x00\x00binary",
            }
        ]
    )
    page.get_by_role("button", name="Import").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The file users.txt cannot be imported.")
    expect(alert).to_contain_text("Only .csv files can be imported")
    lines = [text.strip() for text in alert.locator("p, li").all_inner_texts()]
    repeated = [
        (one, other) for one in lines for other in lines if one is not other and one in other
    ]
    assert not repeated, f"the same message twice: {lines}"
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "layout-en-import-refused-desktop.png"), full_page=True)
