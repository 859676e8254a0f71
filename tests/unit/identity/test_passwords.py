"""Unit tests of the password policy: every rule of every level of both profiles."""

import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.identity.domain.passwords import (
    MAX_LENGTH,
    PROFILES,
    PolicyProfile,
    character_classes,
    check_password,
    common_passwords,
    password_rules,
    policy_for,
)

LEVELS = (1, 2, 3)
EVERY_LEVEL = [(profile, level) for profile in ("classic", "nist") for level in LEVELS]
# Names the good password shares nothing with; "Velvet-Orbit-42" has 15 characters, 4 classes.
FIRST, LAST = "Steven", "Marks"
GOOD = "Velvet-Orbit-42"
REPO = Path(__file__).resolve().parents[3]


def codes(password, level, profile="classic", first=FIRST, last=LAST, **kwargs):
    violations = check_password(
        password, level=level, first_name=first, last_name=last, profile=profile, **kwargs
    )
    return [v.code for v in violations]


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_a_good_password_passes_every_level(profile, level):
    assert codes(GOOD, level, profile) == []


# -- length -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "profile, level, minimum",
    [
        ("classic", 1, 8),
        ("classic", 2, 8),
        ("classic", 3, 10),
        ("nist", 1, 8),
        ("nist", 2, 8),
        ("nist", 3, 15),
    ],
)
def test_minimum_length_per_level(profile, level, minimum):
    long_enough = ("Qz7-" * 4)[:minimum]
    assert "too_short" not in codes(long_enough, level, profile)
    assert "too_short" in codes(long_enough[:-1], level, profile)


def test_too_short_message_says_the_minimum():
    [violation] = check_password("Qz7-Qz7-Q", level=3, first_name=FIRST, last_name=LAST)
    assert violation.code == "too_short"
    assert violation.message == "The password must be at least 10 characters long."


def unicode_password(length):
    """Upper, lower, digit, symbol, then accented letters, to exactly `length` code points."""
    return "Ωé4€" + "ü" * (length - 4)


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_128_unicode_characters_are_accepted_and_129_refused(profile, level):
    assert codes(unicode_password(MAX_LENGTH), level, profile) == []
    assert codes(unicode_password(MAX_LENGTH + 1), level, profile) == ["too_long"]


def test_length_counts_code_points_after_nfc():
    decomposed = unicodedata.normalize("NFD", unicode_password(MAX_LENGTH))
    assert len(decomposed) > MAX_LENGTH  # each "ü" is two code points before NFC
    assert codes(decomposed, 3) == []
    # and a short password does not become long enough by being decomposed
    assert codes(unicodedata.normalize("NFD", "Ωé4€üüü"), 1) == ["too_short"]


# -- composition --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, classes",
    [
        ("abcdefgh", {"lower"}),
        ("ABC123", {"upper", "digit"}),
        ("a b", {"lower", "symbol"}),
        ("Ärger", {"upper", "lower"}),
        ("ÉCOLE-école", {"upper", "lower", "symbol"}),
        ("日本語123", {"digit"}),  # caseless letters count for no class
        ("ǅ", {"upper"}),  # a titlecase letter counts as upper
        ("€", {"symbol"}),
    ],
)
def test_character_classes_of_any_unicode(password, classes):
    assert character_classes(password) == classes


@pytest.mark.parametrize("level", LEVELS)
def test_classic_needs_three_of_four_classes(level):
    assert "too_few_classes" in codes("velvetorbitnumber", level)  # lower only
    assert "too_few_classes" in codes("velvetorbit4242", level)  # lower, digit
    assert codes("velvet-orbit-42", level) == []  # lower, symbol, digit
    assert codes("Velvetorbitforty", level) == ["too_few_classes"]
    assert codes("Schöne-Grüße-Zürich", level) == []  # non-ASCII letters count by case


@pytest.mark.parametrize("level", LEVELS)
def test_nist_has_no_composition_rule(level):
    assert codes("velvet orbit quietly hums", level, "nist") == []


