"""Counters for the embedded default: one process, so a dict and the clock are enough."""

from __future__ import annotations

from datetime import timedelta

from domain.ports import Clock, Hits


class MemoryCounters:
    PRUNE_AT = 100_000

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._prune_at = self.PRUNE_AT

    async def add(self, key: str, amount: int, window: timedelta) -> Hits:
        # No await between read and write: atomic with respect to other tasks on this loop.
        now = self._clock.now().timestamp()
        count, ends = self._windows.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window.total_seconds()
        count += amount
        self._windows[key] = (count, ends)
        if len(self._windows) > self._prune_at:
            # Expired windows go; the next prune waits until the dict has doubled, so its cost is amortised.
            self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
            self._prune_at = max(self.PRUNE_AT, 2 * len(self._windows))
        return Hits(count, timedelta(seconds=ends - now))

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)
