"""Login throttling: a password guesser gets a few tries per account and per address, then waits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from domain.ports import Hits
from domain.staff import LoginThrottled


@dataclass(frozen=True, slots=True)
class LoginThrottle:
    per_account: int = 5
    per_ip: int = 30
    window: timedelta = timedelta(minutes=15)

    @staticmethod
    def account_key(username: str) -> str:
        return f"login:account:{username}"

    @staticmethod
    def ip_key(ip: str) -> str:
        return f"login:ip:{ip}"

    def check(self, account: Hits, ip: Hits) -> None:
        """Counts include the attempt being made, so exactly `per_account` tries pass even when they race."""
        waits = []
        if account.count > self.per_account:
            waits.append(account.resets_in)
        if ip.count > self.per_ip:
            waits.append(ip.resets_in)
        if waits:
            raise LoginThrottled(max(waits))