def test_too_few_classes_message_explains_the_kinds():
    [violation] = check_password("velvetorbit", level=1, first_name=FIRST, last_name=LAST)
    assert violation.message == (
        "The password must mix at least 3 of these 4 kinds of characters: capital letters,"
        " small letters, digits and symbols."
    )


# -- names --------------------------------------------------------------------------------------


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_password_must_not_contain_a_name(profile, level):
    assert "contains_name" in codes("My-STEVEN-is-4-ever", level, profile)
    assert "contains_name" in codes("4-ever-marks-forever", level, profile)


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_password_must_not_equal_a_name(profile, level):
    name = "Bartholomew-Featherstonehaugh"
    assert "contains_name" in codes(name.upper(), level, profile, last=name)


def test_names_shorter_than_three_characters_are_ignored_for_contains():
    assert codes("Lily-Orbit-42", 1, first="Li", last="Xu") == []
    assert "contains_name" in codes("Li", 1, first="Li", last="Xu")  # but not for equals


def test_names_are_compared_after_nfc_and_casefolding():
    assert "contains_name" in codes("4-ever-ZOË-x", 1, first=unicodedata.normalize("NFD", "Zoë"))


def test_level_one_allows_a_run_shared_with_a_name():
    assert codes("Velvet-MAR-42", 1) == []


@pytest.mark.parametrize("level", (2, 3))
def test_classic_levels_two_and_three_refuse_a_run_shared_with_a_name(level):
    assert codes("Velvet-MAR-4242", level) == ["shares_name_run"]  # "mar" from Marks
    assert codes("Velvet-ev-en-42", level) == []  # no 3 in a row from "steven"
    assert codes("Velvet-Steve-42", level) == ["shares_name_run"]


def test_shared_run_message_names_the_run():
    [violation] = check_password("Velvet-MAR-4242", level=2, first_name=FIRST, last_name=LAST)
    assert violation.message == (
        "The password must not contain 3 characters in a row that also appear in your first or"
        " last name. Here: “mar”."
    )


@pytest.mark.parametrize("level", LEVELS)
def test_nist_does_not_refuse_shared_runs(level):
    assert codes("Velvet-MAR-4242-quietly", level, "nist") == []


# -- history ------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", (2, 3))
def test_classic_refuses_any_of_the_last_24_passwords(level, cheap_hasher):
    others = [cheap_hasher.hash(f"Older-{n}-password") for n in range(23)]
    history = [*others, cheap_hasher.hash(GOOD)]  # the 24th most recent
    assert codes(GOOD, level, previous_hashes=history, hasher=cheap_hasher) == ["reused"]


def test_a_password_older_than_24_may_come_back(cheap_hasher):
    others = [cheap_hasher.hash(f"Older-{n}-password") for n in range(24)]
    history = [*others, cheap_hasher.hash(GOOD)]  # the 25th most recent
    assert codes(GOOD, 2, previous_hashes=history, hasher=cheap_hasher) == []


def test_reuse_is_matched_after_nfc(cheap_hasher):
    history = [cheap_hasher.hash("Velvet-Orbité-42")]
    decomposed = unicodedata.normalize("NFD", "Velvet-Orbité-42")
    assert codes(decomposed, 2, previous_hashes=history, hasher=cheap_hasher) == ["reused"]


@pytest.mark.parametrize("profile, level", [("classic", 1), ("nist", 1), ("nist", 2), ("nist", 3)])
def test_no_history_check_where_the_policy_has_none(profile, level, cheap_hasher):
    history = [cheap_hasher.hash(GOOD)]
    assert codes(GOOD, level, profile, previous_hashes=history, hasher=cheap_hasher) == []


def test_reuse_message():
    assert {
        "code": "reused",
        "text": (
            "The password must differ from your last 24 passwords; choose one you have not used"
            " before."
        ),
        "value": 24,
    } in password_rules(2)


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_a_rule_about_a_number_gives_the_number_its_text_states(profile, level):
    numbered = {"too_short", "too_long", "too_few_classes", "shares_name_run", "reused"}
    for rule in password_rules(level, profile):
        if rule["code"] in numbered:
            assert isinstance(rule["value"], int) and str(rule["value"]) in rule["text"], rule
        else:
            assert "value" not in rule, rule


