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
    THROTTLE.check_account(hits(5))
    THROTTLE.check_address(hits(30))


def test_one_attempt_over_a_limit_waits_for_the_window():
    with pytest.raises(LoginThrottled) as caught:
        THROTTLE.check_account(hits(6, seconds=125))
    assert caught.value.retry_after == timedelta(seconds=125)
    assert caught.value.params == {"minutes": 3}
    with pytest.raises(LoginThrottled):
        THROTTLE.check_address(hits(31))


def test_only_the_first_refusal_of_a_window_is_news():
    assert THROTTLE.newly_refused(hits(6), 5)
    assert not THROTTLE.newly_refused(hits(7), 5) and not THROTTLE.newly_refused(hits(5), 5)
