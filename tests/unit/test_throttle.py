from __future__ import annotations

from datetime import timedelta

import pytest

from domain.ports import Hits
from domain.staff import LoginThrottled
from domain.throttle import LoginThrottle

THROTTLE = LoginThrottle(per_account=5, per_ip=30, window=timedelta(minutes=15))


def hits(count: int, seconds: int = 600) -> Hits:
    return Hits(count, timedelta(seconds=seconds))


def test_attempts_up_to_the_limits_pass():
    THROTTLE.check(hits(5), hits(30))


def test_one_attempt_over_the_account_limit_waits_for_the_window():
    with pytest.raises(LoginThrottled) as caught:
        THROTTLE.check(hits(6, seconds=125), hits(6))
    assert caught.value.retry_after == timedelta(seconds=125)
    assert caught.value.params == {"minutes": 3}


def test_the_longer_wait_wins_when_both_limits_are_exceeded():
    with pytest.raises(LoginThrottled) as caught:
        THROTTLE.check(hits(6, seconds=60), hits(31, seconds=800))
    assert caught.value.retry_after == timedelta(seconds=800)