# -- blocklist ----------------------------------------------------------------------------------


def test_the_blocklist_ships_at_least_10000_lower_case_entries():
    blocklist = common_passwords()
    assert len(blocklist) >= 10_000
    assert all(entry == entry.casefold() and entry.strip() == entry for entry in blocklist)
    assert {"password", "123456", "qwerty", "iloveyou"} <= blocklist


def test_the_blocklist_is_read_on_first_use_not_on_import():
    script = (
        "import services.identity.domain.passwords as p;"
        "print(p.common_passwords.cache_info().currsize)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_a_common_password_is_refused_at_every_level(profile, level):
    # 19 characters, all four classes, shares nothing with the names: only the list refuses it.
    assert codes("John!20130605at1753", level, profile) == ["common"]
    assert "common" in codes("PassWord1!", level, profile)  # compared case-insensitively


def test_common_message_says_what_to_do():
    [violation] = check_password("John!20130605at1753", level=1, first_name=FIRST, last_name=LAST)
    assert violation.message == (
        "The password must not be a common password that is easy to guess; a few unrelated"
        " words make a good one."
    )


# -- rules, profiles, expiry --------------------------------------------------------------------


def test_rules_in_force_per_level_and_profile():
    def rule_codes(level, profile="classic"):
        return [rule["code"] for rule in password_rules(level, profile)]

    base = ["too_short", "too_long", "too_few_classes", "contains_name"]
    assert rule_codes(1) == [*base, "common"]
    assert rule_codes(2) == rule_codes(3) == [*base, "shares_name_run", "common", "reused"]
    for level in LEVELS:
        assert rule_codes(level, "nist") == ["too_short", "too_long", "contains_name", "common"]
    assert password_rules(3)[0]["text"] == "The password must be at least 10 characters long."
    assert password_rules(3, "nist")[0]["text"] == (
        "The password must be at least 15 characters long."
    )


@pytest.mark.parametrize("profile, level", EVERY_LEVEL)
def test_every_message_is_a_sentence(profile, level):
    for rule in password_rules(level, profile):
        assert rule["text"][0].isupper() and rule["text"].endswith(".")


@pytest.mark.parametrize(
    "profile, level, expiry_days, lock_threshold",
    [
        ("classic", 1, None, None),
        ("classic", 2, 90, 5),
        ("classic", 3, 90, 5),
        ("nist", 1, None, None),
        ("nist", 2, None, 5),
        ("nist", 3, None, 5),
    ],
)
def test_expiry_and_lock_threshold_per_level(profile, level, expiry_days, lock_threshold):
    policy = policy_for(level, profile)
    assert (policy.expiry_days, policy.lock_threshold) == (expiry_days, lock_threshold)
    assert policy.max_length == 128


def test_classic_moderate_password_expires_after_90_days():
    changed = datetime(2025, 1, 1, tzinfo=UTC)
    policy = policy_for(2)
    assert policy.expires_at(changed) == changed + timedelta(days=90)
    assert not policy.expires(changed, changed + timedelta(days=90) - timedelta(seconds=1))
    assert policy.expires(changed, changed + timedelta(days=90))


@pytest.mark.parametrize("profile, level", [("classic", 1), ("nist", 2), ("nist", 3)])
def test_passwords_without_expiry_never_expire(profile, level):
    changed = datetime(2025, 1, 1, tzinfo=UTC)
    policy = policy_for(level, profile)
    assert policy.expires_at(changed) is None
    assert not policy.expires(changed, changed + timedelta(days=3650))


def test_unknown_level_or_profile_is_refused():
    with pytest.raises(ValueError):
        policy_for(4)
    with pytest.raises(ValueError):
        policy_for(1, "lenient")


def test_profiles_are_frozen_data():
    policy = PROFILES["classic"][2]
    assert isinstance(policy, PolicyProfile)
    with pytest.raises(AttributeError):
        policy.min_length = 4  # type: ignore[misc]
