"""Every e-mail renders in English and French, escapes HTML, and refuses bad input clearly."""

import html
import re
from pathlib import Path

import pytest

from services.notifications.domain.rendering import (
    DEFAULT_TEMPLATES_DIR,
    TEMPLATES,
    InvalidContext,
    MissingContext,
    RenderedEmail,
    Renderer,
    UnknownTemplate,
    choose_language,
)

LANGUAGES = ("en", "fr")
ALL = [(name, language) for name in TEMPLATES for language in LANGUAGES]
SCRIPT = "<script>alert('x')</script>"


@pytest.mark.parametrize(("template", "language"), ALL)
def test_every_template_renders_with_its_link_in_both_parts(
    renderer, make_context, sample_values, link, template, language
):
    email = renderer.render(template, language, make_context(template))

    assert isinstance(email, RenderedEmail)
    assert email.language == language
    assert email.subject and "\n" not in email.subject
    assert email.sender_name
    assert f'<html lang="{language}">' in email.html
    # Every e-mail carries a link: its own, or at least the portal's.
    if link not in email.text:
        link = sample_values["portal_url"]
    assert link in email.text
    assert f'href="{link}"' in email.html
    for part in (email.subject, email.text, email.html):
        assert "{{" not in part and "{%" not in part and "None" not in part


@pytest.mark.parametrize(
    "template",
    [
        name
        for name, spec in TEMPLATES.items()
        if {"link_url", "url", "validation_url"} & set(spec.required)
    ],
)
@pytest.mark.parametrize("language", LANGUAGES)
def test_e_mails_with_a_link_show_that_link_in_text_and_html(
    renderer, make_context, link, template, language
):
    email = renderer.render(template, language, make_context(template, optional=False))
    assert link in email.text
    assert f'href="{link}"' in email.html


@pytest.mark.parametrize(("template", "language"), ALL)
def test_the_required_keys_are_enough(renderer, make_context, template, language):
    email = renderer.render(template, language, make_context(template, optional=False))
    assert email.subject and email.text and email.html


@pytest.mark.parametrize(
    ("template", "key"), [(name, key) for name, spec in TEMPLATES.items() for key in spec.required]
)
def test_each_required_key_is_needed(renderer, make_context, template, key):
    context = make_context(template)
    del context[key]
    with pytest.raises(MissingContext) as raised:
        renderer.render(template, "en", context)
    assert raised.value.key == key
    assert repr(key) in str(raised.value)


def test_a_required_key_given_as_none_is_missing(renderer, make_context):
    with pytest.raises(MissingContext, match="link_url"):
        renderer.render("activation", "en", make_context("activation", link_url=None))


def test_an_anomaly_without_a_message_names_the_missing_key(renderer, make_context):
    context = make_context("import_finished", anomalies=[{"line": 4, "field": "email"}])
    with pytest.raises(MissingContext) as raised:
        renderer.render("import_finished", "en", context)
    assert raised.value.key == "message"


@pytest.mark.parametrize("name", ["nope", "base", "../en/base", "", "sender"])
def test_an_unknown_template_is_refused(renderer, name):
    with pytest.raises(UnknownTemplate) as raised:
        renderer.render(name, "en", {})
    assert raised.value.template == name


def test_a_template_file_missing_on_disk_is_an_unknown_template(tmp_path, make_context):
    (tmp_path / "en").mkdir()
    with pytest.raises(UnknownTemplate, match="activation.subject.txt"):
        Renderer(tmp_path).render("activation", "en", make_context("activation"))


@pytest.mark.parametrize("key", ["link_url", "portal_url"])
@pytest.mark.parametrize("bad", ["javascript:alert(1)", "/relative/path", "ftp://host/x", 42])
def test_links_must_be_web_urls(renderer, make_context, key, bad):
    with pytest.raises(InvalidContext) as raised:
        renderer.render("activation", "en", make_context("activation", **{key: bad}))
    assert raised.value.key == key


def test_a_value_that_is_not_a_date_is_invalid(renderer, make_context):
    with pytest.raises(InvalidContext, match="expires_at|context value"):
        renderer.render("activation", "en", make_context("activation", expires_at="soon"))


