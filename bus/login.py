"""The login key: the one form in which an e-mail address is compared, counted and looked up.

Every part that decides who someone is uses it: uniqueness of users, sign-in, the lockout and
password-reset counters, every rate limit keyed by an address, duplicates in an import. Two
spellings of one address — letters in another case, full-width or other compatibility forms,
a domain in Unicode or in its IDNA (xn--) form, spaces around — have one key, so they are one
login for every rule.

The key is the address in Unicode NFKC, case-folded, then checked by email-validator (the
same rules as everywhere else, bus.contracts.emails), with its domain in IDNA ASCII form.
It is for comparing only: the address kept for display and delivery is another matter.
"""

from __future__ import annotations

import unicodedata

from email_validator import EmailNotValidError

from bus.contracts.emails import validated_address


class NotAnAddress(ValueError):
    """The text is no e-mail address; `message` says why, for the person who typed it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def fold(text: str) -> str:
    """NFKC, case-folded, stripped: the form of any text before it is read as an address."""
    if text.isascii():
        return text.strip().lower()
    folded = unicodedata.normalize("NFKC", text).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def login_key(address: str) -> str:
    """The login key of `address` (`local@ascii-domain`), or NotAnAddress saying what is wrong."""
    if not isinstance(address, str):
        raise NotAnAddress("The e-mail address must be text.")
    folded = fold(address)
    if not folded:
        raise NotAnAddress("The e-mail address is empty; type the address you sign in with.")
    try:
        checked = validated_address(folded)
    except EmailNotValidError as error:
        raise NotAnAddress(
            f"This is not an e-mail address we can use: {error} Check it and try again."
        ) from None
    return f"{checked.local_part}@{checked.ascii_domain}"


def counting_key(text: str) -> str:
    """The key attempts are counted under: the login key of an address, and the folded text of
    anything else, so that the spellings of a wrong entry are counted together too."""
    try:
        return login_key(text)
    except NotAnAddress:
        return fold(text)
