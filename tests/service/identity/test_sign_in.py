"""Sign-in: one answer for every failure, the per-e-mail throttle and lock, unlock, expiry, rehash."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.identity.domain.hashing import Argon2Hasher
from tests.service.identity.conftest import PASSWORD, Driver


class SpyHasher(Argon2Hasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.calls: list[str] = []
        self.in_dummy = False

    def verify(self, hashed: str, password: str) -> bool:
        if not self.in_dummy:
            self.calls.append("verify")
        return super().verify(hashed, password)

    def dummy_verify(self, password: str) -> bool:
        self.calls.append("dummy")
        self.in_dummy = True
        try:
            return super().dummy_verify(password)
        finally:
            self.in_dummy = False


@pytest.fixture
def account(svc):
    return svc.account()


def test_a_right_password_signs_in(svc, account):
    user = svc.active_user(account["id"])
    response = svc.sign_in(user["email"].upper())
    assert response.status_code == 200
    assert response.json["user"]["id"] == user["id"]
    assert response.json["user"]["last_sign_in_at"] == "2025-01-01T09:00:00Z"
    assert response.json["password_change_required"] is False
    svc.clock.advance(timedelta(days=1))
    again = svc.sign_in(user["email"]).json["user"]
    assert again["previous_sign_in_at"] == "2025-01-01T09:00:00Z"
    assert again["last_sign_in_at"] == "2025-01-02T09:00:00Z"


def test_unknown_e_mail_wrong_password_and_pending_user_get_the_same_answer(svc, account):
    spy = SpyHasher()
    user = svc.active_user(account["id"])
    pending, _ = svc.user(account["id"])
    svc.part.hasher = spy
    answers = [
        svc.sign_in("nobody@example.com"),
        svc.sign_in(user["email"], "Wrong-Password-1"),
        svc.sign_in(pending["email"], "Whatever-1"),
        svc.sign_in("not even an e-mail"),
    ]
    assert {a.status_code for a in answers} == {401}
    assert len({a.get_data() for a in answers}) == 1
    assert answers[0].json["detail"].startswith("The e-mail address or the password is not right")
    # every failure spends one Argon2 verification, real or dummy
    assert spy.calls == ["dummy", "verify", "dummy", "dummy"]


def test_five_failures_lock_a_moderate_user_and_the_lock_is_announced(svc, account):
    user = svc.active_user(account["id"], password_level=2)
    answers = [svc.sign_in(user["email"], f"Wrong-{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    locked = svc.envelopes("identity.user.locked")
    assert len(locked) == 1
    assert locked[0]["data"] == {
        "user_id": user["id"],
        "account_id": account["id"],
        "until": "2025-01-01T09:15:00Z",
        "reason": "failed_sign_ins",
    }
    right = svc.sign_in(user["email"], PASSWORD)
    assert right.status_code == 423
    assert "Forgotten password" in right.json["detail"] and "administrator" in right.json["detail"]
    path = f"/internal/accounts/{account['id']}/users/{user['id']}"
    assert svc.get(path).json["status"] == "locked"
    assert svc.count("identity.user.locked") == 1


def test_unknown_e_mails_are_locked_after_the_same_number_of_failures(svc):
    answers = [svc.sign_in("ghost@example.com", f"Wrong-{n}") for n in range(6)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423, 423]
    email = svc.active_user(svc.account()["id"])["email"]
    known = [svc.sign_in(email, f"W-{n}") for n in range(6)]
    assert [a.get_data() for a in answers] == [a.get_data() for a in known]
    assert svc.count("identity.user.locked") == 1


def test_a_weak_level_user_is_throttled_like_an_unknown_address_but_not_locked(svc, account):
    user = svc.active_user(account["id"], password_level=1)
    answers = [svc.sign_in(user["email"], f"Wrong-{n}") for n in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    assert svc.sign_in(user["email"]).status_code == 423
    assert svc.count("identity.user.locked") == 0
    assert (
        svc.get(f"/internal/accounts/{account['id']}/users/{user['id']}").json["status"] == "active"
    )
    svc.clock.advance(timedelta(minutes=15))
    assert svc.sign_in(user["email"]).status_code == 200


def test_the_lock_is_temporary(svc, account):
    user = svc.active_user(account["id"])
    for n in range(5):
        svc.sign_in(user["email"], f"Wrong-{n}")
    svc.clock.advance(timedelta(minutes=14, seconds=59))
    assert svc.sign_in(user["email"]).status_code == 423
    svc.clock.advance(timedelta(seconds=1))
    assert (
        svc.get(f"/internal/accounts/{account['id']}/users/{user['id']}").json["status"] == "active"
    )
    assert svc.sign_in(user["email"]).status_code == 200
    assert svc.last("identity.user.unlocked") == {
        "user_id": user["id"],
        "account_id": account["id"],
        "by": None,
    }


def test_a_user_whose_lock_ran_out_is_locked_again_by_five_more_failures(svc, account):
    user = svc.active_user(account["id"])
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")
    svc.clock.advance(timedelta(minutes=20))
    assert [svc.sign_in(user["email"], "wrong").status_code for _ in range(5)] == [401] * 4 + [423]
    assert [e["until"] for e in svc.events("identity.user.locked")] == [
        "2025-01-01T09:15:00Z",
        "2025-01-01T09:35:00Z",
    ]
    assert (
        svc.get(f"/internal/accounts/{account['id']}/users/{user['id']}").json["status"] == "locked"
    )


def test_the_threshold_and_the_lock_length_are_settings(make_part):
    svc = Driver(make_part(PORTICO_LOCK_THRESHOLD="3", PORTICO_LOCK_MINUTES="60"))
    user = svc.active_user(svc.account()["id"])
    assert [svc.sign_in(user["email"], "x").status_code for _ in range(3)] == [401, 401, 423]
    svc.clock.advance(timedelta(minutes=59))
    assert svc.sign_in(user["email"]).status_code == 423
    svc.clock.advance(timedelta(minutes=1))
    assert svc.sign_in(user["email"]).status_code == 200


def test_a_success_restarts_the_count(svc, account):
    user = svc.active_user(account["id"])
    for _ in range(4):
        svc.sign_in(user["email"], "wrong")
    assert svc.sign_in(user["email"]).status_code == 200
    assert [svc.sign_in(user["email"], "wrong").status_code for _ in range(4)] == [401] * 4


def test_an_administrator_unlocks(svc, account):
    user = svc.active_user(account["id"])
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")
    path = f"/internal/accounts/{account['id']}/users/{user['id']}/unlock"
    assert svc.post(path, actor="admin-3").status_code == 204
    assert svc.last("identity.user.unlocked") == {
        "user_id": user["id"],
        "account_id": account["id"],
        "by": "admin-3",
    }
    assert svc.sign_in(user["email"]).status_code == 200
    audit = svc.get(f"/internal/accounts/{account['id']}/audit").json["items"]
    assert any(item["action"] == "user_unlocked" and item["actor"] == "admin-3" for item in audit)
    pending, _ = svc.user(account["id"])
    refused = svc.post(f"/internal/accounts/{account['id']}/users/{pending['id']}/unlock")
    assert refused.status_code == 409 and "activation" in refused.json["detail"]


def test_an_administrator_also_ends_the_throttle_of_a_weak_level_user(svc, account):
    user = svc.active_user(account["id"], password_level=1)
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")
    assert (
        svc.post(f"/internal/accounts/{account['id']}/users/{user['id']}/unlock").status_code == 204
    )
    assert svc.count("identity.user.unlocked") == 0  # it was never locked
    assert svc.sign_in(user["email"]).status_code == 200


def test_a_moderate_password_expires_after_90_days(svc, account):
    weak = svc.active_user(account["id"], password_level=1)
    moderate = svc.active_user(account["id"], password_level=2)
    strong = svc.active_user(account["id"], password_level=3, password="Blue-Kettle-Sings-77")
    svc.clock.advance(timedelta(days=89))
    assert svc.sign_in(moderate["email"]).json["password_change_required"] is False
    svc.clock.advance(timedelta(days=1))
    assert svc.sign_in(moderate["email"]).json["password_change_required"] is True
    assert (
        svc.sign_in(strong["email"], "Blue-Kettle-Sings-77").json["password_change_required"]
        is True
    )
    assert svc.sign_in(weak["email"]).json["password_change_required"] is False
    change = svc.post(
        f"/internal/users/{moderate['id']}/password",
        {"current_password": PASSWORD, "new_password": "Green-Teapot-Hums-8"},
    )
    assert change.status_code == 204
    assert (
        svc.sign_in(moderate["email"], "Green-Teapot-Hums-8").json["password_change_required"]
        is False
    )


def test_the_nist_profile_never_expires_passwords(make_part):
    svc = Driver(make_part(PORTICO_PASSWORD_PROFILE="nist"))
    user = svc.active_user(svc.account()["id"], password_level=2, password="correct horse battery")
    svc.clock.advance(timedelta(days=400))
    answer = svc.sign_in(user["email"], "correct horse battery")
    assert answer.status_code == 200 and answer.json["password_change_required"] is False


def test_a_hash_with_older_parameters_is_upgraded_at_the_next_sign_in(svc, account):
    user = svc.active_user(account["id"])
    [before] = svc.rows("users", id=user["id"])
    assert "m=8," in before.password_hash
    svc.part.hasher = Argon2Hasher(time_cost=1, memory_cost=16, parallelism=1)
    assert svc.sign_in(user["email"]).status_code == 200
    [after] = svc.rows("users", id=user["id"])
    assert "m=16," in after.password_hash and after.password_hash != before.password_hash
    assert [row.password_hash for row in svc.rows("password_history", user_id=user["id"])] == [
        after.password_hash
    ]
    assert svc.sign_in(user["email"]).status_code == 200


def test_every_attempt_is_audited(svc, account):
    user = svc.active_user(account["id"])
    svc.sign_in(user["email"], "wrong")
    svc.sign_in(user["email"])
    svc.sign_in("stranger@example.com", "whatever", ip="198.51.100.1", user_agent="curl")
    audits = svc.get(f"/internal/users/{user['id']}/audits").json
    sign_ins = [
        (a["action"], a["result"], a["ip"], a["user_agent"])
        for a in audits["items"]
        if a["action"] == "sign_in"
    ]
    assert sign_ins == [
        ("sign_in", "succeeded", "192.0.2.7", "pytest"),
        ("sign_in", "failed", "192.0.2.7", "pytest"),
    ]
    assert audits["items"][0]["at"] == "2025-01-01T09:00:00Z"
    [stranger] = [row for row in svc.rows("audit_log", action="sign_in") if row.user_id is None]
    assert (stranger.target, stranger.result, stranger.ip, stranger.user_agent) == (
        "stranger@example.com",
        "failed",
        "198.51.100.1",
        "curl",
    )
    account_audit = svc.get(f"/internal/accounts/{account['id']}/audit").json["items"]
    assert [a["result"] for a in account_audit if a["action"] == "sign_in"] == [
        "succeeded",
        "failed",
    ]
    assert svc.get("/internal/users/nobody/audits").status_code == 404


def test_a_malformed_sign_in_is_refused_before_anything_is_counted(svc):
    assert svc.post("/internal/sign-in", {"email": "a@example.com"}).status_code == 422
    assert (
        svc.post("/internal/sign-in", {"email": "a@example.com", "password": 3}).status_code == 422
    )
    assert svc.rows("login_throttle") == [] and svc.rows("audit_log") == []


def test_the_lock_release_job_reactivates_expired_locks(svc, account):
    from services.identity.service_layer.sign_in import release_expired_locks

    user = svc.active_user(account["id"])
    for _ in range(5):
        svc.sign_in(user["email"], "wrong")
    svc.clock.advance(timedelta(minutes=16))
    with svc.part.uow() as uow:
        assert release_expired_locks(uow) == 1
        uow.commit()
    [row] = svc.rows("users", id=user["id"])
    assert row.status == "active" and row.locked_until is None
    assert svc.last("identity.user.unlocked")["by"] is None
