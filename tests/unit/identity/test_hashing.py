"""Unit tests of Argon2id hashing: no truncation, NFC, rehash detection, the dummy verification."""

import threading
import time
import unicodedata

import pytest
from argon2 import PasswordHasher, Type

from services.identity.domain.hashing import Argon2Hasher, default_hasher


def test_a_hash_verifies_its_password_only(cheap_hasher):
    hashed = cheap_hasher.hash("Velvet-Orbit-42")
    assert hashed.startswith("$argon2id$")
    assert cheap_hasher.verify(hashed, "Velvet-Orbit-42")
    assert not cheap_hasher.verify(hashed, "velvet-orbit-42")


def test_the_same_password_hashes_differently_each_time(cheap_hasher):
    assert cheap_hasher.hash("Velvet-Orbit-42") != cheap_hasher.hash("Velvet-Orbit-42")


@pytest.mark.parametrize("position", [99, 127])
def test_nothing_is_truncated(cheap_hasher, position):
    password = "é" * 128
    other = password[:position] + "è" + password[position + 1 :]
    hashed = cheap_hasher.hash(password)
    assert cheap_hasher.verify(hashed, password)
    assert not cheap_hasher.verify(hashed, other)


def test_passwords_are_normalised_to_nfc_before_hashing(cheap_hasher):
    composed = "Zoë-Ångström-1"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert cheap_hasher.verify(cheap_hasher.hash(composed), decomposed)
    assert cheap_hasher.verify(cheap_hasher.hash(decomposed), composed)


def test_garbage_hashes_do_not_verify(cheap_hasher):
    assert not cheap_hasher.verify("not a hash", "anything")
    assert not cheap_hasher.verify("", "anything")


def test_production_parameters_are_owasp_argon2id():
    hashed = default_hasher().hash("Velvet-Orbit-42")
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert default_hasher() is default_hasher()


def test_hashes_made_with_older_parameters_need_rehash(cheap_hasher):
    production = default_hasher()
    assert production.needs_rehash(cheap_hasher.hash("Velvet-Orbit-42"))
    argon2i = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=Type.I)
    assert production.needs_rehash(argon2i.hash("Velvet-Orbit-42"))
    assert production.needs_rehash("$2b$12$legacy.bcrypt.hash")
    assert not cheap_hasher.needs_rehash(cheap_hasher.hash("Velvet-Orbit-42"))


def test_parameters_are_configurable():
    hasher = Argon2Hasher(time_cost=1, memory_cost=16, parallelism=2, hash_len=16, salt_len=8)
    assert hasher.hash("x").startswith("$argon2id$v=19$m=16,t=1,p=2$")


def test_dummy_verify_always_fails_and_costs_a_real_verification(cheap_hasher, monkeypatch):
    verified = []
    original = Argon2Hasher.verify

    def spy(self, hashed, password):
        verified.append(hashed)
        return original(self, hashed, password)

    monkeypatch.setattr(Argon2Hasher, "verify", spy)
    assert cheap_hasher.dummy_verify("Velvet-Orbit-42") is False
    [dummy] = verified
    # the dummy hash carries the hasher's own parameters, so it takes as long as a real one
    assert not cheap_hasher.needs_rehash(dummy)


@pytest.mark.parametrize("concurrency", [1, 2])
def test_a_process_computes_no_more_hashes_at_once_than_its_concurrency(concurrency):
    hasher = Argon2Hasher(time_cost=1, memory_cost=64, concurrency=concurrency)
    hashed = hasher.hash("Velvet-Orbit-42")
    running, most, lock = [0], [0], threading.Lock()
    compute = hasher._hasher.verify

    class Slow:  # the library's hasher, one verification taking a while, counted
        def verify(self, stored, password):
            return slow_verify(stored, password)

    def slow_verify(stored, password):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        try:
            return compute(stored, password)
        finally:
            with lock:
                running[0] -= 1

    hasher._hasher = Slow()
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(hasher.verify(hashed, "Velvet-Orbit-42")))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [True] * 6  # every one verified, in turn
    assert most[0] == concurrency
