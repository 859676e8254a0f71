"""The login key: every spelling of an address has one key; anything else is refused, saying why."""

from __future__ import annotations

import unicodedata

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus.login import NotAnAddress, counting_key, fold, login_key

LOCAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
DOMAINS = ["retail-it.example", "bücher.example", "exämple.fr", "société.example", "例え.jp"]


def full_width(char: str) -> str:
    """The full-width form of a printable ASCII character (what a Japanese keyboard types)."""
    return chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char


COMPATIBLE = {
    "a": ["ａ", "Ａ", "ⓐ", "ª"],
    "i": ["ｉ", "ⅰ"],
    "1": ["１", "¹", "①"],
    "@": ["＠", "﹫"],
    ".": ["．"],
    "f": ["ｆ", "𝐟"],
    "e": ["ｅ", "ℯ"],
}


@st.composite
def spelling(draw: st.DrawFn, address: str) -> str:
    """One way a person (or an attacker) may type `address`."""
    local, domain = address.rsplit("@", 1)
    if draw(st.booleans()):
        domain = domain.encode("idna").decode() if domain.isascii() else _ascii(domain)
    out = []
    for char in f"{local}@{domain}":
        how = draw(st.sampled_from(["same", "upper", "full", "compat"]))
        if how == "upper":
            char = char.upper()
        elif how == "full":
            char = full_width(char)
        elif how == "compat" and char in COMPATIBLE:
            char = draw(st.sampled_from(COMPATIBLE[char]))
        out.append(char)
    spaces = st.sampled_from(["", " ", "\t", "\u3000", "\u00a0", " \n"])
    return draw(spaces) + "".join(out) + draw(spaces)


def _ascii(domain: str) -> str:
    import idna

    return idna.encode(domain, uts46=True).decode()


addresses = st.builds(lambda local, domain: f"{local}@{domain}", LOCAL, st.sampled_from(DOMAINS))


def reference_key(address: str) -> str:
    """What the key must be, from email-validator itself (no short path)."""
    folded = unicodedata.normalize(
        "NFKC", unicodedata.normalize("NFKC", address).casefold()
    ).strip()
    checked = validate_email(folded, check_deliverability=False)
    return f"{checked.local_part}@{checked.ascii_domain}"


def test_the_issues_address_is_one_login_in_every_spelling() -> None:
    key = login_key("olivier.laurent@retail-it.example")
    assert key == "olivier.laurent@retail-it.example"
    for variant in (
        "olivier.laurent@ｒetail-it.example",
        "OLIVIER.Laurent@Retail-IT.example",
        "  ｏｌｉｖｉｅｒ．ｌａｕｒｅｎｔ＠ｒｅｔａｉｌ－ｉｔ．ｅｘａｍｐｌｅ\u3000",
    ):
        assert login_key(variant) == key


def test_an_international_domain_is_keyed_in_its_idna_form() -> None:
    assert login_key("Anna@BÜCHER.example") == "anna@xn--bcher-kva.example"
    assert login_key("anna@xn--bcher-kva.example") == "anna@xn--bcher-kva.example"


def test_case_folding_goes_beyond_lower_case() -> None:
    assert login_key("STRASSE@x.example") == login_key("straße@x.example") == "strasse@x.example"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), addresses)
def test_every_spelling_of_an_address_has_its_key(data: st.DataObject, address: str) -> None:
    typed = data.draw(spelling(address))
    assert login_key(typed) == login_key(address) == reference_key(address)


@settings(max_examples=300)
@given(
    st.text(min_size=1, max_size=40).map(lambda local: local + "@example.com")
    | st.text(max_size=60)
)
def test_a_key_is_its_own_key_and_the_stored_form_keeps_it(text: str) -> None:
    try:
        key = login_key(text)
    except NotAnAddress as refusal:
        assert refusal.message.endswith("Check it and try again.") or "empty" in refusal.message
        return
    assert key == reference_key(text)
    assert login_key(key) == key
    try:
        stored = validate_email(text.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return  # identity refuses to store it; its key still answers sign-in attempts
    assert login_key(stored) == key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "no-at-sign",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "a@example..com",
        "a@-example.com",
        "x" * 300 + "@example.com",
    ],
)
def test_anything_but_an_address_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(NotAnAddress) as refused:
        login_key(text)
    assert refused.value.message.startswith(
        ("This is not an e-mail address we can use: ", "The e-mail address is empty")
    )


def test_text_that_is_no_address_is_still_counted_in_one_form() -> None:
    assert (
        counting_key(" NOT-AN-ADDRESS ")
        == counting_key("ｎｏｔ－ａｎ－ａｄｄｒｅｓｓ")
        == "not-an-address"
    )
    assert counting_key("Olivier@Retail-IT.example") == "olivier@retail-it.example"
    assert fold("ＡＢＣ") == "abc"
