"""Bot challenges with ALTCHA (proof of work v2): issued signed, solved by the buyer's browser, redeemed once.

Challenges are deterministic: the server picks the counter the browser must find (below `max_number`),
so the work is bounded, and signs the derived key, so checking a solution is two HMACs, never a derivation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from typing import Any

import altcha

from domain.ports import Clock, Counters

ALGORITHM = "PBKDF2/SHA-256"  # bundled with the widget as a worker; WebCrypto runs it natively in every browser
COST = 5_000  # PBKDF2 iterations per counter tried: about 1 ms on one core of a laptop
MAX_PAYLOAD = 4_096  # a widget's payload is about 700 characters; anything far longer is not one
CLOCK_SKEW = timedelta(minutes=1)  # processes' clocks may differ a little; a redeemed signature outlives the challenge


class AltchaChallenges:
    """`BotChallenges` with the `altcha` library. Redeemed challenges are remembered in the shared `Counters`,
    so a replayed solution fails in every web process (Redis) until the challenge has expired anyway."""

    def __init__(
        self,
        secret_key: str,
        counters: Counters,
        clock: Clock,
        *,
        max_number: int,
        expires_in: timedelta = timedelta(minutes=10),
    ) -> None:
        if not 1 <= max_number <= 0xFFFFFFFF:
            raise ValueError("max_number must be between 1 and 2**32 - 1 (the counter is a uint32)")
        # Keys of their own, derived from the app's secret: neither is the session-signing key itself.
        self._challenge_key = _derive(secret_key, "altcha-challenge")
        self._solution_key = _derive(secret_key, "altcha-solution")
        self._counters = counters
        self._clock = clock
        self._max_number = max_number
        self._expires_in = expires_in

    def issue(self) -> dict[str, Any]:
        challenge = altcha.create_challenge(
            ALGORITHM,
            COST,
            counter=secrets.randbelow(self._max_number),
            expires_at=self._clock.now() + self._expires_in,
            hmac_secret=self._challenge_key,
            hmac_key_secret=self._solution_key,
        )
        return challenge.to_dict()

    async def redeem(self, payload: str) -> bool:
        if not payload or len(payload) > MAX_PAYLOAD:
            return False
        # Checks the signature over the challenge (so nothing in it was changed) and the derived key's signature.
        result = altcha.verify_solution(payload, self._challenge_key, hmac_key_secret=self._solution_key)
        if not result.verified:
            return False
        challenge = altcha.Payload.from_base64(payload).challenge
        # altcha checks expiry against the system time; ours is the clock's, like every other deadline here.
        expires_at = challenge.parameters.expires_at
        if expires_at is None or expires_at <= self._clock.now().timestamp():
            return False
        hits = await self._counters.add(f"altcha:{challenge.signature}", 1, self._expires_in + CLOCK_SKEW)
        return hits.count == 1


def _derive(secret_key: str, purpose: str) -> str:
    return hmac.new(secret_key.encode(), purpose.encode(), hashlib.sha256).hexdigest()
