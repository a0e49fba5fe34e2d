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

    @staticmethod
    def confirm_key(username: str) -> str:
        """Password re-entry (before an export) counts apart from logins: a login flood cannot block it."""
        return f"confirm:account:{username}"

    def check_address(self, hits: Hits) -> None:
        _check(hits, self.per_ip)

    def check_account(self, hits: Hits) -> None:
        _check(hits, self.per_account)

    @staticmethod
    def newly_refused(hits: Hits, limit: int) -> bool:
        """The first refused attempt of a window: the one worth an audit line (a flood writes just one)."""
        return hits.count == limit + 1


def _check(hits: Hits, limit: int) -> None:
    """Counts include the attempt being made, so exactly `limit` tries pass even when they race."""
    if hits.count > limit:
        raise LoginThrottled(hits.resets_in)
