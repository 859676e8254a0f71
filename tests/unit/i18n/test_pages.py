"""The pages read their words from the catalogs: the English of every page as it was written,
the French beside it, placeholders filled and escaped, a word of the vocabulary by its value."""

from __future__ import annotations

from flask import Flask

from gateway.web import i18n


def in_language(lang: str, key: str, **params):
    app = Flask(__name__)
    with app.test_request_context("/"):
        i18n.set_language(lang)
        return i18n.translate(key, **params)


def test_a_page_text_reads_in_english_and_in_french():
    assert in_language("en", "nav.skip") == "Skip to content"
    assert in_language("fr", "nav.skip") == "Aller au contenu"


def test_placeholders_are_filled_and_escaped():
    english = in_language("en", "flash.user_created", email="<b>a@example.com</b>")
    assert "&lt;b&gt;a@example.com&lt;/b&gt;" in english
    assert "<b>" not in english


def test_a_vocabulary_word_is_read_by_its_value_and_an_unknown_one_is_shown_as_it_is():
    app = Flask(__name__)
    with app.test_request_context("/"):
        i18n.set_language("fr")
        assert i18n.word("user_status", "active") != "active"
        assert i18n.word("user_status", "no-such-status") == "no-such-status"
        assert i18n.has("nav.skip") and not i18n.has("nav.no_such_key")


def test_english_and_french_hold_the_same_keys():
    assert set(i18n.catalog("en")) == set(i18n.catalog("fr"))
    assert len(i18n.catalog("en")) > 500
