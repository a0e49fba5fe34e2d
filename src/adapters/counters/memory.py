"""Counters for the embedded default: one process, so a dict and the clock are enough."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from domain.ports import Clock, Hits, Tally


@dataclass(slots=True)
class _Events:
    """One key's events within its sliding window, oldest first, and the sum of their amounts."""

    window: timedelta
    events: deque[tuple[datetime, int]] = field(default_factory=deque)
    total: int = 0


class MemoryCounters:
    PRUNE_AT = 100_000

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, float]] = {}
        self._prune_at = self.PRUNE_AT
        self._sliding: dict[str, _Events] = {}
        self._sliding_prune_at = self.PRUNE_AT

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

    async def slide(self, key: str, amount: int, window: timedelta) -> Tally:
        if window < timedelta(milliseconds=1):
            raise ValueError("a sliding window must be at least a millisecond")
        # No await anywhere: atomic with respect to other tasks on this loop.
        now = self._clock.now()
        kept = self._sliding.get(key)
        if kept is None:
            kept = self._sliding[key] = _Events(window)
        kept.window = window
        horizon = now - window
        while kept.events and kept.events[0][0] <= horizon:  # each event leaves once: amortised O(1)
            kept.total -= kept.events.popleft()[1]
        kept.events.append((now, amount))
        kept.total += amount
        tally = Tally(len(kept.events), kept.total)
        if len(self._sliding) > self._sliding_prune_at:
            # Keys whose newest event has left their window go; as in `add`, the next prune waits for doubling.
            self._sliding = {k: e for k, e in self._sliding.items() if e.events[-1][0] > now - e.window}
            self._sliding_prune_at = max(self.PRUNE_AT, 2 * len(self._sliding))
        return tally
