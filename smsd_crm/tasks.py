"""Background tasks that plugins start (``ctx.spawn``), owned by the daemon and stopped with it."""

from __future__ import annotations

import asyncio
import logging
from typing import Coroutine

LOGGER = logging.getLogger(__name__)


class BackgroundTasks:
    """Owns every task a plugin starts: a crash is logged, and ``aclose`` cancels and awaits them all."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self._closed = False

    def spawn(self, coro: Coroutine, name: str) -> asyncio.Task:
        """Run ``coro`` until it ends or the daemon stops."""
        if self._closed:
            coro.close()
            raise RuntimeError("the daemon is stopping: no new background tasks")
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            LOGGER.error("background task %s crashed", task.get_name(), exc_info=task.exception())

    async def aclose(self, timeout: float = 5.0) -> None:
        """Cancel every task and wait (bounded) for them to finish."""
        self._closed = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
