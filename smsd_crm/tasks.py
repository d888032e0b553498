"""Background tasks that plugins start (``ctx.spawn``), owned by the daemon and stopped with it; and
the process's event loop (:func:`run_loop`), which exits even when a task refuses to stop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Coroutine, TypeVar

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")


class Escaped(Exception):
    """A task of a plugin's (a hook, a background job) raised SystemExit or KeyboardInterrupt, which
    asyncio lets out of the event loop: here it ends that task only, never the daemon."""

    def __init__(self, raised: BaseException) -> None:
        super().__init__(f"{type(raised).__name__}: {raised}")
        self.raised = raised


async def contained(awaitable: Any) -> Any:
    """Await ``awaitable``; SystemExit or KeyboardInterrupt from it become :class:`Escaped`."""
    try:
        return await awaitable
    except (KeyboardInterrupt, SystemExit) as exc:
        raise Escaped(exc) from exc


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
        # A context of its own: started from a hook, it must not inherit the message's transaction,
        # send count or held events (it outlives them all).
        task = asyncio.get_running_loop().create_task(contained(coro), name=name, context=contextvars.Context())
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


def run_loop(main: Coroutine[Any, Any, T], *, grace: float = 2.0) -> T:
    """``asyncio.run(main)``, except that the tasks still running when ``main`` ends are cancelled and
    given ``grace`` seconds, then left (logged): a plugin's hook that swallows its cancellation cannot
    keep the process from exiting (``asyncio.run`` would wait for it forever)."""
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(main)
    finally:
        try:
            pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                _, stuck = loop.run_until_complete(asyncio.wait(pending, timeout=grace))
                for task in stuck:
                    LOGGER.error("%s did not stop within %g s of being cancelled; exiting without it",
                                 task.get_name(), grace)
                    task._log_destroy_pending = False  # type: ignore[attr-defined]  # said above, once
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(asyncio.wait([loop.create_task(loop.shutdown_default_executor())], timeout=grace))
        finally:
            asyncio.set_event_loop(None)
            loop.close()
