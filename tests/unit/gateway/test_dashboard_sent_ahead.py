"""compose_dashboard with clients that send their calls ahead (the distributed mode's road)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from gateway.service_layer.dashboard import compose_dashboard


class Sent:
    def __init__(self, answer, log):
        self.answer, self.log, self.cancelled = answer, log, False

    def result(self, timeout=None):
        self.log.append(("read", timeout is not None))
        if isinstance(self.answer, BaseException):
            raise self.answer
        return self.answer

    def cancel(self):
        self.cancelled = True


class Client:
    def __init__(self, answer, log):
        self.answer, self.log, self.sent = answer, log, []

    def begin_get(self, path, *, params=None, headers=None):
        self.log.append(("send", path))
        self.sent.append(Sent(self.answer, self.log))
        return self.sent[-1]

    def get(self, *args, **kwargs):  # pragma: no cover - the road is taken
        raise AssertionError("a client that sends ahead is not called on the pool")


SUBSCRIPTIONS = {
    "my_services": {"accepted": 1, "pending": 0, "refused": 0, "last": []},
    "catalog": {
        "not_subscribed": 2,
        "new_since_last_sign_in": 0,
        "without_subscriber": 0,
        "pending_validation": 0,
    },
}
IDENTITY = {
    "last_audits": {"items": []},
    "administrators": {"items": [{"id": "a1"}]},
    "users": {"active": 3},
}


def compose(clients, meanwhile=lambda: "local"):
    with ThreadPoolExecutor(1) as pool:
        return compose_dashboard(
            pool,
            clients,
            {},
            user_id="u1",
            since=None,
            is_administrator=True,
            timeout=2,
            meanwhile=meanwhile,
        )


def test_both_calls_are_sent_before_the_local_read_and_read_after_it():
    log = []
    clients = {"subscriptions": Client(SUBSCRIPTIONS, log), "identity": Client(IDENTITY, log)}
    panels, local = compose(clients, meanwhile=lambda: log.append(("meanwhile",)) or "local")
    assert [entry[0] for entry in log] == ["send", "send", "meanwhile", "read", "read"]
    assert [entry for entry in log if entry[0] == "read"] == [
        ("read", True)
    ] * 2  # each within the deadline
    assert (
        local == "local"
        and panels["catalog"]["not_subscribed"] == 2
        and panels["users"] == {"active": 3}
    )


def test_a_timeout_marks_the_panel_and_drops_the_call():
    log = []
    clients = {"subscriptions": Client(TimeoutError(), log), "identity": Client(IDENTITY, log)}
    panels, _ = compose(clients)
    assert (
        panels["my_services"]["unavailable"] is True
        and "within 2 s" in panels["my_services"]["reason"]
    )
    assert clients["subscriptions"].sent[0].cancelled and not clients["identity"].sent[0].cancelled


def test_a_failing_local_read_drops_the_calls_sent_ahead():
    log = []
    clients = {"subscriptions": Client(SUBSCRIPTIONS, log), "identity": Client(IDENTITY, log)}

    def broken():
        raise RuntimeError("the projection's database is down")

    with pytest.raises(RuntimeError):
        compose(clients, meanwhile=broken)
    assert all(client.sent[0].cancelled for client in clients.values())