@pytest.mark.parametrize(("template", "language"), ALL)
def test_html_escapes_injected_markup(renderer, make_context, sample_values, template, language):
    spec = TEMPLATES[template]
    injected = {
        key: f"Eve {SCRIPT}"
        for key in spec.all_keys
        if isinstance(sample_values.get(key), str) and not key.endswith("url")
    }
    injected["anomalies"] = [{"line": 7, "field": SCRIPT, "message": SCRIPT}]
    email = renderer.render(template, language, make_context(template, **injected))

    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert SCRIPT in email.text  # plain text is not HTML: shown as typed


def test_a_link_with_query_string_is_escaped_once_in_html(renderer, make_context):
    link = "https://portal.example.test/activate?token=a1&lang=fr"
    email = renderer.render("activation", "en", make_context("activation", link_url=link))
    assert f'href="{html.escape(link)}"' in email.html
    assert link in email.text


def test_subjects_required_by_the_manual(renderer, make_context):
    def subject(template, language):
        return renderer.render(template, language, make_context(template)).subject

    assert subject("activation", "en") == "Your account activation link"
    assert subject("email_change_confirmation", "en") == "Email change confirmation"
    assert subject("activation", "fr") == "Votre lien d’activation de compte"
    assert subject("email_change_confirmation", "fr").startswith("Confirmation de changement")


def test_a_subject_stays_on_one_line_whatever_the_context(renderer, make_context):
    context = make_context("request_accepted", service_title="Invoices\r\nBcc: eve@example.test")
    email = renderer.render("request_accepted", "en", context)
    assert "\n" not in email.subject and "\r" not in email.subject


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr-FR", "fr"),
        ("fr-BE", "fr"),
        ("fr_CA", "fr"),
        ("FR", "fr"),
        ("en-GB", "en"),
        ("de-DE", "en"),
        ("es-ES", "en"),
        ("", "en"),
        (None, "en"),
        ("klingon", "en"),
    ],
)
def test_choose_language(tag, expected):
    assert choose_language(tag) == expected


@pytest.mark.parametrize("tag", ["de-DE", None])
def test_unsupported_languages_fall_back_to_english(renderer, make_context, tag):
    email = renderer.render("activation", tag, make_context("activation"))
    assert email.language == "en"
    assert email.subject == "Your account activation link"
    assert "Hello Steven MARKS," in email.text


def test_dates_are_written_in_the_e_mail_language(renderer, make_context):
    context = make_context("activation")
    assert "March 5, 2027 at 2:30 PM UTC" in renderer.render("activation", "en", context).text
    assert "5 mars 2027 à 14 h 30 UTC" in renderer.render("activation", "fr-FR", context).text


def test_french_e_mails_use_french_typography(renderer, make_context):
    email = renderer.render("request_refused", "fr-FR", make_context("request_refused"))
    assert email.subject == "Demande refusée\u00a0: Invoice viewing service"
    assert "«\u00a0Invoice viewing service\u00a0»" in email.text
    assert email.sender_name == "Administrateur Portico"


def test_the_renderer_supplies_portal_name_and_url(make_context):
    renderer = Renderer(portal_name="CegidLife", portal_url="https://portal.example.test/")
    context = make_context("account_activated", optional=False)
    email = renderer.render("account_activated", "en", context)
    assert "CegidLife" in email.text
    assert "https://portal.example.test/" in email.text
    assert email.sender_name == "CegidLife administrator"
    with pytest.raises(ValueError):
        Renderer(portal_url="portal.example.test")


def test_request_accepted_shows_the_expiry_only_when_set(renderer, make_context):
    with_expiry = renderer.render("request_accepted", "en", make_context("request_accepted"))
    assert "December 31, 2027" in with_expiry.text and "December 31, 2027" in with_expiry.html
    french = renderer.render("request_accepted", "fr", make_context("request_accepted"))
    assert "31 décembre 2027" in french.text
    without = renderer.render(
        "request_accepted", "en", make_context("request_accepted", optional=False)
    )
    assert "expires" not in without.text


