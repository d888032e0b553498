"""How late the daemon's event loop wakes up: anything that blocks the loop delays every reply.

A probe sleeps a short interval over and over and records how much later than asked it woke. The
lag is measured from the moment the sleep should have ended, so it is exactly the time the loop was
busy elsewhere when the probe was due: a block of the loop that covers that moment shows up, also
one shorter than the interval. A block that ends before the probe is due is not seen; one longer
than the interval always covers a wake-up. Standard library only; the daemon runs it
(``daemon.py``) and ``status.py`` publishes it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable, Sequence

INTERVAL = 0.1  # seconds between wake-ups: catches any stall over 0.1 s; ten wake-ups a second cost nothing
WINDOW = 60.0  # seconds of samples kept: "the last minute" operators are shown


@dataclass(frozen=True)
class LagSummary:
    """The lags of one window: ``max`` and ``p99`` in seconds, ``samples`` how many were taken."""

    max: float
    p99: float
    samples: int


def summarize(lags: Sequence[float]) -> LagSummary:
    """The largest lag and the 99th percentile (nearest rank) of ``lags`` (seconds); 0.0 for none (pure)."""
    if not lags:
        return LagSummary(0.0, 0.0, 0)
    ordered = sorted(lags)
    # Nearest rank: the smallest lag that at least 99 % of the samples do not exceed; always one
    # that was measured, never an interpolation between two. Rank ceil(99 n / 100), in integers.
    rank = -(-99 * len(ordered) // 100)
    return LagSummary(ordered[-1], ordered[rank - 1], len(ordered))


class LoopLag:
    """The probe: run :meth:`run` as a task owned by the caller; read the last ``window`` at any time."""

    def __init__(self, interval: float = INTERVAL, window: float = WINDOW,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``interval`` and ``window`` in seconds; ``clock`` monotonic seconds (the loop's own by default)."""
        self.interval = interval
        self.window = window
        self._clock = clock
        self._samples: deque[tuple[float, float]] = deque()  # (when, lag) in seconds, oldest first

    async def run(self) -> None:
        """Sample until cancelled."""
        while True:
            due = self._clock() + self.interval
            await asyncio.sleep(self.interval)
            now = self._clock()
            # A timer may fire a clock tick early: that is no lag.
            self.record(now, max(0.0, now - due))

    def record(self, at: float, lag: float) -> None:
        """Keep ``lag`` (seconds) measured at ``at`` (clock seconds); forget what left the window."""
        self._samples.append((at, lag))
        self._forget(at)

    def summary(self) -> LagSummary:
        """max, p99 and count of the lags of the last ``window`` seconds, from one reading."""
        self._forget(self._clock())
        return summarize([lag for _, lag in self._samples])

    def max(self) -> float:
        """The largest lag of the last ``window`` seconds, in seconds (0.0 with no samples)."""
        return self.summary().max

    def p99(self) -> float:
        """The 99th percentile (nearest rank) of the last ``window`` seconds, in seconds (0.0 with none)."""
        return self.summary().p99

    @property
    def samples(self) -> int:
        """How many lags the last ``window`` seconds hold."""
        self._forget(self._clock())
        return len(self._samples)

    def _forget(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window:
            self._samples.popleft()
