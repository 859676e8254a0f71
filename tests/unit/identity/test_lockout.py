"""Unit tests of sign-in throttling, moved by a fake clock."""

from datetime import timedelta

from services.identity.domain.lockout import LoginThrottle, throttle_key


def fail(throttle, clock, times, **kwargs):
    locked = False
    for _ in range(times):
        throttle, locked = throttle.record_failure(clock.now(), **kwargs)
    return throttle, locked


def test_the_key_is_the_login_key_of_the_typed_email():
    assert throttle_key("  Steven.MARKS@Example.com ") == "steven.marks@example.com"
    assert throttle_key("ｓｔｅｖｅｎ.marks@ＥＸＡＭＰＬＥ.com") == "steven.marks@example.com"
    assert throttle_key("steven@BÜCHER.example") == "steven@xn--bcher-kva.example"
    assert throttle_key("not even an address") == "not even an address"
    assert throttle_key("ＮＯＴ even an address") == "not even an address"


def test_four_failures_do_not_lock_the_fifth_does(clock):
    throttle, locked = fail(LoginThrottle(), clock, 4)
    assert (throttle.failures, locked, throttle.is_locked(clock.now())) == (4, False, False)
    throttle, locked = throttle.record_failure(clock.now())
    assert locked and throttle.is_locked(clock.now())
    assert throttle.locked_until == clock.now() + timedelta(minutes=15)


def test_the_lock_ends_after_15_minutes_and_counting_starts_again(clock):
    throttle, _ = fail(LoginThrottle(), clock, 5)
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert throttle.is_locked(clock.now())
    clock.advance(timedelta(seconds=1))
    assert not throttle.is_locked(clock.now())
    throttle, locked = throttle.record_failure(clock.now())
    assert (throttle.failures, locked) == (1, False)


def test_failures_during_a_lock_neither_count_nor_extend_it(clock):
    throttle, _ = fail(LoginThrottle(), clock, 5)
    clock.advance(timedelta(minutes=10))
    after, locked = throttle.record_failure(clock.now())
    assert locked and after == throttle


def test_success_resets_the_count(clock):
    throttle, _ = fail(LoginThrottle(), clock, 4)
    throttle = throttle.reset()
    throttle, locked = fail(throttle, clock, 4)
    assert (throttle.failures, locked) == (4, False)


def test_unlock_ends_a_lock_at_once(clock):
    throttle, _ = fail(LoginThrottle(), clock, 5)
    assert not throttle.reset().is_locked(clock.now())


def test_threshold_and_duration_are_configurable(clock):
    throttle, locked = fail(LoginThrottle(), clock, 3, threshold=3, lock_minutes=60)
    assert locked
    clock.advance(timedelta(minutes=59))
    assert throttle.is_locked(clock.now())


def test_no_threshold_never_locks(clock):
    throttle, locked = fail(LoginThrottle(), clock, 50, threshold=None)
    assert (throttle.failures, locked) == (50, False)