def test_request_refused_gives_the_reason_when_there_is_one(renderer, make_context):
    reason = "Not covered by your contract."
    given = renderer.render("request_refused", "en", make_context("request_refused"))
    assert reason in given.text and reason in given.html
    none = renderer.render("request_refused", "en", make_context("request_refused", optional=False))
    assert "Reason" not in none.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_import_finished_lists_every_anomaly(renderer, make_context, language):
    anomalies = [
        {"line": line, "field": "email", "message": f"problem number {line}"}
        for line in range(2, 302)
    ]
    context = make_context(
        "import_finished", rows=300, created=0, rejected=300, anomalies=anomalies
    )
    email = renderer.render("import_finished", language, context)
    for anomaly in anomalies:
        assert f"problem number {anomaly['line']}" in email.text
        assert f"problem number {anomaly['line']}</td>" in email.html
    label = "Line" if language == "en" else "Ligne"
    assert len(re.findall(rf"^- {label} \d+", email.text, flags=re.M)) == 300
    assert "300" in email.text


def test_import_finished_without_anomaly_says_so(renderer, make_context):
    context = make_context("import_finished", rows=2, created=2, rejected=0, anomalies=[])
    assert "No anomaly was found." in renderer.render("import_finished", "en", context).text
    assert "Aucune anomalie" in renderer.render("import_finished", "fr", context).text


def test_import_anomalies_name_the_line_field_and_message(renderer, make_context):
    email = renderer.render("import_finished", "en", make_context("import_finished"))
    assert "- Line 2, Email address: is not a valid e-mail address" in email.text
    assert "- Line 3: repeats line 2" in email.text


def test_content_published_names_the_kind(renderer, make_context):
    email = renderer.render("content_published", "en", make_context("content_published"))
    assert email.subject == "New in FAQ: How to import users"
    events = make_context("content_published", kind="events")
    assert "Événements" in renderer.render("content_published", "fr", events).text


def test_every_template_has_its_files_in_both_languages():
    for language in LANGUAGES:
        folder = DEFAULT_TEMPLATES_DIR / language
        for name in TEMPLATES:
            for suffix in (".subject.txt", ".txt", ".html"):
                assert (folder / f"{name}{suffix}").is_file(), f"{language}/{name}{suffix}"


def test_the_readme_table_matches_the_catalog():
    readme = (DEFAULT_TEMPLATES_DIR / "README.md").read_text(encoding="utf-8")
    rows = {}
    for line in readme.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"`\w+`", cells[0]):
            rows[cells[0].strip("`")] = (
                tuple(re.findall(r"`(\w+)`", cells[2])),
                tuple(re.findall(r"`(\w+)`", cells[3])),
            )
    assert rows == {name: (spec.required, spec.optional) for name, spec in TEMPLATES.items()}
    assert Path(DEFAULT_TEMPLATES_DIR, "README.md").is_file()


@pytest.mark.parametrize("language", LANGUAGES)
def test_import_finished_says_when_it_failed_was_a_check_or_lists_only_the_first(
    renderer, make_context, language
):
    failed = renderer.render(
        "import_finished",
        language,
        make_context(
            "import_finished",
            failed=True,
            failed_reason="The file could not be read.",
        ),
    )
    check = renderer.render(
        "import_finished",
        language,
        make_context(
            "import_finished",
            dry_run=True,
            created=0,
            would_create=41,
        ),
    )
    report = "https://portal.example.test/api/v1/accounts/a1/imports/j1/report.csv"
    first = renderer.render(
        "import_finished",
        language,
        make_context(
            "import_finished",
            anomalies_total=1250,
            report_url=report,
        ),
    )

    assert "The file could not be read." in failed.text
    assert "41" in check.text and "41</td>" in check.html
    assert "1250" in first.text and report in first.text and f'href="{report}"' in first.html
    plain = renderer.render("import_finished", language, make_context("import_finished"))
    for email in (failed, check, first, plain):
        assert "None" not in email.text and "{{" not in email.html
    assert report not in plain.text
